import Type from 'typebox';
import { evaluatePosture, type PostureInputs } from '../../../ops/posture.js';
import type { ApiRoute } from '../route.js';

export interface PostureRoutesDeps {
  readonly posture: PostureInputs;
}

const PostureSchema = Type.Object({
  checks: Type.Array(
    Type.Object({
      id: Type.String(),
      title: Type.String(),
      status: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('not_applicable'), Type.Literal('not_available')]),
      fix: Type.String({ description: 'What to do; for a passing check, what keeps it passing.' }),
      detail: Type.String({ description: 'What was found.' }),
    }),
  ),
  summary: Type.Object({ pass: Type.Integer(), fail: Type.Integer(), not_applicable: Type.Integer(), not_available: Type.Integer(), total: Type.Integer() }),
});

export function postureRoutes(deps: PostureRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/security/posture',
      privilege: 'SECURITY_READ',
      summary: 'The white paper\'s security checklist evaluated against the live configuration: each check with pass, fail, not_applicable or not_available, and what to do.',
      schema: { response: { 200: PostureSchema } },
      handler: async () => evaluatePosture(deps.posture),
    },
  ];
}
