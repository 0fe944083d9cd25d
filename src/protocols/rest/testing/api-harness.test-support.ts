import { generate } from 'selfsigned';
import type { FastifyRequest } from 'fastify';
import { ALL_PRIVILEGES, type Privilege } from '../../../authz/privileges.js';
import type { Principal } from '../../../core/context.js';
import { createLogger } from '../../../ops/logger.js';
import { setCaller, type Caller } from '../caller.js';
import { ApiError } from '../errors.js';
import { SELF, type ApiApp, type ApiRoute, type Authorizer } from '../route.js';
import { createApiServer } from '../server.js';

/**
 * An API server for route tests, without sessions: a request names its caller with the header
 * `authorization: Bearer test:<name>`, one of the callers given here. The real authorizer
 * (sessions, access tokens, roles) has tests of its own; this one applies the same rule: 401
 * without a known caller, 403 without the route's privilege.
 */
export interface TestCaller {
  readonly name: string;
  readonly privileges: readonly Privilege[];
  readonly principal?: Principal;
}

export const TEST_ADMIN: TestCaller = { name: 'admin', privileges: ALL_PRIVILEGES, principal: { uid: 1000, gids: [100], name: 'admin' } };
export const TEST_NOBODY: TestCaller = { name: 'nobody', privileges: [], principal: { uid: 2001, gids: [100], name: 'nobody' } };

export function testAuthorizer(callers: readonly TestCaller[]): Authorizer {
  return async (request: FastifyRequest, privilege: string) => {
    const header = request.headers.authorization ?? '';
    const name = header.startsWith('Bearer test:') ? header.slice('Bearer test:'.length) : undefined;
    const found = callers.find((caller) => caller.name === name);
    if (found === undefined) throw new ApiError(401, 'http_unauthorized_error', 'authentication required');
    const caller: Caller = {
      userId: `user-${found.name}`,
      name: found.name,
      principal: found.principal ?? { uid: 3000, gids: [100], name: found.name },
      privileges: new Set(found.privileges),
      authenticatedBy: 'session',
      credentialId: `session-${found.name}`,
    };
    if (privilege !== SELF && !caller.privileges.has(privilege as Privilege)) {
      throw new ApiError(403, 'http_forbidden_error', `this needs the privilege ${privilege}`);
    }
    setCaller(request, caller);
  };
}

export async function openApiHarness(routes: readonly ApiRoute[], callers: readonly TestCaller[] = [TEST_ADMIN, TEST_NOBODY]): Promise<ApiApp> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  return createApiServer({
    tls: { certificate: pems.cert, privateKey: pems.private },
    logger: createLogger({ level: 'silent' }),
    version: { name: 'enclave', version: '0.0.0-test' },
    bodyBytesMax: 1024 * 1024,
    routes,
    authorize: testAuthorizer(callers),
  });
}

export function as(caller: TestCaller): { authorization: string } {
  return { authorization: `Bearer test:${caller.name}` };
}
