import { Right } from '../acl/acl.js';
import { adjustForSize } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { requireLive, toAttributes, touched, type Engine } from '../engine.js';
import { FILE_BYTES_MAX, READ_BYTES_MAX, WRITE_BYTES_MAX, type NodeHandle, type ReadResult, type WriteResult } from '../file-system.js';
import { hasAccess } from '../permissions.js';
import type { InodeRecord } from '../records.js';
import { withoutContentXattrs } from '../namespace/xattrs.js';
import { isChunkNotFound } from './file-data.js';

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError('InvalidArgument', 'an offset is a non-negative integer');
}

function requireFile(record: InodeRecord): void {
  if (record.type === 'directory') throw new FsError('IsADirectory', 'cannot read or write a directory as a file');
  if (record.type !== 'file') throw new FsError('InvalidArgument', 'not a regular file');
}

/** Writing needs WRITE_DATA, or APPEND_DATA alone when the write starts at or after the end. */
function requireWrite(ctx: OpContext, record: InodeRecord, offset: number): void {
  if (hasAccess(ctx, record, Right.WRITE_DATA)) return;
  if (offset >= record.size && hasAccess(ctx, record, Right.APPEND_DATA)) return;
  throw new FsError('PermissionDenied', 'write: WRITE_DATA is not granted');
}

/**
 * Reads up to `length` bytes at `offset`; holes read as zeros; a read past the end returns fewer
 * bytes (or none) with `eof`. If a concurrent overwrite lets the garbage collector reclaim a chunk
 * between planning and fetching (a narrow window: the collector waits before deleting), the read
 * is planned again once. A read that continues the previous read of the file also plans the next
 * part of the file in the same transaction and starts fetching it (read-ahead.ts).
 */
export async function readFile(engine: Engine, ctx: OpContext, handle: NodeHandle, request: { offset: number; length: number }): Promise<ReadResult> {
  checkOffset(request.offset);
  if (!Number.isSafeInteger(request.length) || request.length < 0) throw new FsError('InvalidArgument', 'a length is a non-negative integer');
  if (request.length > READ_BYTES_MAX) throw new FsError('InvalidArgument', `a read is at most ${READ_BYTES_MAX} bytes`);
  const stream = `${handle.id}:${handle.generation}:${handle.snapshot ?? ''}`;
  for (let attempt = 0; ; attempt++) {
    const planned = await engine.inspect(ctx, handle, async (scope) => {
      const record = await scope.node(handle);
      requireFile(record);
      if (!hasAccess(ctx, record, Right.READ_DATA)) throw new FsError('PermissionDenied', 'read: READ_DATA is not granted');
      const length = Math.max(0, Math.min(request.length, record.size - request.offset));
      const plan = length === 0 ? [] : await engine.data.plan(scope.tx, handle.id, request.offset, length, scope.snapshotEpoch);
      const ahead = length === 0 ? undefined : engine.data.readAhead.advance(stream, request.offset, length, record.size);
      const aheadPlan = ahead === undefined ? [] : await engine.data.plan(scope.tx, handle.id, ahead.offset, ahead.length, scope.snapshotEpoch);
      return { plan, aheadPlan, length, eof: request.offset + length >= record.size, attributes: toAttributes(handle.id, record) };
    });
    try {
      const fetching = planned.length === 0 ? Promise.resolve(new Uint8Array(0)) : engine.data.fetch(planned.plan, planned.length);
      // Started after this read's own fetch, so its chunk reads queue first.
      if (planned.aheadPlan.length > 0) engine.data.prefetch(planned.aheadPlan);
      return { data: await fetching, eof: planned.eof, attributes: planned.attributes };
    } catch (error) {
      if (attempt === 0 && isChunkNotFound(error)) continue;
      throw error;
    }
  }
}

/**
 * Writes `data` at `offset`, durable when it resolves: the chunks are stored first, then one
 * transaction records the slices, the new size, the times and every aggregate above (where each
 * quota must still hold, or nothing changes and the write fails with QuotaExceeded).
 */
export async function writeFile(engine: Engine, ctx: OpContext, handle: NodeHandle, request: { offset: number; data: Uint8Array }): Promise<WriteResult> {
  requireLive(handle);
  const { offset, data } = request;
  checkOffset(offset);
  if (!(data instanceof Uint8Array)) throw new FsError('InvalidArgument', 'data must be bytes');
  if (data.length > WRITE_BYTES_MAX) throw new FsError('InvalidArgument', `a write is at most ${WRITE_BYTES_MAX} bytes`);
  if (offset + data.length > FILE_BYTES_MAX) throw new FsError('FileTooLarge', `a file is at most ${FILE_BYTES_MAX} bytes`);
  // Check before storing any chunk, so a refused write costs no data I/O (from the write cache
  // when it holds the node; the transaction below checks again authoritatively).
  const cached = engine.peekInode(handle.id);
  const before =
    cached !== undefined && cached.generation === handle.generation
      ? cached
      : await engine.inspect(ctx, handle, (scope) => scope.node(handle));
  requireFile(before);
  requireWrite(ctx, before, offset);
  if (data.length === 0) return { bytesWritten: 0, attributes: toAttributes(handle.id, before) };
  const staged = await engine.data.stage(offset, data);
  try {
    return await engine.mutate(ctx, async (scope) => {
      const record = await scope.node(handle);
      requireFile(record);
      requireWrite(ctx, record, offset);
      const coveredDelta = await engine.data.commit(scope, handle.id, staged);
      const size = Math.max(record.size, offset + data.length);
      await adjustForSize(scope, handle.id, record, size - record.size);
      const next = { ...withoutContentXattrs(touched(record, scope.nowNs, true)), size, allocatedBytes: record.allocatedBytes + coveredDelta };
      await scope.setInode(handle.id, next);
      return { bytesWritten: data.length, attributes: toAttributes(handle.id, next) };
    });
  } catch (error) {
    await engine.data.discard(staged);
    throw error;
  }
}
