import type { FastifyRequest } from 'fastify';
import type { Privilege } from '../../authz/privileges.js';
import type { Principal } from '../../core/context.js';
import { ApiError } from './errors.js';

/**
 * Who is calling the management API, resolved once per request by the authorizer from the bearer
 * token (a session or an access token). Routes read it with `callerOf`; nothing else does.
 */
export interface Caller {
  readonly userId: string;
  readonly name: string;
  /** The file-system identity: ACLs apply to API file access exactly as to any protocol. */
  readonly principal: Principal;
  readonly privileges: ReadonlySet<Privilege>;
  readonly authenticatedBy: 'session' | 'access-token';
  /** The session or access token id (never the secret). */
  readonly credentialId: string;
}

const callers = new WeakMap<FastifyRequest, Caller>();

export function setCaller(request: FastifyRequest, caller: Caller): void {
  callers.set(request, caller);
}

/** The authenticated caller; 401 if the route was reached without one (a wiring bug). */
export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (caller === undefined) throw new ApiError(401, 'http_unauthorized_error', 'authentication required');
  return caller;
}

export function hasPrivilege(caller: Caller, privilege: Privilege): boolean {
  return caller.privileges.has(privilege);
}

/** The caller if the request was authenticated (public routes and failed checks have none). */
export function callerIfAny(request: FastifyRequest): Caller | undefined {
  return callers.get(request);
}
