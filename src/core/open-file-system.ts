import type { Logger } from 'pino';
import type { ChunkStore } from '../storage/chunks/chunk-store.js';
import { newChunkId } from '../storage/chunks/chunk-id.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { createSystemClock, type Clock } from './clock.js';
import { CoreFileSystem } from './core-file-system.js';
import { Compactor } from './data/compactor.js';
import { FileData } from './data/file-data.js';
import { GarbageCollector } from './data/garbage-collector.js';
import { EMPTY_AGGREGATE } from './aggregates.js';
import { Engine } from './engine.js';
import { FsError } from './errors.js';
import type { InternalEvent } from './core-file-system.js';
import { systemContext } from './context.js';
import { SnapshotReclaimer } from './snapshot/reclaim.js';
import { deleteSnapshot, expiredSnapshots } from './snapshot/snapshots.js';
import { decodeJson, encodeJson, FIRST_EPOCH, FORMAT_VERSION, inodeKey, metaKey, ROOT_ID, type InodeRecord } from './records.js';

export interface OpenFileSystemOptions {
  readonly metadata: MetadataStore;
  readonly chunks: ChunkStore;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: (size: number) => Buffer;
  readonly gc?: Partial<{ intervalMs: number; deleteDelayMs: number; sweepGraceMs: number; batchMax: number }>;
}

const GC_DEFAULTS = { intervalMs: 2_000, deleteDelayMs: 10_000, sweepGraceMs: 15 * 60_000, batchMax: 256 };
/** Between two collector steps when the last one found a full batch. */
const GC_BUSY_PAUSE_MS = 20;

/**
 * Opens the file system over its stores: creates the root and the format marker on a new store,
 * refuses a store written by a newer format, and starts the background garbage collector. The
 * caller owns the stores and closes them after `close()`.
 */
export async function openFileSystem(options: OpenFileSystemOptions): Promise<CoreFileSystem> {
  const clock = options.clock ?? createSystemClock();
  const engine = new Engine({ metadata: options.metadata, chunks: options.chunks, clock, logger: options.logger, random: options.random });
  await initialise(engine);
  await engine.loadEpoch();
  const gcOptions = { ...GC_DEFAULTS, ...options.gc };
  const chunkId = (): string => newChunkId(clock.nowMs(), (size) => engine.pooledRandom(size));
  const compactor = new Compactor({
    metadata: options.metadata,
    chunks: options.chunks,
    clock,
    logger: options.logger,
    newChunkId: chunkId,
    newScope: (tx) => engine.backgroundScope(tx),
    data: () => engine.data,
  });
  engine.data = new FileData(options.chunks, chunkId, (id, index) => compactor.request(id, index));
  const reclaimer = new SnapshotReclaimer({ metadata: options.metadata, registry: () => engine.snapshots, newScope: (tx) => engine.backgroundScope(tx), batchMax: gcOptions.batchMax });
  const internalListeners = new Set<(event: InternalEvent) => void>();
  const emitInternal = (event: InternalEvent): void => {
    for (const listener of internalListeners) listener(event);
  };
  const expireSnapshots = async (): Promise<void> => {
    for (const id of expiredSnapshots(engine, clock.nowNs())) {
      try {
        await deleteSnapshot(engine, systemContext(options.logger, 'snapshot-expiry'), id);
        emitInternal({ operation: 'snapshot_expire', status: 'ok', details: { snapshot_id: id } });
      } catch (error) {
        options.logger.warn({ err: error, snapshot: id }, 'expiring a snapshot failed');
        emitInternal({ operation: 'snapshot_expire', status: error instanceof FsError ? error.code : 'Internal', details: { snapshot_id: id } });
      }
    }
  };
  const collector = new GarbageCollector({ reclaimer, expireSnapshots, metadata: options.metadata, chunks: options.chunks, clock, logger: options.logger, newScope: (tx) => engine.backgroundScope(tx), inlineDeleted: (chunkId) => engine.data.inline.delete(chunkId), ...gcOptions });
  // One step every intervalMs; a step that found a full batch of work is followed by the next
  // one at once (after a short pause for foreground work), so releasing a removed 1 GiB file
  // (1,024 segments, batchMax at a time) or deleting a burst of garbage takes a few steps in a
  // row, not one step every two seconds.
  let collecting: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      const stepping = collector.step().then(
        (stats) => schedule(stats.reclaimedSegments >= gcOptions.batchMax || stats.deletedChunks >= gcOptions.batchMax ? GC_BUSY_PAUSE_MS : gcOptions.intervalMs),
        (error: unknown) => {
          options.logger.warn({ err: error }, 'garbage collection step failed; retrying later');
          schedule(gcOptions.intervalMs);
        },
      );
      collecting = stepping;
    }, delayMs);
    timer.unref();
  };
  schedule(gcOptions.intervalMs);
  const maintenance = {
    collectGarbage: async () => {
      await collecting;
      return collector.collectAll();
    },
    compactionIdle: () => compactor.idle(),
  };
  return new CoreFileSystem(engine, maintenance, internalListeners, async () => {
    stopped = true;
    clearTimeout(timer);
    await compactor.stop();
    await collecting;
    engine.close();
  });
}

async function initialise(engine: Engine): Promise<void> {
  await engine.metadata.write(async (tx) => {
    const format = await tx.get(metaKey('formatVersion'));
    if (format !== undefined) {
      const version = decodeJson<number>(format);
      if (version > FORMAT_VERSION) throw new Error(`the metadata was written by a newer Enclave (format ${version}; this one reads ${FORMAT_VERSION})`);
      // Older formats read as they are; new writes may use the newer encodings (records.ts).
      if (version < FORMAT_VERSION) tx.put(metaKey('formatVersion'), encodeJson(FORMAT_VERSION));
      return;
    }
    const now = engine.clock.nowNs().toString();
    const root: InodeRecord = {
      type: 'directory',
      generation: engine.newGeneration(),
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 0,
      allocatedBytes: 0,
      nlink: 2,
      atimeNs: now,
      mtimeNs: now,
      ctimeNs: now,
      birthTimeNs: now,
      changeId: 1,
      parentId: ROOT_ID,
      name: '',
      aggregate: { ...EMPTY_AGGREGATE },
    };
    tx.put(inodeKey(ROOT_ID, FIRST_EPOCH), encodeJson(root));
    tx.put(metaKey('epoch'), encodeJson(FIRST_EPOCH));
    tx.put(metaKey('nextNodeId'), encodeJson(ROOT_ID + 1));
    tx.put(metaKey('formatVersion'), encodeJson(FORMAT_VERSION));
  });
}
