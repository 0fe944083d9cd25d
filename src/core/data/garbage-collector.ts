import type { Logger } from 'pino';
import type { ChunkStore } from '../../storage/chunks/chunk-store.js';
import { chunkIdTimeMs } from '../../storage/chunks/chunk-id.js';
import type { MetadataStore, WriteTransaction } from '../../storage/metadata/metadata-store.js';
import type { Clock } from '../clock.js';
import {
  chunkRefKey,
  decodeChunkIdKey,
  decodeJson,
  decodeOrphanKey,
  encodeJson,
  gcQueueKey,
  inlineDataKey,
  orphanKey,
  prefixEnd,
  RecordType,
  segmentFilePrefix,
  typePrefix,
  type SegmentRecord,
} from '../records.js';
import type { WriteScope } from '../scope.js';
import { aliveEntries, endVersion } from '../versions.js';

export interface GarbageCollectorOptions {
  /** Frees what deleted snapshots held (snapshot/reclaim.ts). */
  readonly reclaimer?: { step(): Promise<number> };
  /** Deletes snapshots whose expiration has passed. */
  readonly expireSnapshots?: () => Promise<void>;
  readonly metadata: MetadataStore;
  readonly chunks: ChunkStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** A snapshot-aware write scope for a background transaction (Engine.backgroundScope). */
  readonly newScope: (tx: WriteTransaction) => WriteScope;
  /** A queued chunk is deleted only this long after it lost its last reference (in-flight reads). */
  readonly deleteDelayMs: number;
  /** The sweep leaves alone unreferenced chunks younger than this (writes not yet committed). */
  readonly sweepGraceMs: number;
  /** Work per step: chunks deleted, chunks swept, segments reclaimed. */
  readonly batchMax: number;
  /** Told of each inline chunk deleted (FileData's inline cache lets go of its bytes). */
  readonly inlineDeleted?: (chunkId: string) => void;
}

interface OrphanProgress {
  readonly queuedAtMs: number;
  /** The last segment key handled, base64: the next batch starts after it. */
  readonly afterKey?: string;
}

export interface CollectStats {
  deletedChunks: number;
  sweptChunks: number;
  reclaimedSegments: number;
  /** Versions (and change-log entries) dropped after snapshots were deleted. */
  reclaimedVersions: number;
  reapedNodes: number;
}

/**
 * Crash-safe, bounded garbage collection, in three parts, each a bounded step:
 * 1. Orphans: a removed file's segments are ended in batches (their chunk references dropped in
 *    the same transaction), then the orphan record goes.
 * 2. The garbage queue: a chunk whose reference count reached zero was queued in that same
 *    transaction; it is deleted from the chunk store, then dequeued. A crash in between deletes it
 *    again next time (delete is idempotent).
 * 3. The sweep: chunks stored by writes whose transaction never committed (crash, failure) have no
 *    reference and no queue entry; the sweep pages through the chunk store and deletes those older
 *    than the grace period. Chunk ids start with their creation time, which makes the age known.
 */
export class GarbageCollector {
  private sweepCursor: string | undefined;

  constructor(private readonly options: GarbageCollectorOptions) {}

  async step(): Promise<CollectStats> {
    const stats: CollectStats = { deletedChunks: 0, sweptChunks: 0, reclaimedSegments: 0, reapedNodes: 0, reclaimedVersions: 0 };
    await this.options.expireSnapshots?.();
    if (this.options.reclaimer !== undefined) stats.reclaimedVersions += await this.options.reclaimer.step();
    await this.reapOrphans(stats);
    await this.deleteQueued(stats);
    await this.sweep(stats);
    return stats;
  }

  /** Runs steps until one finds nothing to do (tests, fsck). Bounded by `stepsMax`. */
  async collectAll(stepsMax = 1_000): Promise<CollectStats> {
    const total: CollectStats = { deletedChunks: 0, sweptChunks: 0, reclaimedSegments: 0, reapedNodes: 0, reclaimedVersions: 0 };
    for (let step = 0; step < stepsMax; step++) {
      const stats = await this.step();
      total.deletedChunks += stats.deletedChunks;
      total.sweptChunks += stats.sweptChunks;
      total.reclaimedSegments += stats.reclaimedSegments;
      total.reapedNodes += stats.reapedNodes;
      total.reclaimedVersions += stats.reclaimedVersions;
      if (stats.deletedChunks + stats.reclaimedSegments + stats.reapedNodes + stats.reclaimedVersions === 0 && this.sweepCursor === undefined) return total;
    }
    return total;
  }

