import type { Logger } from 'pino';
import { ChunkStoreError, type ChunkStore } from '../storage/chunks/chunk-store.js';
import { MetadataStoreError, type MetadataStore, type ReadTransaction, type WriteTransaction } from '../storage/metadata/metadata-store.js';
import { VersionCache } from './version-cache.js';
import type { Clock } from './clock.js';
import type { OpContext } from './context.js';
import { FsError } from './errors.js';
import type { FileData } from './data/file-data.js';
import type { Attributes, NodeHandle } from './file-system.js';
import {
  decodeJson,
  direntNamePrefix,
  encodeJson,
  decodeLinkParentKey,
  foldedKey,
  linkParentKey,
  linkParentPrefix,
  prefixEnd,
  metaKey,
  orphanKey,
  type DirentRecord,
  type InodeRecord,
} from './records.js';
import { ReadScope, WriteScope, type InodeCache } from './scope.js';
import { SnapshotRegistry } from './snapshot/registry.js';
import { readVersion, type Version } from './versions.js';
import { foldName } from './names.js';
import { adjustAggregates, contributionOf, scaleAggregate } from './aggregates.js';
import { randomBytes } from 'node:crypto';

export interface EngineOptions {
  readonly metadata: MetadataStore;
  readonly chunks: ChunkStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random?: (size: number) => Buffer;
  /** false: no version cache (tests that compare against uncached reads). */
  readonly versionCache?: boolean;
}

/**
 * What every core operation shares: the stores, the clock, the current epoch, and the two ways
 * to touch metadata (a consistent read, or one atomic, durable mutation).
 */
export class Engine {
  readonly metadata: MetadataStore;
  readonly chunks: ChunkStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: (size: number) => Buffer;
  private currentEpoch = 1;
  data!: FileData;
  private readonly cache = new EngineInodeCache();
  /** Newest versions as live reads saw them, exact by commit sequence (version-cache.ts). */
  private readonly versionCache: VersionCache | undefined;
  snapshots = new SnapshotRegistry();
  /** The last computed total of the bytes held by snapshots (snapshot/space.ts), for statfs. */
  snapshotBytes: { bytes: number; atMs: number } | undefined;
  snapshotBytesRefresh: Promise<unknown> | undefined;
  private generationPool: Buffer = Buffer.alloc(0);
  private generationOffset = 0;
  private idPool: Buffer = Buffer.alloc(0);
  private idOffset = 0;

  constructor(options: EngineOptions) {
    this.metadata = options.metadata;
    this.chunks = options.chunks;
    this.clock = options.clock;
    this.logger = options.logger;
    this.random = options.random ?? randomBytes;
    this.versionCache = options.versionCache === false ? undefined : VersionCache.for(options.metadata, { liveEpoch: () => this.currentEpoch });
  }

  /** A read transaction with live version reads served from the version cache. */
  reading(tx: ReadTransaction): ReadTransaction {
    return this.versionCache?.reading(tx) ?? tx;
  }

  /** Stops listening to commits (the file system is closing). */
  close(): void {
    this.versionCache?.close();
  }

  get epoch(): number {
    return this.currentEpoch;
  }

  async loadEpoch(): Promise<void> {
    const stored = await this.metadata.read((tx) => tx.get(metaKey('epoch')));
    this.currentEpoch = stored === undefined ? 1 : decodeJson<number>(stored);
    this.snapshots = await this.metadata.read((tx) => SnapshotRegistry.load(tx));
  }

  /**
   * Moves the live tree to a new epoch inside the transaction `tx` (taking a snapshot); undone if
   * the transaction rolls back. Later transactions write in the new epoch.
   */
  advanceEpoch(tx: WriteTransaction): number {
    const previous = this.currentEpoch;
    this.currentEpoch = previous + 1;
    tx.put(metaKey('epoch'), encodeJson(this.currentEpoch));
    tx.onRollback(() => {
      this.currentEpoch = previous;
    });
    return previous;
  }

  /** A write scope for background work (compaction, reclaim): snapshot-aware, no inode cache. */
  backgroundScope(tx: WriteTransaction): WriteScope {
    return new WriteScope(tx, this.currentEpoch, this.clock.nowNs(), undefined, this.snapshots);
  }

  /**
   * `size` random bytes from a pooled buffer (one draw from `random` per 4 KiB), for values that
   * must be unique but not secret: chunk ids (chunk-id.ts).
   */
  pooledRandom(size: number): Buffer {
    if (this.idPool.length - this.idOffset < size) {
      this.idPool = this.random(Math.max(4096, size));
      this.idOffset = 0;
    }
    const bytes = this.idPool.subarray(this.idOffset, this.idOffset + size);
    this.idOffset += size;
    return bytes;
  }

