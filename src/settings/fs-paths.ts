import { FsError } from '../core/errors.js';

/** PATH_MAX on Linux; the core's own limits apply again when the path is used. */
export const SETTINGS_PATH_BYTES_MAX = 4_096;

/**
 * Checks a path stored in a settings record (a share's or export's fs_path, an export path, the
 * S3 base path): absolute, no NUL, at most 4096 bytes of UTF-8, no `.` or `..` segment. The path
 * is stored as given; whether it exists is checked by whoever serves it.
 */
export function checkAbsolutePath(path: string, field: string): void {
  if (!path.startsWith('/')) throw new FsError('InvalidArgument', `${field} must be an absolute path (start with "/")`);
  if (path.includes('\0')) throw new FsError('InvalidArgument', `${field} must not contain NUL`);
  if (Buffer.byteLength(path, 'utf8') > SETTINGS_PATH_BYTES_MAX) throw new FsError('NameTooLong', `${field} is longer than ${SETTINGS_PATH_BYTES_MAX} bytes`);
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) throw new FsError('InvalidArgument', `${field} must not have "." or ".." segments`);
}

/** The path without trailing slashes and with runs of slashes folded, for comparisons. */
export function canonicalPath(path: string): string {
  const folded = path.replace(/\/+/g, '/');
  return folded.length > 1 ? folded.replace(/\/$/, '') : folded;
}
