import { SCAN_LIMIT_MAX, type ReadTransaction, type WriteTransaction } from '../storage/metadata/metadata-store.js';
import { KeyReader } from '../storage/metadata/tuple.js';
import { FsError } from './errors.js';
import type { NodeHandle } from './file-system.js';
import {
  chunkRefKey,
  decodeJson,
  encodeJson,
  gcQueueKey,
  inodeKey,
  inodePrefix,
  metaKey,
  prefixEnd,
  type InodeRecord,
  type Slice,
} from './records.js';
import { aliveEntries, endVersion, readVersion, writeVersion, type Version, type VersionWriter } from './versions.js';

/**
 * Read access to one consistent state of the tree, at the live epoch or at a snapshot's.
 * Caches the inodes it has read.
 */
export class ReadScope {
  protected readonly inodes = new Map<number, Version<InodeRecord> | null>();

  constructor(
    readonly tx: ReadTransaction,
    /** Undefined for the live tree. */
    readonly snapshotEpoch?: number,
  ) {}

  async inodeVersion(id: number): Promise<Version<InodeRecord> | undefined> {
    const cached = this.inodes.get(id);
    if (cached !== undefined) return cached ?? undefined;
    const found = await readVersion<InodeRecord>(this.tx, inodePrefix(id), this.snapshotEpoch);
    this.inodes.set(id, found ?? null);
    return found;
  }

  async inode(id: number): Promise<InodeRecord | undefined> {
    return (await this.inodeVersion(id))?.record;
  }

  /**
   * Many nodes at once (a directory page with attributes): ids that lie close together are read
   * with one range scan instead of one seek each. Missing nodes are absent from the result.
   */
  async inodesMany(ids: readonly number[]): Promise<Map<number, InodeRecord>> {
    const result = new Map<number, InodeRecord>();
    const sorted = [...new Set(ids)].sort((left, right) => left - right);
    let runStart = 0;
    for (let index = 1; index <= sorted.length; index++) {
      const previous = sorted[index - 1] as number;
      const current = sorted[index];
      if (current !== undefined && current - previous <= RUN_GAP_MAX && index - runStart < RUN_IDS_MAX) continue;
      await this.readRun(sorted.slice(runStart, index), result);
      runStart = index;
    }
    return result;
  }

  private async readRun(ids: number[], into: Map<number, InodeRecord>): Promise<void> {
    const first = ids[0] as number;
    const last = ids.at(-1) as number;
    if (ids.length === 1) {
      const record = await this.inode(first);
      if (record !== undefined) into.set(first, record);
      return;
    }
    const wanted = new Set(ids);
    const entries = await this.tx.scan({ start: inodePrefix(first), end: prefixEnd(inodePrefix(last)), limit: SCAN_LIMIT_MAX });
    for (const version of aliveEntries<InodeRecord>(entries, this.snapshotEpoch)) {
      const id = new KeyReader(version.key.subarray(1)).uint();
      if (wanted.has(id)) into.set(id, version.record);
    }
    if (entries.length === SCAN_LIMIT_MAX) {
      // Too many versions in the range to trust one page: read the rest one by one.
      for (const id of ids) {
        if (into.has(id)) continue;
        const record = await this.inode(id);
        if (record !== undefined) into.set(id, record);
      }
    }
  }

  /** The node a handle names; Stale if it no longer exists or the id was reused. */
  async node(handle: NodeHandle): Promise<InodeRecord> {
    const record = await this.inode(handle.id);
    if (record === undefined || record.generation !== handle.generation) {
      throw new FsError('Stale', `node ${handle.id} no longer exists`);
    }
    return record;
  }
}

/**
 * Inode versions as of the latest write transaction, shared by write scopes across transactions
 * (hot directories and the root are read by nearly every change). Whoever owns it drops it
 * whenever a write transaction rolls back (WriteTransaction.onRollback).
 */
export interface InodeCache {
  get(id: number): Version<InodeRecord> | undefined;
  set(id: number, version: Version<InodeRecord> | undefined): void;
  /** Ids for new nodes; reserved in blocks so most creates need no counter write. */
  allocateId(tx: WriteTransaction): Promise<number>;
}

/** Ids at most this far apart share a range scan; a run holds at most this many ids. */
const RUN_GAP_MAX = 8;
const RUN_IDS_MAX = 2_000;

interface PendingInode {
  readonly current: Version<InodeRecord> | undefined;
  record: InodeRecord | null;
}

/**
 * One write transaction of core: inode changes are buffered and written once at `flush`, so an
 * operation that touches a directory's aggregate several times writes its record once; chunk
 * reference counts are adjusted in the same transaction as the records that hold them.
 */
