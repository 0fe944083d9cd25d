import type { ByteRange, ChunkId, ChunkStore } from '../../storage/chunks/chunk-store.js';

export interface ReadAheadLimits {
  /** How far past a sequential read its file is fetched ahead, in bytes (0 turns read-ahead off). */
  readonly windowBytes: number;
  /** Bytes held in fetched-ahead ranges at once, over all files; the oldest go first. */
  readonly bytesMax: number;
  /** Files whose read position is remembered; the table is emptied when it fills. */
  readonly streamsMax: number;
}

/** Four segments ahead of each sequential reader, for up to eight readers at once. */
export const READ_AHEAD_DEFAULTS: ReadAheadLimits = { windowBytes: 4 * 1024 * 1024, bytesMax: 32 * 1024 * 1024, streamsMax: 1_024 };

interface Entry {
  readonly chunkId: ChunkId;
  readonly offset: number;
  readonly length: number;
  readonly bytes: Promise<Uint8Array | undefined>;
}

interface Stream {
  /** Where the last read of the file ended. */
  end: number;
  /** Everything below this offset has been fetched ahead (or read) already. */
  aheadUntil: number;
}

/** A range of a chunk the caller will probably read next. */
export interface ChunkRange {
  readonly chunkId: ChunkId;
  readonly offset: number;
  readonly length: number;
}

/**
 * Read-ahead for sequential readers (an NFS client reading a file in order waits for each READ
 * before it sends the next, so the time to fetch and decrypt a range is on its critical path).
 * Core decides what comes next from the file's segment records, read in the same consistent
 * transaction as the read itself; this class fetches those chunk ranges in the background and
 * hands them to the read that asks for them.
 *
 * Correctness does not depend on invalidation: chunks are immutable (chunk-store.ts), and every
 * read plans afresh which chunks hold its bytes, so a range fetched ahead is either exactly what a
 * later plan names or never asked for (a write in between makes new chunks, and the old range
 * ages out). A fetch ahead that fails is forgotten; the read then asks the store itself and gets
 * its error. Memory is bounded by `bytesMax` (the oldest ranges are dropped first).
 */
export class ReadAhead {
  private readonly entries = new Map<ChunkId, Entry[]>();
  private readonly order: Entry[] = [];
  private heldBytes = 0;
  private readonly streams = new Map<string, Stream>();

  constructor(
    private readonly chunks: ChunkStore,
    private readonly limits: ReadAheadLimits = READ_AHEAD_DEFAULTS,
  ) {}

  /**
   * Records a read of [offset, offset + length) of a file (`stream`: its id and view) and returns
   * the range to fetch ahead, or undefined when the read does not continue the previous one.
   */
  advance(stream: string, offset: number, length: number, sizeBytes: number): { offset: number; length: number } | undefined {
    if (this.limits.windowBytes <= 0) return undefined;
    const end = offset + length;
    const known = this.streams.get(stream);
    // A read from the start of a file counts as the start of a sequential run (copies, cat).
    if (known === undefined || known.end !== offset) {
      if (known === undefined && this.streams.size >= this.limits.streamsMax) this.streams.clear();
      this.streams.set(stream, { end, aheadUntil: end });
      if (offset !== 0) return undefined;
    }
    const current = this.streams.get(stream) as Stream;
    current.end = end;
    const from = Math.max(current.aheadUntil, end);
    const until = Math.min(end + this.limits.windowBytes, sizeBytes);
    if (from >= until) return undefined;
    current.aheadUntil = until;
    return { offset: from, length: until - from };
  }

  /** Starts fetching the ranges not held yet, dropping the oldest held ranges to stay in bounds. */
  prefetch(ranges: readonly ChunkRange[]): void {
    for (const range of ranges) {
      if (range.length <= 0 || range.length > this.limits.bytesMax || this.find(range.chunkId, range) !== undefined) continue;
      while (this.heldBytes + range.length > this.limits.bytesMax) {
        const oldest = this.order[0];
        if (oldest === undefined) break;
        this.remove(oldest);
      }
      const bytes = this.chunks.get(range.chunkId, { offset: range.offset, length: range.length }).then(
        (data) => (data.byteLength === range.length ? data : undefined),
        () => undefined,
      );
      const entry: Entry = { chunkId: range.chunkId, offset: range.offset, length: range.length, bytes };
      const list = this.entries.get(range.chunkId);
      if (list === undefined) this.entries.set(range.chunkId, [entry]);
      else list.push(entry);
      this.order.push(entry);
      this.heldBytes += range.length;
    }
  }

  /**
   * The bytes of `range` of a chunk if they were fetched ahead, else undefined (the caller reads
   * the store). `owned` says the caller may keep the returned array as is: the range was the
   * whole of what was fetched, so it leaves the cache; otherwise it is a view the caller copies.
   */
  async take(chunkId: ChunkId, range: ByteRange): Promise<{ bytes: Uint8Array; owned: boolean } | undefined> {
    const entry = this.find(chunkId, range);
    if (entry === undefined) return undefined;
    const whole = entry.offset === range.offset && entry.length === range.length;
    // A range read up to the end of what was fetched is the sequential reader's last use of it.
    if (range.offset + range.length === entry.offset + entry.length) this.remove(entry);
    const bytes = await entry.bytes;
    if (bytes === undefined) {
      this.remove(entry);
      return undefined;
    }
    const start = range.offset - entry.offset;
    return { bytes: bytes.subarray(start, start + range.length), owned: whole };
  }

  /** Bytes held (fetched or in flight), for tests and metrics. */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  private find(chunkId: ChunkId, range: ByteRange): Entry | undefined {
    return this.entries.get(chunkId)?.find((entry) => entry.offset <= range.offset && range.offset + range.length <= entry.offset + entry.length);
  }

  private remove(entry: Entry): void {
    const list = this.entries.get(entry.chunkId);
    const index = list?.indexOf(entry) ?? -1;
    if (list === undefined || index < 0) return;
    list.splice(index, 1);
    if (list.length === 0) this.entries.delete(entry.chunkId);
    const position = this.order.indexOf(entry);
    if (position >= 0) this.order.splice(position, 1);
    this.heldBytes -= entry.length;
  }
}
