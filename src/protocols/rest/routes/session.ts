import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { RoleStore } from '../../../authz/role-store.js';
import type { Sessions } from '../../../identity/sessions.js';
import type { AuthUser } from '../authorizer.js';
import { callerOf } from '../caller.js';
import { ApiError } from '../errors.js';
import { PUBLIC, SELF, type ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';

export type SecondFactorOutcome = 'ok' | 'missing' | 'invalid' | 'enrolment-required';

export interface LoginThrottleLike {
  /** Throws ApiError 429 while the user name or the address is locked out. */
  check(attempt: { user: string; address: string }): void;
  recordFailure(attempt: { user: string; address: string }): void;
  recordSuccess(attempt: { user: string; address: string }): void;
}

export interface SessionRouteDependencies {
  readonly sessions: Sessions;
  readonly roles: RoleStore;
  readonly verifyPassword: (name: string, password: string) => Promise<AuthUser | undefined>;
  readonly findUser: (id: string) => Promise<AuthUser | undefined>;
  readonly groupsOf: (userId: string) => Promise<readonly number[]>;
  /** Applies the password policy and stores the new password; throws ApiError 400 on refusal. */
  readonly setPassword: (user: AuthUser, password: string) => Promise<void>;
  readonly throttle: LoginThrottleLike;
  readonly secondFactor: (user: AuthUser, code: string | undefined) => Promise<SecondFactorOutcome>;
  /** What the login form shows before anyone signs in: the banner, when one is enabled. */
  readonly loginBanner: () => Promise<{ enabled: boolean; text: string }>;
}

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 256 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    totp: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    banner_acknowledged: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const LoginAnswer = Type.Object({
  bearer_token: Type.String(),
  expires_at: Type.String(),
  scope: Type.Union([Type.Literal('full'), Type.Literal('mfa-enrolment')]),
});

const LoginForm = Type.Object({
  banner: Type.Object({
    enabled: Type.Boolean(),
    text: Type.String({ description: 'Empty when no banner is enabled.' }),
  }),
  banner_acknowledgement_required: Type.Boolean({ description: 'When true, a login must send banner_acknowledged: true.' }),
});

const WhoAmI = Type.Object({
  id: Type.String(),
  name: Type.String(),
  uid: Type.Integer(),
  primary_gid: Type.Integer(),
  gids: Type.Array(Type.Integer()),
  sid: Type.String(),
  privileges: Type.Array(Type.String()),
  authenticated_by: Type.String(),
});

const ChangePasswordBody = Type.Object(
  { old_password: Type.String({ minLength: 1, maxLength: 1024 }), new_password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

const loginFailed = () => new ApiError(401, 'login_failed_error', 'the user name or password is wrong');

/**
 * Sessions: login (PUBLIC: GET says what the login form needs, POST logs in), logout, who-am-i and
 * change-password (SELF: any signed-in user, also one without any role). Failed logins are
 * throttled per user name and per client address and never say whether the user exists.
 */
export function sessionRoutes(deps: SessionRouteDependencies): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/session/login',
      privilege: PUBLIC,
      summary: 'What a login form needs before anyone signs in: the login banner and whether it must be acknowledged.',
      schema: { response: { 200: LoginForm } },
      handler: async () => {
        const banner = await deps.loginBanner();
        return { banner, banner_acknowledgement_required: banner.enabled };
      },
    },
    {
      method: 'POST',
      url: '/v1/session/login',
      privilege: PUBLIC,
      summary: 'Log in with a user name, password and (when enrolled or required) a TOTP or recovery code; answers a bearer token.',
      schema: { body: LoginBody, response: { 200: LoginAnswer } },
      handler: async (request: FastifyRequest) => login(deps, request),
    },
    {
      method: 'POST',
      url: '/v1/session/logout',
      privilege: SELF,
      summary: 'End the calling session.',
      schema: { response: { 204: NoContent } },
      handler: async (request, reply) => {
        const caller = callerOf(request);
        if (caller.authenticatedBy !== 'session') throw new ApiError(400, 'not_a_session_error', 'an access token is revoked with DELETE /v1/auth/access-tokens/{id}, not logged out');
        await deps.sessions.revoke(caller.credentialId);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/session/who-am-i',
      privilege: SELF,
      summary: 'The calling user, their identities and privileges.',
      schema: { response: { 200: WhoAmI } },
      handler: async (request) => {
        const caller = callerOf(request);
        const user = await deps.findUser(caller.userId);
        if (user === undefined) throw new ApiError(401, 'http_unauthorized_error', 'the user no longer exists');
        return {
          id: user.id,
          name: user.name,
          uid: user.uid,
          primary_gid: user.primaryGid,
          gids: [...caller.principal.gids],
          sid: user.sid,
          privileges: [...caller.privileges].sort(),
          authenticated_by: caller.authenticatedBy,
        };
      },
    },
    {
      method: 'POST',
      url: '/v1/session/change-password',
      privilege: SELF,
      summary: "Change the calling user's password (the old one is required); other sessions of the user end.",
      schema: { body: ChangePasswordBody, response: { 204: NoContent } },
      handler: async (request, reply) => {
        const caller = callerOf(request);
        const body = request.body as { old_password: string; new_password: string };
        const address = request.ip;
        deps.throttle.check({ user: caller.name, address });
        const user = await deps.verifyPassword(caller.name, body.old_password);
        if (user === undefined || user.id !== caller.userId) {
          deps.throttle.recordFailure({ user: caller.name, address });
          throw new ApiError(403, 'login_failed_error', 'the old password is wrong');
        }
        await deps.setPassword(user, body.new_password);
        await deps.sessions.revokeAllOf(user.id, caller.authenticatedBy === 'session' ? caller.credentialId : undefined);
        return reply.code(204).send();
      },
    },
  ];
}

async function login(deps: SessionRouteDependencies, request: FastifyRequest): Promise<unknown> {
  const body = request.body as { username: string; password: string; totp?: string; banner_acknowledged?: boolean };
  const attempt = { user: body.username.toLowerCase(), address: request.ip };
  if ((await deps.loginBanner()).enabled && body.banner_acknowledged !== true) {
    throw new ApiError(400, 'login_banner_not_acknowledged_error', 'acknowledge the login banner (GET /v1/session/login) with banner_acknowledged: true');
  }
  deps.throttle.check(attempt);
  const user = await deps.verifyPassword(body.username, body.password);
  if (user === undefined) {
    deps.throttle.recordFailure(attempt);
    throw loginFailed();
  }
  const secondFactor = await deps.secondFactor(user, body.totp);
  if (secondFactor === 'missing') throw new ApiError(401, 'mfa_required_error', 'this user has a second factor: send its TOTP code (or a recovery code) as totp');
  if (secondFactor === 'invalid') {
    deps.throttle.recordFailure(attempt);
    throw new ApiError(401, 'login_failed_error', 'the second factor code is wrong or was already used');
  }
  deps.throttle.recordSuccess(attempt);
  const scope = secondFactor === 'enrolment-required' ? 'mfa-enrolment' : 'full';
  const { token, session } = await deps.sessions.create({ userId: user.id, scope, clientAddress: request.ip });
  request.log.info({ user: user.name, scope }, 'login');
  return { bearer_token: token, expires_at: new Date(session.expiresAtMs).toISOString(), scope };
}
