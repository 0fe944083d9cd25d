import { FsError } from './errors.js';
import { NAME_BYTES_MAX, PATH_BYTES_MAX, SYMLINK_TARGET_BYTES_MAX } from './file-system.js';

/**
 * Names are UTF-8 (well-formed: no lone surrogates), 1 to 255 bytes, without `/` or NUL, and not
 * `.` or `..`. Every protocol's names pass through here, so the rule holds everywhere at once.
 */
export function validateName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new FsError('InvalidName', 'a name cannot be empty');
  if (name === '.' || name === '..') throw new FsError('InvalidName', `"${name}" cannot be used as a name`);
  if (name.includes('/')) throw new FsError('InvalidName', 'a name cannot contain "/"');
  if (name.includes('\0')) throw new FsError('InvalidName', 'a name cannot contain NUL');
  if (!name.isWellFormed()) throw new FsError('InvalidName', 'a name must be valid Unicode');
  if (Buffer.byteLength(name, 'utf8') > NAME_BYTES_MAX) {
    throw new FsError('NameTooLong', `a name is at most ${NAME_BYTES_MAX} bytes of UTF-8`);
  }
  return name;
}

export function validateSymlinkTarget(target: string): string {
  if (typeof target !== 'string' || target.length === 0) throw new FsError('InvalidArgument', 'a symlink target cannot be empty');
  if (target.includes('\0')) throw new FsError('InvalidArgument', 'a symlink target cannot contain NUL');
  if (!target.isWellFormed()) throw new FsError('InvalidArgument', 'a symlink target must be valid Unicode');
  if (Buffer.byteLength(target, 'utf8') > SYMLINK_TARGET_BYTES_MAX) {
    throw new FsError('NameTooLong', `a symlink target is at most ${SYMLINK_TARGET_BYTES_MAX} bytes`);
  }
  return target;
}

/**
 * The key for case-insensitive lookups (SMB). Windows compares names with an upper-case table
 * and no normalisation; full Unicode upper-casing is the closest portable rule.
 */
export function foldName(name: string): string {
  return name.toUpperCase();
}

/**
 * Splits a path into its names. `.` and empty segments (`a//b`, a trailing `/`) are dropped;
 * `..` is kept for the resolver, which never climbs above its root.
 */
export function splitPath(path: string): { absolute: boolean; names: string[] } {
  if (typeof path !== 'string') throw new FsError('InvalidArgument', 'a path must be a string');
  if (path.includes('\0')) throw new FsError('InvalidName', 'a path cannot contain NUL');
  if (Buffer.byteLength(path, 'utf8') > PATH_BYTES_MAX) {
    throw new FsError('NameTooLong', `a path is at most ${PATH_BYTES_MAX} bytes of UTF-8`);
  }
  const names = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  for (const name of names) if (name !== '..') validateName(name);
  return { absolute: path.startsWith('/'), names };
}

/** `.snapshot` is the virtual snapshot directory in every directory: no real entry may take it. */
export function validateNewName(name: string): string {
  validateName(name);
  if (name === '.snapshot') throw new FsError('InvalidName', '".snapshot" is reserved for the snapshot directory');
  return name;
}
