/**
 * The one list of file-system error codes. Every protocol maps each code to its own status in a
 * complete `Record<FsErrorCode, ...>` table, so adding a code here breaks the build until every
 * protocol has decided what it means on its wire.
 */
export const FS_ERROR_CODES = [
  'NotFound',
  'Exists',
  'NotEmpty',
  'NotADirectory',
  'IsADirectory',
  'NotASymlink',
  'PermissionDenied',
  'ReadOnly',
  'QuotaExceeded',
  'NoSpace',
  'NameTooLong',
  'InvalidName',
  'InvalidArgument',
  'FileTooLarge',
  'TooManyLinks',
  'Stale',
  'Locked',
  'Conflict',
  'Unavailable',
  'Unsupported',
  'Cancelled',
  'Internal',
] as const;

export type FsErrorCode = (typeof FS_ERROR_CODES)[number];

/** An expected failure of a file-system operation. Anything else thrown from core is a bug. */
export class FsError extends Error {
  readonly code: FsErrorCode;

  constructor(code: FsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FsError';
    this.code = code;
  }
}

export function isFsError(error: unknown, code?: FsErrorCode): error is FsError {
  return error instanceof FsError && (code === undefined || error.code === code);
}

/** Throws `FsError` with `code` unless `condition` holds; for expected, user-caused failures. */
export function check(condition: unknown, code: FsErrorCode, message: string): asserts condition {
  if (!condition) throw new FsError(code, message);
}

/** Programmer errors: a broken invariant crashes loudly instead of being mapped to a status. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
