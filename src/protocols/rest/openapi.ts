import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';
import type { ApiApp } from './route.js';
import type { VersionInfo } from './routes/version.js';

/**
 * The OpenAPI 3 document is generated from the route schemas (`GET /openapi.json`, no
 * authentication, as CONTRACT.md says) and browsable at `/docs`. Every answer that has a schema
 * for its status is checked against it before it is sent: an answer that does not match is a
 * bug, logged and turned into a 500, never sent half-right. It is then written as it is
 * (server.ts): a field the schema does not list is sent, not dropped.
 */
export async function registerOpenApi(app: ApiApp, version: VersionInfo): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Enclave management API', version: version.version, description: 'HTTPS REST API of Enclave. Authenticate with POST /v1/session/login, then send Authorization: Bearer <token>.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.addHook('preSerialization', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const schema = (request.routeOptions.schema?.response as Record<string, TSchema> | undefined)?.[String(reply.statusCode)];
    // A binaryAnswer (bytes, text) is streamed or sent as text and never reaches this hook.
    if (schema === undefined || 'content' in schema) return payload;
    if (Value.Check(schema, payload)) return payload;
    const errors = [...Value.Errors(schema, payload)].slice(0, 3).map((error) => `${error.instancePath} ${error.message}`);
    request.log.error({ url: request.url, errors }, 'answer does not match its response schema');
    reply.code(500);
    return { error_class: 'internal_error', description: 'internal error' };
  });
}
