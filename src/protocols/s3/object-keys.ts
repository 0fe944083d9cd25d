import { S3Error } from './errors.js';

/**
 * Object keys as paths under the bucket root. S3 allows any UTF-8 key up to 1,024 bytes; a key
 * served from a file system must also be a path: no empty segments (`a//b`, a leading `/`), no
 * `.` or `..` segments, no NUL, segments of at most 255 bytes. A key ending in `/` names a
 * directory (a "folder" marker of zero bytes). Names starting `.enclave-` are reserved for staging.
 */
export const KEY_BYTES_MAX = 1_024;
export const SEGMENT_BYTES_MAX = 255;
export const RESERVED_PREFIX = '.enclave-';

export interface ObjectKey {
  readonly key: string;
  /** Path segments; the last is the object's name (for a folder key, the folder's). */
  readonly segments: readonly string[];
  readonly folder: boolean;
}

export function parseObjectKey(key: string): ObjectKey {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0) throw new S3Error('InvalidArgument', 'The object key must not be empty');
  if (bytes > KEY_BYTES_MAX) throw new S3Error('KeyTooLongError', undefined, { MaxSizeAllowed: String(KEY_BYTES_MAX), Size: String(bytes) });
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'The object key must not contain NUL');
  if (/[\uD800-\uDFFF]/.test(key) && Buffer.from(key, 'utf8').toString('utf8') !== key) throw new S3Error('InvalidArgument', 'The object key is not valid UTF-8');
  const folder = key.endsWith('/');
  const segments = (folder ? key.slice(0, -1) : key).split('/');
  for (const segment of segments) {
    if (segment === '') throw new S3Error('InvalidArgument', `The object key ${JSON.stringify(key)} has an empty path segment (a leading "/" or "//"); keys here are paths`);
    if (segment === '.' || segment === '..') throw new S3Error('InvalidArgument', `The object key ${JSON.stringify(key)} has a "." or ".." segment; keys here are paths`);
    if (Buffer.byteLength(segment, 'utf8') > SEGMENT_BYTES_MAX) throw new S3Error('KeyTooLongError', `A segment of the object key is longer than ${SEGMENT_BYTES_MAX} bytes`);
    if (segment.startsWith(RESERVED_PREFIX)) throw new S3Error('InvalidArgument', `Key segments starting with ${RESERVED_PREFIX} are reserved`);
  }
  return { key, segments, folder };
}

/** S3 key order: by UTF-8 bytes (JavaScript's < compares UTF-16 units, which differs above U+FFFF). */
export function compareKeys(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}
