import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Privilege } from '../../authz/privileges.js';
import type { RoleStore } from '../../authz/role-store.js';
import { isAccessToken, type AccessTokens } from '../../identity/access-tokens.js';
import type { Session, Sessions } from '../../identity/sessions.js';
import { setCaller, type Caller } from './caller.js';
import { ApiError } from './errors.js';
import { SELF, type Authorizer } from './route.js';

/** What the authorizer needs to know about a user. */
export interface AuthUser {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
  readonly primaryGid: number;
  readonly sid: string;
}

export interface AuthorizerDependencies {
  readonly sessions: Sessions;
  readonly accessTokens: AccessTokens;
  readonly roles: RoleStore;
  readonly findUser: (id: string) => Promise<AuthUser | undefined>;
  /** Supplementary gids of a user (its groups); its primary gid comes first in the principal. */
  readonly groupsOf: (userId: string) => Promise<readonly number[]>;
  readonly logger: Logger;
}

const BEARER = /^Bearer ([\x21-\x7e]{1,1024})$/;

function unauthorized(description = 'authentication required: send Authorization: Bearer <token> from POST /v1/session/login'): ApiError {
  return new ApiError(401, 'http_unauthorized_error', description);
}

/**
 * Resolves the caller of every non-public route from its bearer token (a session or an access
 * token), builds its file-system principal and privileges (roles of the user and of its groups,
 * read fresh on each request so a revoked role or deleted user loses access at once), and checks
 * the route's privilege: 401 without a valid credential, 403 without the privilege. A session
 * limited to MFA enrolment reaches SELF routes only.
 */
export function createAuthorizer(deps: AuthorizerDependencies): Authorizer {
  return async (request: FastifyRequest, privilege: string) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (match === null) throw unauthorized();
    const bearer = match[1] as string;
    let userId: string;
    let credentialId: string;
    let authenticatedBy: Caller['authenticatedBy'];
    let session: Session | undefined;
    if (isAccessToken(bearer)) {
      const token = await deps.accessTokens.verify(bearer);
      if (token === undefined) throw unauthorized('the access token is invalid, expired or revoked');
      userId = token.userId;
      credentialId = token.id;
      authenticatedBy = 'access-token';
    } else {
      session = await deps.sessions.verify(bearer);
      if (session === undefined) throw unauthorized('the session is invalid, expired or ended');
      userId = session.userId;
      credentialId = session.id;
      authenticatedBy = 'session';
    }
    const user = await deps.findUser(userId);
    if (user === undefined) throw unauthorized('the user no longer exists');
    const groups = await deps.groupsOf(user.id);
    const gids = [user.primaryGid, ...groups.filter((gid) => gid !== user.primaryGid)];
    const privileges = await deps.roles.privilegesOf(user.id, gids);
    const caller: Caller = {
      userId: user.id,
      name: user.name,
      principal: { uid: user.uid, gids, sid: user.sid, name: user.name },
      privileges,
      authenticatedBy,
      credentialId,
    };
    setCaller(request, caller);
    if (privilege === SELF) return;
    if (session?.scope === 'mfa-enrolment') {
      throw new ApiError(403, 'mfa_enrolment_required_error', 'multi-factor authentication is required: enrol a second factor (POST /v1/session/mfa/enroll), then log in again');
    }
    if (!privileges.has(privilege as Privilege)) {
      throw new ApiError(403, 'http_forbidden_error', `this needs the privilege ${privilege}`);
    }
  };
}
