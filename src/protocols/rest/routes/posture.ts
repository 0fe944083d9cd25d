import { evaluatePosture, type PostureInputs } from '../../../ops/posture.js';
import type { ApiRoute } from '../route.js';

export interface PostureRoutesDeps {
  readonly posture: PostureInputs;
}

export function postureRoutes(deps: PostureRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/security/posture',
      privilege: 'SECURITY_READ',
      summary: 'The white paper\'s security checklist evaluated against the live configuration: each check with pass, fail, not_applicable or not_available, and what to do.',
      handler: async () => evaluatePosture(deps.posture),
    },
  ];
}