  /** A random, non-zero 32-bit generation; drawn from a pooled buffer (one syscall per 1,024). */
  newGeneration(): number {
    if (this.generationPool.length - this.generationOffset < 4) {
      this.generationPool = this.random(4096);
      this.generationOffset = 0;
    }
    const value = this.generationPool.readUInt32BE(this.generationOffset);
    this.generationOffset += 4;
    return value || 1;
  }

  /**
   * The newest cached version of a live node, possibly not yet committed: only for early
   * refusals (a write checks its rights before storing chunks), never as an answer.
   */
  peekInode(id: number): InodeRecord | undefined {
    return this.cache.get(id)?.record;
  }

  /** Runs `fn` as one atomic, durable transaction on the live tree. */
  async mutate<T>(ctx: OpContext, fn: (scope: WriteScope) => Promise<T>): Promise<T> {
    checkSignal(ctx);
    let unreferenced: readonly string[] = [];
    const result = await this.metadata.write(async (tx) => {
      tx.onRollback(() => this.cache.clear());
      const scope = new WriteScope(tx, this.currentEpoch, this.clock.nowNs(), this.cache, this.snapshots);
      const value = await fn(scope);
      await scope.flush();
      unreferenced = scope.unreferenced;
      return value;
    });
    // Committed: the collector deletes these after its delay; a write cache need not copy them.
    if (unreferenced.length > 0) this.chunks.expectDelete?.(unreferenced);
    return result;
  }

  /**
   * Runs `fn` against one consistent state: the live tree, or the snapshot `handle` is in (a
   * deleted snapshot's handles are Stale). Handles of `.snapshot` directories read the live tree.
   */
  async inspect<T>(ctx: OpContext, handle: NodeHandle | undefined, fn: (scope: ReadScope) => Promise<T>): Promise<T> {
    checkSignal(ctx);
    const epoch = this.viewEpoch(handle);
    return this.metadata.read((tx) => fn(new ReadScope(this.reading(tx), epoch)));
  }

  /**
   * The epoch a handle reads at: undefined for the live tree (and `.snapshot` directories), the
   * snapshot's epoch otherwise; Stale for a deleted snapshot.
   */
  viewEpoch(handle: NodeHandle | undefined): number | undefined {
    const snapshotId = handle?.snapshot;
    if (snapshotId === undefined || snapshotId === SNAPSHOT_DIRECTORY) return undefined;
    const snapshot = this.snapshots.get(snapshotId);
    if (snapshot === undefined) throw new FsError('Stale', `snapshot ${snapshotId} no longer exists`);
    return snapshot.epoch;
  }
}

const INODE_CACHE_ENTRIES_MAX = 20_000;
const ID_BLOCK = 1_000;

/**
 * The write scopes' shared inode cache and id reservation (scope.ts, InodeCache). Cleared on any
 * rollback, so it never holds a version that did not commit; a cleared reservation is re-read
 * from the store, whose counter is always past every id handed out.
 */
class EngineInodeCache implements InodeCache {
  private readonly versions = new Map<number, Version<InodeRecord>>();
  private nextId = 0;
  private reservedEnd = 0;

  get(id: number): Version<InodeRecord> | undefined {
    return this.versions.get(id);
  }

  set(id: number, version: Version<InodeRecord> | undefined): void {
    if (version === undefined) {
      this.versions.delete(id);
      return;
    }
    // Dropping everything when full is O(1) amortised; evicting the oldest entry of a Map one at a
    // time is not (V8 keeps deleted slots at the front until it rehashes).
    if (this.versions.size >= INODE_CACHE_ENTRIES_MAX && !this.versions.has(id)) this.versions.clear();
    this.versions.set(id, version);
  }

  async allocateId(tx: WriteTransaction): Promise<number> {
    if (this.nextId >= this.reservedEnd) {
      const stored = await tx.get(metaKey('nextNodeId'));
      this.nextId = stored === undefined ? 2 : decodeJson<number>(stored);
      this.reservedEnd = this.nextId + ID_BLOCK;
      tx.put(metaKey('nextNodeId'), encodeJson(this.reservedEnd));
    }
    return this.nextId++;
  }

  clear(): void {
    this.versions.clear();
    this.nextId = 0;
    this.reservedEnd = 0;
  }
}

function checkSignal(ctx: OpContext): void {
  if (ctx.signal?.aborted === true) throw new FsError('Cancelled', 'the operation was cancelled');
}

/** `NodeHandle.snapshot` of a `.snapshot` directory (real snapshot ids start at 1). */
export const SNAPSHOT_DIRECTORY = 0;