  private async reapOrphans(stats: CollectStats): Promise<void> {
    const { metadata, batchMax } = this.options;
    const prefix = typePrefix(RecordType.orphan);
    const orphans = await metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 16 }));
    for (const orphan of orphans) {
      const id = decodeOrphanKey(orphan.key);
      const progress = decodeJson<OrphanProgress>(orphan.value);
      let unreferenced: readonly string[] = [];
      const done = await metadata.write(async (tx) => {
        const scope = this.options.newScope(tx);
        const filePrefix = segmentFilePrefix(id);
        const start = progress.afterKey === undefined ? filePrefix : prefixEnd(Buffer.from(progress.afterKey, 'base64'));
        const entries = await tx.scan({ start, end: prefixEnd(filePrefix), limit: batchMax });
        for (const version of aliveEntries<SegmentRecord>(entries)) {
          if ((await endVersion(scope, version)) === 'deleted') scope.referenceSlices(version.record.slices, -1);
          stats.reclaimedSegments++;
        }
        const last = entries.at(-1);
        const finished = entries.length < batchMax || last === undefined;
        // Versions kept for snapshots stay behind; the cursor moves past them.
        if (finished) tx.delete(orphanKey(id));
        else tx.put(orphanKey(id), encodeJson({ ...progress, afterKey: Buffer.from(last.key).toString('base64') }));
        await scope.flush();
        unreferenced = scope.unreferenced;
        return finished;
      });
      // Committed: a write cache need not copy what this pass will delete (ChunkStore.expectDelete).
      if (unreferenced.length > 0) this.options.chunks.expectDelete?.(unreferenced);
      if (done) stats.reapedNodes++;
    }
  }

  /**
   * Deletes chunks queued long enough ago: stored ones from the chunk store first, then (with the
   * queue entries, in one transaction) inline ones from the metadata store.
   */
  private async deleteQueued(stats: CollectStats): Promise<void> {
    const { metadata, chunks, clock, deleteDelayMs, batchMax } = this.options;
    const prefix = typePrefix(RecordType.gcQueue);
    const ready = await metadata.read(async (tx) => {
      const queued = await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: batchMax });
      const due = queued
        .filter((entry) => decodeJson<{ queuedAtMs: number }>(entry.value).queuedAtMs <= clock.nowMs() - deleteDelayMs)
        .map((entry) => decodeChunkIdKey(entry.key));
      const inline = new Set<string>();
      for (const chunkId of due) if ((await tx.get(inlineDataKey(chunkId))) !== undefined) inline.add(chunkId);
      return { due, inline };
    });
    if (ready.due.length === 0) return;
    await Promise.all(ready.due.filter((chunkId) => !ready.inline.has(chunkId)).map((chunkId) => chunks.delete(chunkId)));
    await metadata.write(async (tx) => {
      for (const chunkId of ready.due) {
        tx.delete(gcQueueKey(chunkId));
        if (ready.inline.has(chunkId)) tx.delete(inlineDataKey(chunkId));
      }
    });
    for (const chunkId of ready.inline) this.options.inlineDeleted?.(chunkId);
    stats.deletedChunks += ready.due.length;
  }

  private async sweep(stats: CollectStats): Promise<void> {
    const { metadata, chunks, clock, sweepGraceMs, batchMax } = this.options;
    const page = await chunks.list({ after: this.sweepCursor, limit: batchMax });
    this.sweepCursor = page.length < batchMax ? undefined : page.at(-1);
    const cutoffMs = clock.nowMs() - sweepGraceMs;
    const old = page.filter((chunkId) => chunkIdTimeMs(chunkId) < cutoffMs);
    if (old.length === 0) return;
    const unreferenced = await metadata.read(async (tx) => {
      const result: string[] = [];
      for (const chunkId of old) {
        if ((await tx.get(chunkRefKey(chunkId))) === undefined && (await tx.get(gcQueueKey(chunkId))) === undefined) result.push(chunkId);
      }
      return result;
    });
    await Promise.all(unreferenced.map((chunkId) => chunks.delete(chunkId)));
    stats.sweptChunks += unreferenced.length;
  }
}