/**
 * Snapshot awareness for a write scope: whether a closed version must be kept for a snapshot,
 * and where to log the first change of a record in an epoch (for diffs and reclaim).
 */
export interface SnapshotHooks {
  retains(tx: WriteTransaction, key: Uint8Array, bornEpoch: number): Promise<boolean>;
  changed(tx: WriteTransaction, epoch: number, recordPrefix: Uint8Array): void;
}

export class WriteScope extends ReadScope implements VersionWriter {
  private readonly pending = new Map<number, PendingInode>();
  private readonly refDeltas = new Map<string, number>();
  /** Chunks whose last reference this transaction dropped (queued for the collector). */
  readonly unreferenced: string[] = [];

  constructor(
    override readonly tx: WriteTransaction,
    readonly epoch: number,
    readonly nowNs: bigint,
    private readonly cache?: InodeCache,
    private readonly snapshots?: SnapshotHooks,
  ) {
    super(tx);
  }

  retains(key: Uint8Array, bornEpoch: number): Promise<boolean> {
    return this.snapshots === undefined ? Promise.resolve(false) : this.snapshots.retains(this.tx, key, bornEpoch);
  }

  changed(recordPrefix: Uint8Array): void {
    this.snapshots?.changed(this.tx, this.epoch, recordPrefix);
  }

  override async inodeVersion(id: number): Promise<Version<InodeRecord> | undefined> {
    const cached = this.cache?.get(id);
    if (cached !== undefined) return cached;
    const found = await super.inodeVersion(id);
    this.cache?.set(id, found);
    return found;
  }

  override async inode(id: number): Promise<InodeRecord | undefined> {
    const pending = this.pending.get(id);
    if (pending !== undefined) return pending.record ?? undefined;
    return super.inode(id);
  }

  /** Stages `record` as the node's new state; callers pass a changed copy, never the cached one. */
  async setInode(id: number, record: InodeRecord): Promise<void> {
    const pending = this.pending.get(id);
    if (pending !== undefined) {
      pending.record = record;
      return;
    }
    this.pending.set(id, { current: await this.inodeVersion(id), record });
  }

  /** Stages a node that did not exist before (a fresh id): nothing to read first. */
  createInode(id: number, record: InodeRecord): void {
    this.pending.set(id, { current: undefined, record });
  }

  async deleteInode(id: number): Promise<void> {
    const pending = this.pending.get(id);
    if (pending !== undefined) {
      pending.record = null;
      return;
    }
    this.pending.set(id, { current: await this.inodeVersion(id), record: null });
  }

  async nextNodeId(): Promise<number> {
    if (this.cache !== undefined) return this.cache.allocateId(this.tx);
    const stored = await this.tx.get(metaKey('nextNodeId'));
    const next = stored === undefined ? 2 : decodeJson<number>(stored);
    this.tx.put(metaKey('nextNodeId'), encodeJson(next + 1));
    return next;
  }

  referenceSlices(slices: readonly Slice[], sign: 1 | -1): void {
    for (const slice of slices) {
      if (slice.zero === true) continue;
      this.refDeltas.set(slice.chunkId, (this.refDeltas.get(slice.chunkId) ?? 0) + sign);
    }
  }

  async flush(): Promise<void> {
    const writer: VersionWriter = this;
    for (const [id, pending] of this.pending) {
      if (pending.record === null) {
        if (pending.current !== undefined) await endVersion(writer, pending.current);
        this.cache?.set(id, undefined);
      } else {
        // writeVersion writes at this scope's epoch, so the key is built once for it and the cache.
        const key = inodeKey(id, this.epoch);
        await writeVersion(writer, () => key, pending.current, pending.record);
        this.cache?.set(id, { key, bornEpoch: this.epoch, record: pending.record });
      }
    }
    this.pending.clear();
    this.inodes.clear();
    await this.flushReferences();
  }

  /** A chunk whose count reaches zero moves to the garbage queue in this same transaction. */
  private async flushReferences(): Promise<void> {
    for (const [chunkId, delta] of this.refDeltas) {
      if (delta === 0) continue;
      const refKey = chunkRefKey(chunkId);
      const stored = await this.tx.get(refKey);
      const count = (stored === undefined ? 0 : decodeJson<number>(stored)) + delta;
      if (count < 0) throw new Error(`chunk ${chunkId} reference count would go negative`);
      if (count === 0) {
        this.tx.delete(refKey);
        this.tx.put(gcQueueKey(chunkId), encodeJson({ queuedAtMs: Number(this.nowNs / 1_000_000n) }));
        this.unreferenced.push(chunkId);
      } else {
        this.tx.put(refKey, encodeJson(count));
      }
    }
    this.refDeltas.clear();
  }
}