/** Mutations never reach a snapshot: its contents are read-only by construction. */
export function requireLive(handle: NodeHandle): void {
  if (handle.snapshot !== undefined) throw new FsError('ReadOnly', 'snapshot contents are read-only');
}

/**
 * Turns failures of the layers below into core errors: storage trouble is Unavailable, a chunk
 * that fails authentication is Internal (and logged), FsErrors pass through; anything else is a
 * bug, logged with its stack and answered as Internal.
 */
export function translateError(error: unknown, ctx: OpContext, operation: string): FsError {
  if (error instanceof FsError) return error;
  if (error instanceof MetadataStoreError) {
    ctx.logger.error({ err: error, operation }, 'metadata store failure');
    return new FsError('Unavailable', 'the metadata store is unavailable', { cause: error });
  }
  if (error instanceof ChunkStoreError) {
    ctx.logger.error({ err: error, operation }, 'chunk store failure');
    const code = error.code === 'unavailable' ? 'Unavailable' : 'Internal';
    return new FsError(code, code === 'Unavailable' ? 'the data store is unavailable' : 'stored data failed an integrity check', { cause: error });
  }
  ctx.logger.error({ err: error, operation }, 'internal error');
  return new FsError('Internal', 'internal error', { cause: error });
}

export function handleOf(id: number, record: InodeRecord, snapshot?: number): NodeHandle {
  return snapshot === undefined ? { id, generation: record.generation } : { id, generation: record.generation, snapshot };
}

export function toAttributes(id: number, record: InodeRecord): Attributes {
  return {
    id,
    generation: record.generation,
    type: record.type,
    mode: record.mode,
    uid: record.uid,
    gid: record.gid,
    ownerSid: record.ownerSid,
    groupSid: record.groupSid,
    size: record.size,
    allocatedBytes: record.allocatedBytes,
    nlink: record.nlink,
    atimeNs: BigInt(record.atimeNs),
    mtimeNs: BigInt(record.mtimeNs),
    ctimeNs: BigInt(record.ctimeNs),
    birthTimeNs: BigInt(record.birthTimeNs),
    changeId: record.changeId,
    parentId: record.parentId,
  };
}

export async function findEntry(scope: ReadScope, directoryId: number, name: string): Promise<Version<DirentRecord> | undefined> {
  return readVersion<DirentRecord>(scope.tx, direntNamePrefix(directoryId, name), scope.snapshotEpoch);
}

/** Marks a record changed now: ctime and the change counter (and mtime for content changes). */
export function touched(record: InodeRecord, nowNs: bigint, content: boolean): InodeRecord {
  const now = nowNs.toString();
  return { ...record, ctimeNs: now, mtimeNs: content ? now : record.mtimeNs, changeId: record.changeId + 1 };
}

/**
 * Removes one link (`directoryId`/`name`) to a non-directory node: link bookkeeping, the
 * directories' aggregates, and, at the last link, the node itself (its data is reclaimed in the
 * background through the orphan queue, in bounded steps).
 */
export async function unlinkNode(scope: WriteScope, id: number, record: InodeRecord, directoryId: number, name: string): Promise<void> {
  const extraLinkKey = linkParentKey(id, directoryId, name);
  let next: InodeRecord = touched(record, scope.nowNs, false);
  if (record.nlink > 1) {
    if ((await scope.tx.get(extraLinkKey)) !== undefined) {
      scope.tx.delete(extraLinkKey);
    } else {
      next = await promoteLink(scope, id, next);
    }
  }
  await adjustAggregates(scope, directoryId, scaleAggregate(contributionOf(record), -1));
  if (record.nlink <= 1) {
    await scope.deleteInode(id);
    if (record.type === 'file') scope.tx.put(orphanKey(id), encodeJson({ queuedAtMs: Number(scope.nowNs / 1_000_000n) }));
    return;
  }
  await scope.setInode(id, { ...next, nlink: record.nlink - 1 });
}

/** The first link is going away: another link becomes the node's first parent. */
async function promoteLink(scope: WriteScope, id: number, record: InodeRecord): Promise<InodeRecord> {
  const prefix = linkParentPrefix(id);
  const [entry] = await scope.tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 1 });
  if (entry === undefined) return record;
  scope.tx.delete(entry.key);
  const promoted = decodeLinkParentKey(entry.key);
  return { ...record, parentId: promoted.parentId, name: promoted.name };
}

export function putFoldedName(scope: WriteScope, directoryId: number, name: string): void {
  scope.tx.put(foldedKey(directoryId, foldName(name), name), new Uint8Array(0));
}

export function deleteFoldedName(scope: WriteScope, directoryId: number, name: string): void {
  scope.tx.delete(foldedKey(directoryId, foldName(name), name));
}
