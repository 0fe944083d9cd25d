import { ChunkStoreError, type ChunkStore } from '../../storage/chunks/chunk-store.js';
import type { ReadTransaction } from '../../storage/metadata/metadata-store.js';
import { FsError } from '../errors.js';
import { decodeSegmentKey, inlineDataKey, prefixEnd, segmentFilePrefix, segmentKey, segmentPrefix, type SegmentRecord, type Slice } from '../records.js';
import type { WriteScope } from '../scope.js';
import { endVersion, readVersion, writeVersion, aliveEntries, type Version } from '../versions.js';
import { InlineCache } from './inline-cache.js';
import { ReadAhead, READ_AHEAD_DEFAULTS, type ChunkRange, type ReadAheadLimits } from './read-ahead.js';
import { appendSlice, clipSlices, coveredBytes, INLINE_BYTES_MAX, resolveSlices, SEGMENT_BYTES, segmentsOf, SLICES_COMPACT_AFTER, type Piece } from './segments.js';

const SEGMENT_SCAN_PAGE = 512;
/** Default bound of the inline cache: about 4,000 files of 4 KiB. */
export const INLINE_CACHE_BYTES = 16 * 1024 * 1024;

export interface StagedWrite {
  readonly index: number;
  readonly slice: Slice;
  /** For an inline slice: the bytes, written in the metadata transaction itself. */
  readonly inlineBytes?: Uint8Array;
}

/** Where each piece of a read comes from: per segment, its pieces and where they go in the answer. */
export type Plan = Array<{ dataOffset: number; pieces: Piece[] }>;

/**
 * File data: writing chunks, recording slices in segment records, reading them back. Chunk
 * writes happen before the metadata transaction (chunks are immutable and unreferenced until it
 * commits); a transaction that fails leaves unreferenced chunks that the garbage collector's sweep
 * removes.
 */
export class FileData {
  /** Fetches ahead of sequential readers (read-ahead.ts); file-io.ts decides what to fetch. */
  readonly readAhead: ReadAhead;
  /** Small files' bytes as last written or read, so reading a small file back needs no store read. */
  readonly inline: InlineCache;

  constructor(
    private readonly chunks: ChunkStore,
    private readonly newChunkId: () => string,
    private readonly onSegmentGrew: (id: number, index: number) => void,
    readAheadLimits: ReadAheadLimits = READ_AHEAD_DEFAULTS,
    inlineCacheBytes = INLINE_CACHE_BYTES,
  ) {
    this.readAhead = new ReadAhead(chunks, readAheadLimits);
    this.inline = new InlineCache(inlineCacheBytes);
  }

  /**
   * Writes the data's chunks, one per segment touched; durable when it resolves. A small write
   * inside one segment stores no chunk: its bytes go into the metadata transaction (inline).
   */
  async stage(offset: number, data: Uint8Array): Promise<StagedWrite[]> {
    const parts = segmentsOf(offset, data.length);
    if (parts.length === 1 && data.length <= INLINE_BYTES_MAX) {
      const part = parts[0] as (typeof parts)[number];
      const slice: Slice = { offset: part.from, length: data.length, chunkId: this.newChunkId(), chunkOffset: 0, inline: true };
      return [{ index: part.index, slice, inlineBytes: Uint8Array.prototype.slice.call(data) }];
    }
    return Promise.all(
      parts.map(async (part) => {
        const chunkId = this.newChunkId();
        const length = part.to - part.from;
        await this.chunks.put(chunkId, data.subarray(part.dataOffset, part.dataOffset + length));
        return { index: part.index, slice: { offset: part.from, length, chunkId, chunkOffset: 0 } };
      }),
    );
  }

  /** Best effort: removes chunks of a write whose transaction failed (the sweep catches the rest). */
  async discard(staged: readonly StagedWrite[]): Promise<void> {
    const stored = staged.filter((write) => write.slice.inline !== true);
    await Promise.allSettled(stored.map((write) => this.chunks.delete(write.slice.chunkId)));
  }

  /** Records staged slices in their segments. Returns the change in covered (allocated) bytes. */
  async commit(scope: WriteScope, id: number, staged: readonly StagedWrite[]): Promise<number> {
    let coveredDelta = 0;
    for (const { index, slice, inlineBytes } of staged) {
      if (inlineBytes !== undefined) {
        scope.tx.put(inlineDataKey(slice.chunkId), inlineBytes);
        this.inline.set(slice.chunkId, inlineBytes);
      }
      const current = await readVersion<SegmentRecord>(scope.tx, segmentPrefix(id, index));
      const slices = appendSlice(current?.record.slices ?? [], slice);
      const record: SegmentRecord = { slices, coveredBytes: coveredBytes(slices) };
      coveredDelta += record.coveredBytes - (current?.record.coveredBytes ?? 0);
      await this.replaceSegment(scope, id, index, current, record);
      if (slices.length > SLICES_COMPACT_AFTER) this.onSegmentGrew(id, index);
    }
    return coveredDelta;
  }

  /** Replaces a segment version, keeping chunk reference counts exact. */
  async replaceSegment(scope: WriteScope, id: number, index: number, current: Version<SegmentRecord> | undefined, record: SegmentRecord): Promise<void> {
    const outcome = await writeVersion(scope, (born) => segmentKey(id, index, born), current, record);
    scope.referenceSlices(record.slices, 1);
    if (outcome === 'replaced' && current !== undefined) scope.referenceSlices(current.record.slices, -1);
  }

