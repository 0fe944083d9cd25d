import { Right } from '../acl/acl.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { requireLive, toAttributes, touched, type Engine } from '../engine.js';
import { XATTR_NAME_BYTES_MAX, XATTRS_BYTES_MAX, type Attributes, type NodeHandle, type XattrChanges, type Xattrs } from '../file-system.js';
import { requireAccess } from '../permissions.js';
import type { InodeRecord } from '../records.js';

/**
 * Extended attributes live in the node's inode record (records.ts, `xattrs`, values base64), so
 * they are versioned with it (a snapshot keeps the values it saw), written in the same
 * transaction as any other change to the node, and gone when the node is.
 */

/**
 * Attributes named `content.*` describe the data (an S3 ETag and Content-Type, a checksum): any
 * change to the data (write, truncate or extend, copyRange into the file) removes them in the
 * same transaction, so they are never stale whichever protocol changed the data.
 */
export const CONTENT_XATTR_PREFIX = 'content.';

/** `record` without its `content.*` attributes (the data is changing). */
export function withoutContentXattrs(record: InodeRecord): InodeRecord {
  if (record.xattrs === undefined) return record;
  const names = Object.keys(record.xattrs);
  if (!names.some((name) => name.startsWith(CONTENT_XATTR_PREFIX))) return record;
  const kept = Object.fromEntries(Object.entries(record.xattrs).filter(([name]) => !name.startsWith(CONTENT_XATTR_PREFIX)));
  const { xattrs: _dropped, ...rest } = record;
  return Object.keys(kept).length === 0 ? rest : { ...rest, xattrs: kept };
}

/** Validates a name: UTF-8, 1-255 bytes, no NUL. */
export function validateXattrName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new FsError('InvalidArgument', 'an extended attribute name cannot be empty');
  if (name.includes('\0')) throw new FsError('InvalidArgument', 'an extended attribute name cannot contain NUL');
  if (Buffer.byteLength(name, 'utf8') > XATTR_NAME_BYTES_MAX) throw new FsError('NameTooLong', `an extended attribute name is at most ${XATTR_NAME_BYTES_MAX} bytes`);
}

function validateValue(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new FsError('InvalidArgument', `the value of extended attribute "${name}" must be bytes`);
}

/** The stored form of a whole set, checked against the limits; undefined for an empty set. */
export function encodeXattrs(xattrs: Xattrs): Record<string, string> | undefined {
  const stored: Record<string, string> = {};
  let bytes = 0;
  let count = 0;
  for (const [name, value] of Object.entries(xattrs)) {
    validateXattrName(name);
    validateValue(name, value);
    bytes += Buffer.byteLength(name, 'utf8') + value.length;
    stored[name] = Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64');
    count++;
  }
  if (bytes > XATTRS_BYTES_MAX) throw new FsError('NoSpace', `a node's extended attributes are at most ${XATTRS_BYTES_MAX} bytes of names and values`);
  return count === 0 ? undefined : stored;
}

export function decodeXattrs(record: InodeRecord): Xattrs {
  const decoded: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(record.xattrs ?? {})) decoded[name] = new Uint8Array(Buffer.from(value, 'base64'));
  return decoded;
}

/** `record` with `changes` applied (a value sets, null removes), within the limits. */
export function applyXattrChanges(record: InodeRecord, changes: XattrChanges): InodeRecord {
  const next: Record<string, Uint8Array> = { ...decodeXattrs(record) };
  for (const [name, value] of Object.entries(changes)) {
    validateXattrName(name);
    if (value === null) {
      delete next[name];
    } else {
      validateValue(name, value);
      next[name] = value;
    }
  }
  return withXattrs(record, next);
}

/** `record` with exactly `xattrs` (validated, encoded). */
export function withXattrs(record: InodeRecord, xattrs: Xattrs): InodeRecord {
  const stored = encodeXattrs(xattrs);
  const { xattrs: _previous, ...rest } = record;
  return stored === undefined ? rest : { ...rest, xattrs: stored };
}

export async function getXattrs(engine: Engine, ctx: OpContext, handle: NodeHandle): Promise<Xattrs> {
  return engine.inspect(ctx, handle, async (scope) => {
    const record = await scope.node(handle);
    requireAccess(ctx, record, Right.READ_NAMED_ATTRS, 'read extended attributes');
    return decodeXattrs(record);
  });
}

export async function setXattrs(engine: Engine, ctx: OpContext, handle: NodeHandle, changes: XattrChanges): Promise<Attributes> {
  requireLive(handle);
  if (changes === null || typeof changes !== 'object') throw new FsError('InvalidArgument', 'extended attribute changes must be an object');
  return engine.mutate(ctx, async (scope) => {
    const record = await scope.node(handle);
    requireAccess(ctx, record, Right.WRITE_NAMED_ATTRS, 'change extended attributes');
    const next = touched(applyXattrChanges(record, changes), scope.nowNs, false);
    await scope.setInode(handle.id, next);
    return toAttributes(handle.id, next);
  });
}
