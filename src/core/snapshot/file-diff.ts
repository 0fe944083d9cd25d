import type { ReadTransaction } from '../../storage/metadata/metadata-store.js';
import { KeyReader } from '../../storage/metadata/tuple.js';
import type { OpContext } from '../context.js';
import { resolveSlices, SEGMENT_BYTES, type Piece } from '../data/segments.js';
import type { Engine } from '../engine.js';
import { FsError } from '../errors.js';
import type { NodeHandle } from '../file-system.js';
import { isSuperuser } from '../permissions.js';
import { changeByRecordPrefix, inodePrefix, prefixEnd, segmentFilePrefix, segmentPrefix, type InodeRecord, type SegmentRecord } from '../records.js';
import { readVersion } from '../versions.js';

/** A changed byte range of a file; `hole`: the newer state has no data there (reads zeros). */
export interface FileRegion {
  readonly offset: number;
  readonly length: number;
  readonly hole?: true;
}

export interface FileRegionsPage {
  readonly regions: readonly FileRegion[];
  /** Absent on the last page. */
  readonly cursor?: string;
}

const LOG_PAGE = 5_000;
export const FILE_REGIONS_LIMIT_MAX = 10_000;

/**
 * The byte regions of one file that differ between an older snapshot and a newer one (or the live
 * tree). Uses the change log's by-record index: the file's segments changed between the two
 * epochs are exactly those with a log entry in (older, newer], found by one range scan over the
 * file's segment prefix; for each, the pieces the segment resolves to at both epochs are compared
 * (same chunk at the same chunk offset = same bytes). The cost grows with the changed segments of
 * this file, never with the file's size or the tree. Adjacent regions of the same kind merge; a
 * segment rewritten with the same bytes (or compacted) reports as changed: never less than what
 * changed. A size change adds [smaller, larger) as a hole (zeros, or bytes no longer there). Paginated by segment with an opaque cursor.
 */
export async function fileChangesSince(
  engine: Engine,
  ctx: OpContext,
  request: { file: NodeHandle; older: number; newer: number | 'live'; cursor?: string; limit?: number },
): Promise<FileRegionsPage> {
  if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', 'only an administrator may read snapshot differences');
  const limit = request.limit ?? 1_000;
  if (!Number.isInteger(limit) || limit < 1 || limit > FILE_REGIONS_LIMIT_MAX) throw new FsError('InvalidArgument', `limit must be between 1 and ${FILE_REGIONS_LIMIT_MAX}`);
  const older = engine.snapshots.get(request.older);
  if (older === undefined) throw new FsError('NotFound', `no snapshot ${request.older}`);
  const newer = request.newer === 'live' ? undefined : engine.snapshots.get(request.newer);
  if (request.newer !== 'live' && newer === undefined) throw new FsError('NotFound', `no snapshot ${request.newer}`);
  if (newer !== undefined && newer.epoch <= older.epoch) throw new FsError('InvalidArgument', 'the newer snapshot must be taken after the older one');
  const id = request.file.id;
  const newerEpoch = newer?.epoch;
  const afterIndex = request.cursor === undefined ? -1 : decodeCursor(request.cursor);
  return engine.metadata.read(async (tx) => {
    const after = await readVersion<InodeRecord>(tx, inodePrefix(id), newerEpoch);
    if (after === undefined || after.record.generation !== request.file.generation) throw new FsError('NotFound', 'the file does not exist in the newer state');
    if (after.record.type !== 'file') throw new FsError('IsADirectory', 'byte regions are for files');
    const before = await readVersion<InodeRecord>(tx, inodePrefix(id), older.epoch);
    const sameFile = before !== undefined && before.record.generation === after.record.generation;
    const oldSize = sameFile ? before.record.size : 0;
    const newSize = after.record.size;
    const maxSize = Math.max(oldSize, newSize);
    const regions: FileRegion[] = [];
    const push = (region: FileRegion): void => {
      const clippedEnd = Math.min(region.offset + region.length, maxSize);
      if (clippedEnd <= region.offset) return;
      const clipped: FileRegion = { ...region, length: clippedEnd - region.offset };
      const previous = regions.at(-1);
      if (previous !== undefined && previous.offset + previous.length === clipped.offset && previous.hole === clipped.hole) {
        regions[regions.length - 1] = { ...previous, length: previous.length + clipped.length };
      } else regions.push(clipped);
    };
    let segments = 0;
    let lastIndex = afterIndex;
    for await (const index of changedSegments(tx, id, sameFile ? older.epoch : 0, newerEpoch, afterIndex)) {
      const beforePieces = sameFile ? await piecesAt(tx, id, index, older.epoch) : hole();
      const afterPieces = await piecesAt(tx, id, index, newerEpoch);
      for (const region of differences(beforePieces, afterPieces)) push({ ...region, offset: index * SEGMENT_BYTES + region.offset });
      lastIndex = index;
      if (++segments === limit) return { regions, cursor: encodeCursor(lastIndex) };
    }
    // Bytes past the smaller size that no segment change covered (a truncate that extended or cut).
    if (oldSize !== newSize && afterIndex < Math.floor(maxSize / SEGMENT_BYTES)) {
      const from = Math.min(oldSize, newSize);
      const covered = regions.filter((region) => region.offset + region.length > from);
      let position = from;
      for (const region of covered) {
        if (region.offset > position) insertSorted(regions, { offset: position, length: region.offset - position, hole: true });
        position = Math.max(position, region.offset + region.length);
      }
      if (position < maxSize) insertSorted(regions, { offset: position, length: maxSize - position, hole: true });
    }
    return { regions: mergeAll(regions) };
  });
}