  /**
   * Cuts the file's data at `sizeBytes`: segments past it end, the segment it falls in is clipped.
   * Returns the change in covered bytes.
   */
  async truncate(scope: WriteScope, id: number, sizeBytes: number): Promise<number> {
    const firstIndex = Math.floor(sizeBytes / SEGMENT_BYTES);
    let coveredDelta = 0;
    let start = segmentPrefix(id, firstIndex);
    const end = prefixEnd(segmentFilePrefix(id));
    for (;;) {
      const entries = await scope.tx.scan({ start, end, limit: SEGMENT_SCAN_PAGE });
      for (const version of aliveEntries<SegmentRecord>(entries)) {
        const { index } = decodeSegmentKey(version.key);
        const keepBytes = sizeBytes - index * SEGMENT_BYTES;
        coveredDelta -= version.record.coveredBytes;
        if (keepBytes > 0) {
          const slices = clipSlices(version.record.slices, keepBytes);
          const record = { slices, coveredBytes: coveredBytes(slices) };
          coveredDelta += record.coveredBytes;
          await this.replaceSegment(scope, id, index, version, record);
        } else if ((await endVersion(scope, version)) === 'deleted') {
          scope.referenceSlices(version.record.slices, -1);
        }
      }
      const last = entries.at(-1);
      if (entries.length < SEGMENT_SCAN_PAGE || last === undefined) return coveredDelta;
      start = prefixEnd(last.key);
    }
  }

  /** Reads the segment records for a range inside one consistent read transaction. */
  async plan(tx: ReadTransaction, id: number, offset: number, length: number, epoch?: number): Promise<Plan> {
    return Promise.all(
      segmentsOf(offset, length).map(async (part) => {
        const version = await readVersion<SegmentRecord>(tx, segmentPrefix(id, part.index), epoch);
        const pieces = resolveSlices(version?.record.slices ?? [], part.from, part.to);
        await loadInline(tx, pieces, this.inline);
        return { dataOffset: part.dataOffset - part.from, pieces };
      }),
    );
  }

  /**
   * Fetches the planned pieces into one buffer; holes stay zero. A read that is one piece of one
   * chunk (a whole-segment read of a file written in large runs) is answered with the bytes the
   * store returned, without a copy.
   */
  async fetch(plan: Plan, length: number): Promise<Uint8Array> {
    const only = plan.length === 1 ? plan[0] : undefined;
    const single = only !== undefined && only.pieces.length === 1 ? only.pieces[0] : undefined;
    if (single !== undefined && single.chunkId !== undefined && single.inlineBytes === undefined && single.length === length && only?.dataOffset === -single.offset) {
      const fetched = await this.fetchPiece(single.chunkId, single);
      return fetched.owned ? fetched.bytes : Uint8Array.prototype.slice.call(fetched.bytes);
    }
    const buffer = new Uint8Array(length);
    const reads: Array<Promise<void>> = [];
    for (const { dataOffset, pieces } of plan) {
      for (const piece of pieces) {
        if (piece.chunkId === undefined) continue;
        if (piece.inlineBytes !== undefined) {
          buffer.set(piece.inlineBytes.subarray(piece.chunkOffset, piece.chunkOffset + piece.length), dataOffset + piece.offset);
          continue;
        }
        reads.push(this.fetchPiece(piece.chunkId, piece).then(({ bytes }) => buffer.set(bytes, dataOffset + piece.offset)));
      }
    }
    await Promise.all(reads);
    return buffer;
  }

  /** Starts fetching the chunk pieces of a plan ahead of the read that will ask for them. */
  prefetch(plan: Plan): void {
    const ranges: ChunkRange[] = [];
    for (const { pieces } of plan) {
      for (const piece of pieces) {
        if (piece.chunkId !== undefined && piece.inline !== true) ranges.push({ chunkId: piece.chunkId, offset: piece.chunkOffset, length: piece.length });
      }
    }
    this.readAhead.prefetch(ranges);
  }

  /** One piece's bytes, from the read-ahead when it fetched them, else from the store. */
  private async fetchPiece(chunkId: string, piece: Piece): Promise<{ bytes: Uint8Array; owned: boolean }> {
    const range = { offset: piece.chunkOffset, length: piece.length };
    const ahead = await this.readAhead.take(chunkId, range);
    const fetched = ahead ?? { bytes: await this.chunks.get(chunkId, range), owned: true };
    if (fetched.bytes.length !== piece.length) throw new FsError('Internal', `chunk ${chunkId} is shorter than its slice`);
    return fetched;
  }
}

/** Attaches the bytes of inline chunks to the pieces that need them, inside the read transaction. */
export async function loadInline(tx: ReadTransaction, pieces: Piece[], cache?: InlineCache): Promise<void> {
  const loaded = new Map<string, Uint8Array>();
  for (const piece of pieces) {
    if (piece.inline !== true || piece.chunkId === undefined) continue;
    let bytes = loaded.get(piece.chunkId) ?? cache?.get(piece.chunkId);
    if (bytes === undefined) {
      bytes = await tx.get(inlineDataKey(piece.chunkId));
      if (bytes === undefined) throw new FsError('Internal', `inline chunk ${piece.chunkId} is missing`);
      cache?.set(piece.chunkId, bytes);
    }
    loaded.set(piece.chunkId, bytes);
    if (bytes.length < piece.chunkOffset + piece.length) throw new FsError('Internal', `inline chunk ${piece.chunkId} is shorter than its slice`);
    piece.inlineBytes = bytes;
  }
}

export function isChunkNotFound(error: unknown): boolean {
  return error instanceof ChunkStoreError && error.code === 'not-found';
}
