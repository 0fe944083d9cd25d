import type { FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { MfaError, type Mfa, type MfaErrorCode, type MfaStatus } from '../../../identity/mfa.js';
import type { MfaPolicy } from '../../../identity/mfa-policy.js';
import { callerOf, type Caller } from '../caller.js';
import { ApiError } from '../errors.js';
import { SELF, type ApiRoute } from '../route.js';

/**
 * Native MFA. `/v1/session/mfa/...` are SELF routes, open to a user with no role: the second
 * factor is part of the login credential, like the password (change-password is SELF too). When
 * the instance requires MFA, a user without a factor gets a session that reaches only SELF routes
 * and must enrol and confirm here before a full login, so without them such a user could not log
 * in at all; recovery codes keep the factor usable, and disabling it is refused while MFA is
 * required. The policy and the administrator's reset need SECURITY_* and AUTH_WRITE.
 */
export interface MfaRoutesDeps {
  readonly mfa: Mfa;
  readonly policy: MfaPolicy;
  /** When given, resetting an unknown user id answers 404 instead of a no-op. */
  readonly userExists?: (userId: string) => Promise<boolean>;
}

/** Every MFA error's status and class; complete by type. */
export const MFA_ERROR_STATUS: Record<MfaErrorCode, { readonly status: number; readonly errorClass: string }> = {
  InvalidCode: { status: 400, errorClass: 'invalid_code_error' },
  Throttled: { status: 429, errorClass: 'mfa_throttled_error' },
  NotEnabled: { status: 409, errorClass: 'mfa_not_enabled_error' },
  AlreadyEnabled: { status: 409, errorClass: 'mfa_already_enabled_error' },
  NotPending: { status: 409, errorClass: 'mfa_not_pending_error' },
  RequiredByPolicy: { status: 409, errorClass: 'mfa_required_by_policy_error' },
};

const TOTP_CODE = Type.String({ pattern: '^[0-9]{6}$', description: 'A 6-digit code from the authenticator app.' });
const ANY_CODE = Type.String({
  pattern: '^(?:[0-9]{6}|[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4})$',
  description: 'A 6-digit code from the authenticator app, or an unused recovery code (xxxx-xxxx-xxxx).',
});
const TotpBody = Type.Object({ code: TOTP_CODE }, { additionalProperties: false });
const CodeBody = Type.Object({ code: ANY_CODE }, { additionalProperties: false });
const StatusSchema = Type.Object({ enabled: Type.Boolean(), pending: Type.Boolean(), recovery_codes_left: Type.Integer() });
const EnrolmentSchema = Type.Object({ otpauth_uri: Type.String(), secret_base32: Type.String() });
const RecoveryCodesSchema = Type.Object({ recovery_codes: Type.Array(Type.String()) });
const PolicySchema = Type.Object({ required: Type.Boolean() }, { additionalProperties: false });
const UserParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

type CodeRequest = Static<typeof CodeBody>;
type PolicyRequest = Static<typeof PolicySchema>;
type UserRequest = Static<typeof UserParams>;

export function mfaRoutes(deps: MfaRoutesDeps): ApiRoute[] {
  const { mfa, policy } = deps;
  return [
    {
      method: 'GET',
      url: '/v1/session/mfa',
      privilege: SELF,
      summary: 'Whether the caller has MFA enabled or an enrolment pending, and how many recovery codes are left.',
      schema: { response: { 200: StatusSchema } },
      handler: async (request) => statusBody(await mfa.status(callerOf(request).userId)),
    },
    {
      method: 'POST',
      url: '/v1/session/mfa/enroll',
      privilege: SELF,
      summary: 'Starts TOTP enrolment: a new secret as an otpauth:// URI (show it as a QR code). Replaces a pending enrolment.',
      schema: { response: { 200: EnrolmentSchema } },
      handler: async (request) => {
        const caller = sessionCaller(request);
        const enrolment = await mapMfaErrors(mfa.enroll({ userId: caller.userId, userName: caller.name }));
        return { otpauth_uri: enrolment.otpauthUri, secret_base32: enrolment.secretBase32 };
      },
    },
    {
      method: 'POST',
      url: '/v1/session/mfa/confirm',
      privilege: SELF,
      summary: 'Completes enrolment with a current code; answers the recovery codes, shown only this once.',
      schema: { body: TotpBody, response: { 200: RecoveryCodesSchema } },
      handler: async (request) => {
        const { code } = request.body as CodeRequest;
        const result = await mapMfaErrors(mfa.confirm({ userId: sessionCaller(request).userId, code }));
        return { recovery_codes: result.recoveryCodes };
      },
    },
    {
      method: 'POST',
      url: '/v1/session/mfa/disable',
      privilege: SELF,
      summary: 'Turns the caller\'s MFA off, given a current code or a recovery code. Refused while the instance requires MFA.',
      schema: { body: CodeBody, response: { 200: StatusSchema } },
      handler: async (request) => {
        const { code } = request.body as CodeRequest;
        const userId = sessionCaller(request).userId;
        await mapMfaErrors(mfa.disable({ userId, code }));
        return statusBody(await mfa.status(userId));
      },
    },
    {
      method: 'POST',
      url: '/v1/session/mfa/recovery-codes',
      privilege: SELF,
      summary: 'Replaces all the caller\'s recovery codes with new ones, given a current code or a recovery code.',
      schema: { body: CodeBody, response: { 200: RecoveryCodesSchema } },
      handler: async (request) => {
        const { code } = request.body as CodeRequest;
        const result = await mapMfaErrors(mfa.regenerateRecoveryCodes({ userId: sessionCaller(request).userId, code }));
        return { recovery_codes: result.recoveryCodes };
      },
    },
    {
      method: 'GET',
      url: '/v1/security/mfa-policy',
      privilege: 'SECURITY_READ',
      summary: 'Whether every management user (the built-in admin included) must use MFA.',
      schema: { response: { 200: PolicySchema } },
      handler: async () => ({ required: await policy.isRequired() }),
    },
    {
      method: 'PUT',
      url: '/v1/security/mfa-policy',
      privilege: 'SECURITY_WRITE',
      summary: 'Requires (or stops requiring) MFA for every management user; users without it must enrol at their next login.',
      schema: { body: PolicySchema, response: { 200: PolicySchema } },
      handler: async (request) => {
        const { required } = request.body as PolicyRequest;
        await policy.setRequired(required);
        return { required: await policy.isRequired() };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/users/:id/mfa',
      privilege: 'AUTH_WRITE',
      summary: 'Resets a user\'s MFA (for example a lost phone): removes the factor and its recovery codes.',
      schema: { params: UserParams, response: { 200: Type.Object({ removed: Type.Boolean() }) } },
      handler: async (request) => {
        const { id } = request.params as UserRequest;
        if (deps.userExists !== undefined && !(await deps.userExists(id))) {
          throw new ApiError(404, 'auth_no_such_user_error', `no user with id ${id}`);
        }
        return mfa.reset(id);
      },
    },
  ];
}

/**
 * The caller, when signed in with a password session. An access token is a script's credential:
 * letting it enrol a factor would let a leaked token lock its owner out, so changes need a session.
 */
function sessionCaller(request: FastifyRequest): Caller {
  const caller = callerOf(request);
  if (caller.authenticatedBy !== 'session') {
    throw new ApiError(403, 'http_forbidden_error', 'MFA can be changed only from a signed-in session, not with an access token');
  }
  return caller;
}

function statusBody(status: MfaStatus): { enabled: boolean; pending: boolean; recovery_codes_left: number } {
  return { enabled: status.enabled, pending: status.pending, recovery_codes_left: status.recoveryCodesLeft };
}

async function mapMfaErrors<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof MfaError) {
      const mapped = MFA_ERROR_STATUS[error.code];
      throw new ApiError(mapped.status, mapped.errorClass, error.message);
    }
    throw error;
  }
}
