import type { Logger } from 'pino';
import type { ChunkStore } from '../../storage/chunks/chunk-store.js';
import type { MetadataStore, WriteTransaction } from '../../storage/metadata/metadata-store.js';
import type { Clock } from '../clock.js';
import { inodePrefix, segmentPrefix, type InodeRecord, type SegmentRecord, type Slice } from '../records.js';
import type { WriteScope } from '../scope.js';
import { readVersion } from '../versions.js';
import { loadInline, type FileData } from './file-data.js';
import { coveredBytes, resolveSlices, SEGMENT_BYTES, SLICES_COMPACT_AFTER } from './segments.js';

const QUEUE_MAX = 10_000;

export interface CompactorOptions {
  readonly metadata: MetadataStore;
  readonly chunks: ChunkStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly newChunkId: () => string;
  /** A snapshot-aware write scope for a background transaction (Engine.backgroundScope). */
  readonly newScope: (tx: WriteTransaction) => WriteScope;
  readonly data: () => FileData;
}

/**
 * Merges a segment's slices into one new chunk once they pile up (many small overwrites), so reads
 * stay cheap. Runs in the background, one segment at a time, and commits only if the segment did
 * not change meanwhile (optimistic: otherwise the new chunk is dropped and a later write queues
 * the segment again). The queue is bounded; a segment dropped from a full queue is queued again by
 * its next write.
 */
export class Compactor {
  private readonly queue = new Set<string>();
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: CompactorOptions) {}

  request(id: number, index: number): void {
    if (this.stopped || this.queue.size >= QUEUE_MAX) return;
    this.queue.add(`${id}:${index}`);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Waits for queued work to finish (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.clear();
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (const item of this.queue) {
      this.queue.delete(item);
      if (this.stopped) return;
      const [id, index] = item.split(':').map(Number) as [number, number];
      try {
        await this.compact(id, index);
      } catch (error) {
        this.options.logger.warn({ err: error, nodeId: id, segment: index }, 'segment compaction failed; it will be retried on the next write');
      }
    }
  }

  /** Rewrites the visible bytes of one segment into one chunk (holes stay holes). */
  async compact(id: number, index: number): Promise<boolean> {
    const { metadata, chunks } = this.options;
    const seen = await metadata.read(async (tx) => {
      const segment = await readVersion<SegmentRecord>(tx, segmentPrefix(id, index));
      const inode = await readVersion<InodeRecord>(tx, inodePrefix(id));
      if (segment === undefined || inode === undefined || segment.record.slices.length <= SLICES_COMPACT_AFTER) return undefined;
      const length = Math.max(0, Math.min(SEGMENT_BYTES, inode.record.size - index * SEGMENT_BYTES));
      const pieces = resolveSlices(segment.record.slices, 0, length).filter((piece) => piece.chunkId !== undefined);
      await loadInline(tx, pieces);
      return { segment, length, pieces };
    });
    if (seen === undefined) return false;
    const { length, pieces } = seen;
    const bytes = await this.options.data().fetch([{ dataOffset: 0, pieces }], length);
    const chunkId = this.options.newChunkId();
    const slices: Slice[] = [];
    const parts: Uint8Array[] = [];
    let chunkOffset = 0;
    for (const piece of pieces) {
      const last = slices.at(-1);
      if (last !== undefined && last.offset + last.length === piece.offset) last.length += piece.length;
      else slices.push({ offset: piece.offset, length: piece.length, chunkId, chunkOffset });
      parts.push(bytes.subarray(piece.offset, piece.offset + piece.length));
      chunkOffset += piece.length;
    }
    await chunks.put(chunkId, Buffer.concat(parts));
    const committed = await metadata.write(async (tx) => {
      const scope = this.options.newScope(tx);
      const current = await readVersion<SegmentRecord>(tx, segmentPrefix(id, index));
      if (current === undefined || JSON.stringify(current.record.slices) !== JSON.stringify(seen.segment.record.slices)) return false;
      await this.options.data().replaceSegment(scope, id, index, current, { slices, coveredBytes: coveredBytes(slices) });
      await scope.flush();
      return true;
    });
    if (!committed) await chunks.delete(chunkId);
    return committed;
  }
}