function insertSorted(regions: FileRegion[], region: FileRegion): void {
  regions.push(region);
  regions.sort((left, right) => left.offset - right.offset);
}

function mergeAll(regions: readonly FileRegion[]): FileRegion[] {
  const merged: FileRegion[] = [];
  for (const region of regions) {
    const previous = merged.at(-1);
    if (previous !== undefined && previous.offset + previous.length === region.offset && previous.hole === region.hole) merged[merged.length - 1] = { ...previous, length: previous.length + region.length };
    else merged.push(region);
  }
  return merged;
}

/**
 * Segment indexes of file `id` with a change-log entry in (fromEpoch, toEpoch] (to: live when
 * undefined), ascending. With fromEpoch 0 (the file is new since the older snapshot), every
 * segment alive at the newer epoch counts.
 */
async function* changedSegments(tx: ReadTransaction, id: number, fromEpoch: number, toEpoch: number | undefined, afterIndex: number): AsyncGenerator<number> {
  if (fromEpoch === 0) {
    // The whole file is new: every segment it has at the newer epoch.
    let start = afterIndex < 0 ? segmentFilePrefix(id) : prefixEnd(segmentPrefix(id, afterIndex));
    const end = prefixEnd(segmentFilePrefix(id));
    let previous = afterIndex;
    for (;;) {
      const page = await tx.scan({ start, end, limit: LOG_PAGE });
      for (const entry of page) {
        const reader = new KeyReader(entry.key.subarray(1));
        reader.uint();
        const index = reader.uint();
        if (index !== previous) {
          previous = index;
          yield index;
        }
      }
      const last = page.at(-1);
      if (page.length < LOG_PAGE || last === undefined) return;
      start = prefixEnd(last.key);
    }
  }
  const filePrefix = changeByRecordPrefix(segmentFilePrefix(id));
  let start = afterIndex < 0 ? filePrefix : prefixEnd(changeByRecordPrefix(segmentPrefix(id, afterIndex)));
  const end = prefixEnd(filePrefix);
  let yielded = afterIndex;
  for (;;) {
    const page = await tx.scan({ start, end, limit: LOG_PAGE });
    for (const entry of page) {
      const reader = new KeyReader(entry.key.subarray(2));
      reader.uint();
      const index = reader.uint();
      const epoch = reader.uint();
      if (index === yielded || epoch <= fromEpoch || (toEpoch !== undefined && epoch > toEpoch)) continue;
      yielded = index;
      yield index;
    }
    const last = page.at(-1);
    if (page.length < LOG_PAGE || last === undefined) return;
    start = prefixEnd(last.key);
  }
}

function hole(): Piece[] {
  return [{ offset: 0, length: SEGMENT_BYTES, chunkOffset: 0 }];
}

async function piecesAt(tx: ReadTransaction, id: number, index: number, epoch: number | undefined): Promise<Piece[]> {
  const version = await readVersion<SegmentRecord>(tx, segmentPrefix(id, index), epoch);
  return version === undefined ? hole() : resolveSlices(version.record.slices, 0, SEGMENT_BYTES);
}

/** Where two piece lists over [0, SEGMENT_BYTES) point at different bytes. */
function differences(before: readonly Piece[], after: readonly Piece[]): FileRegion[] {
  const cuts = new Set<number>([0, SEGMENT_BYTES]);
  for (const piece of [...before, ...after]) {
    cuts.add(piece.offset);
    cuts.add(piece.offset + piece.length);
  }
  const points = [...cuts].sort((left, right) => left - right);
  const at = (pieces: readonly Piece[], offset: number): { chunk: string; shift: number } => {
    const piece = pieces.find((candidate) => candidate.offset <= offset && offset < candidate.offset + candidate.length);
    if (piece?.chunkId === undefined) return { chunk: '', shift: 0 };
    return { chunk: piece.chunkId, shift: piece.chunkOffset - piece.offset };
  };
  const regions: FileRegion[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i] as number;
    const end = points[i + 1] as number;
    const left = at(before, start);
    const right = at(after, start);
    if (left.chunk === right.chunk && (left.chunk === '' || left.shift === right.shift)) continue;
    const region: FileRegion = { offset: start, length: end - start, ...(right.chunk === '' ? { hole: true as const } : {}) };
    const previous = regions.at(-1);
    if (previous !== undefined && previous.offset + previous.length === start && previous.hole === region.hole) regions[regions.length - 1] = { ...previous, length: previous.length + region.length };
    else regions.push(region);
  }
  return regions;
}

function encodeCursor(index: number): string {
  return Buffer.from(`segment:${index}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const match = /^segment:([0-9]{1,15})$/.exec(text);
  if (match === null) throw new FsError('InvalidArgument', 'invalid file changes cursor');
  return Number(match[1]);
}
