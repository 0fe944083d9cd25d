import { Right } from '../acl/acl.js';
import { adjustForSize } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { requireLive, toAttributes, touched, type Engine } from '../engine.js';
import { FILE_BYTES_MAX, type NodeHandle, type WriteResult } from '../file-system.js';
import { requireAccess } from '../permissions.js';
import { inodePrefix, segmentPrefix, type InodeRecord, type SegmentRecord, type Slice } from '../records.js';
import type { WriteScope } from '../scope.js';
import { readVersion } from '../versions.js';
import { withoutContentXattrs } from '../namespace/xattrs.js';
import { appendSlice, coveredBytes, resolveSlices, SEGMENT_BYTES, segmentsOf } from './segments.js';

/** One call copies at most this much (1 GiB = 1,024 segment records); callers loop for more. */
export const COPY_BYTES_MAX = 1024 * 1024 * 1024;

export interface CopyRangeRequest {
  /** A live file or a file in a snapshot (restoring from a snapshot is a copy). */
  readonly source: NodeHandle;
  readonly sourceOffset: number;
  readonly target: NodeHandle;
  readonly targetOffset: number;
  readonly length: number;
}

/**
 * Copies a byte range between files by sharing chunks: the target gets slices that point at the
 * source's chunks (their reference counts grow), no byte is read or written. Holes in the source
 * become zero slices in the target. The source is read inside the same transaction, so every
 * chunk it refers to is still referenced when the target takes its own reference. Used by S3
 * CopyObject and multipart completion, and to restore files from snapshots.
 */
export async function copyRange(engine: Engine, ctx: OpContext, request: CopyRangeRequest): Promise<WriteResult> {
  const { source, target, sourceOffset, targetOffset } = request;
  requireLive(target);
  for (const [name, value] of [['sourceOffset', sourceOffset], ['targetOffset', targetOffset], ['length', request.length]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new FsError('InvalidArgument', `${name} is a non-negative integer`);
  }
  if (request.length > COPY_BYTES_MAX) throw new FsError('InvalidArgument', `a copy is at most ${COPY_BYTES_MAX} bytes per call`);
  if (targetOffset + request.length > FILE_BYTES_MAX) throw new FsError('FileTooLarge', `a file is at most ${FILE_BYTES_MAX} bytes`);
  const sourceEpoch = source.snapshot === undefined ? undefined : engine.snapshots.get(source.snapshot)?.epoch;
  if (source.snapshot !== undefined && sourceEpoch === undefined) throw new FsError('Stale', `snapshot ${source.snapshot} no longer exists`);
  return engine.mutate(ctx, async (scope) => {
    const from = source.snapshot === undefined ? await scope.node(source) : (await readVersion<InodeRecord>(scope.tx, inodePrefix(source.id), sourceEpoch))?.record;
    if (from === undefined || from.generation !== source.generation) throw new FsError('Stale', `node ${source.id} no longer exists`);
    const to = await scope.node(target);
    if (from.type !== 'file' || to.type !== 'file') throw new FsError(from.type === 'directory' || to.type === 'directory' ? 'IsADirectory' : 'InvalidArgument', 'both ends of a copy are files');
    requireAccess(ctx, from, Right.READ_DATA, 'read the source');
    requireAccess(ctx, to, Right.WRITE_DATA, 'write the target');
    const length = Math.max(0, Math.min(request.length, from.size - sourceOffset));
    if (length === 0) return { bytesWritten: 0, attributes: toAttributes(target.id, to) };
    const bySegment = await targetSlices(scope, source.id, sourceEpoch, sourceOffset, targetOffset, length);
    let coveredDelta = 0;
    for (const [index, added] of bySegment) {
      const current = await readVersion<SegmentRecord>(scope.tx, segmentPrefix(target.id, index));
      let slices = current?.record.slices ?? [];
      for (const slice of added) slices = appendSlice(slices, slice);
      const record: SegmentRecord = { slices, coveredBytes: coveredBytes(slices) };
      coveredDelta += record.coveredBytes - (current?.record.coveredBytes ?? 0);
      await engine.data.replaceSegment(scope, target.id, index, current, record);
    }
    const size = Math.max(to.size, targetOffset + length);
    await adjustForSize(scope, target.id, to, size - to.size);
    const next = { ...withoutContentXattrs(touched(to, scope.nowNs, true)), size, allocatedBytes: to.allocatedBytes + coveredDelta };
    await scope.setInode(target.id, next);
    return { bytesWritten: length, attributes: toAttributes(target.id, next) };
  });
}

/** The slices the target gets, by target segment: the source's pieces moved to target offsets. */
async function targetSlices(scope: WriteScope, sourceId: number, sourceEpoch: number | undefined, sourceOffset: number, targetOffset: number, length: number): Promise<Map<number, Slice[]>> {
  const bySegment = new Map<number, Slice[]>();
  const add = (absoluteTarget: number, pieceLength: number, piece: { chunkId?: string; chunkOffset: number; inline?: boolean }): void => {
    for (const part of segmentsOf(absoluteTarget, pieceLength)) {
      const partLength = part.to - part.from;
      const slice: Slice =
        piece.chunkId === undefined
          ? { offset: part.from, length: partLength, chunkId: '', chunkOffset: 0, zero: true }
          : { offset: part.from, length: partLength, chunkId: piece.chunkId, chunkOffset: piece.chunkOffset + part.dataOffset, ...(piece.inline === true ? { inline: true as const } : {}) };
      bySegment.set(part.index, [...(bySegment.get(part.index) ?? []), slice]);
    }
  };
  for (const part of segmentsOf(sourceOffset, length)) {
    const version = await readVersion<SegmentRecord>(scope.tx, segmentPrefix(sourceId, part.index), sourceEpoch);
    for (const piece of resolveSlices(version?.record.slices ?? [], part.from, part.to)) {
      const absoluteSource = part.index * SEGMENT_BYTES + piece.offset;
      add(targetOffset + (absoluteSource - sourceOffset), piece.length, piece);
    }
  }
  return bySegment;
}


