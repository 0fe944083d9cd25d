import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FsError, type FsErrorCode } from '../../core/errors.js';
import { LoginLockedError } from '../../identity/login-throttle.js';
import { PASSWORD_POLICY_ERROR, PasswordPolicyError } from '../../identity/password-policy.js';

/** The one error body of the API: `{error_class, description}`, never a stack trace. */
export interface ApiErrorBody {
  readonly error_class: string;
  readonly description: string;
}

/** An expected API failure raised by a route (bad input, unauthenticated, forbidden). */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorClass: string,
    description: string,
  ) {
    super(description);
    this.name = 'ApiError';
  }
}

/**
 * Every core error code's HTTP status and error class. Complete by type, so a new code breaks
 * the build until the API decides what it means. Classes follow Qumulo's `fs_*_error` names.
 */
export const FS_ERROR_STATUS: Record<FsErrorCode, { readonly status: number; readonly errorClass: string }> = {
  NotFound: { status: 404, errorClass: 'fs_no_such_entry_error' },
  Exists: { status: 409, errorClass: 'fs_entry_exists_error' },
  NotEmpty: { status: 409, errorClass: 'fs_directory_not_empty_error' },
  NotADirectory: { status: 409, errorClass: 'fs_not_a_directory_error' },
  IsADirectory: { status: 409, errorClass: 'fs_is_a_directory_error' },
  NotASymlink: { status: 409, errorClass: 'fs_not_a_symlink_error' },
  PermissionDenied: { status: 403, errorClass: 'fs_access_denied_error' },
  ReadOnly: { status: 403, errorClass: 'fs_read_only_error' },
  QuotaExceeded: { status: 507, errorClass: 'fs_quota_no_space_error' },
  NoSpace: { status: 507, errorClass: 'fs_no_space_error' },
  NameTooLong: { status: 400, errorClass: 'fs_name_too_long_error' },
  InvalidName: { status: 400, errorClass: 'fs_invalid_name_error' },
  InvalidArgument: { status: 400, errorClass: 'fs_invalid_argument_error' },
  FileTooLarge: { status: 413, errorClass: 'fs_file_too_large_error' },
  TooManyLinks: { status: 409, errorClass: 'fs_too_many_links_error' },
  Stale: { status: 404, errorClass: 'fs_stale_handle_error' },
  Locked: { status: 423, errorClass: 'fs_locked_error' },
  Conflict: { status: 409, errorClass: 'fs_conflict_error' },
  Unavailable: { status: 503, errorClass: 'fs_unavailable_error' },
  Unsupported: { status: 501, errorClass: 'fs_unsupported_error' },
  Cancelled: { status: 499, errorClass: 'fs_cancelled_error' },
  Internal: { status: 500, errorClass: 'internal_error' },
};

/** Error classes for failures fastify itself raises (routing, parsing, limits, shutdown). */
const HTTP_ERROR_CLASS: Readonly<Record<number, string>> = {
  400: 'http_bad_request_error',
  401: 'http_unauthorized_error',
  403: 'http_forbidden_error',
  404: 'http_not_found_error',
  405: 'http_method_not_allowed_error',
  406: 'http_not_acceptable_error',
  408: 'http_request_timeout_error',
  413: 'http_payload_too_large_error',
  414: 'http_uri_too_long_error',
  415: 'http_unsupported_media_type_error',
  429: 'http_too_many_requests_error',
  431: 'http_request_header_fields_too_large_error',
  503: 'http_service_unavailable_error',
};

export function errorBody(errorClass: string, description: string): ApiErrorBody {
  return { error_class: errorClass, description };
}

/**
 * Maps anything thrown by a route to the error body. Expected errors keep their message; anything
 * else is a bug: logged with its stack under the request's id, answered 500 without details.
 */
export function sendError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Identity's own refusals, mapped here so identity/ does not depend on the API layer.
  if (error instanceof PasswordPolicyError) return reply.code(400).send(errorBody(PASSWORD_POLICY_ERROR, error.message));
  if (error instanceof LoginLockedError) {
    reply.header('retry-after', String(Math.ceil(error.retryAfterSeconds)));
    return reply.code(429).send(errorBody('login_locked_error', error.message));
  }
  if (error instanceof ApiError) {
    // Lockouts and throttles say when to come back (RFC 9110 §10.2.3).
    const retryAfterSeconds = (error as ApiError & { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfterSeconds === 'number') reply.header('retry-after', String(Math.ceil(retryAfterSeconds)));
    return reply.code(error.statusCode).send(errorBody(error.errorClass, error.message));
  }
  if (error instanceof FsError) {
    const mapped = FS_ERROR_STATUS[error.code];
    if (mapped.status >= 500) request.log.error({ err: error }, 'file-system error');
    return reply.code(mapped.status).send(errorBody(mapped.errorClass, error.message));
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return reply.code(400).send(errorBody('http_bad_request_error', fastifyError.message));
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && ((status >= 400 && status < 500) || status === 503)) {
    return reply.code(status).send(errorBody(HTTP_ERROR_CLASS[status] ?? 'http_client_error', fastifyError.message));
  }
  request.log.error({ err: error }, 'unexpected error in request');
  return reply.code(500).send(errorBody('internal_error', `internal error; the server log has details under request id ${request.id}`));
}
