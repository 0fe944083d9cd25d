import type { ReadTransaction, WriteTransaction } from '../../storage/metadata/metadata-store.js';
import { changeByEpochKey, changeByRecordKey, decodeJson, inodePrefix, prefixEnd, RecordType, ROOT_ID, typePrefix, type InodeRecord, type SnapshotRecord } from '../records.js';
import type { SnapshotHooks } from '../scope.js';
import { readVersion } from '../versions.js';

const COVERAGE_CACHE_ENTRIES_MAX = 100_000;
const DEPTH_MAX = 2_100;
const SNAPSHOTS_MAX = 100_000;
const LOAD_PAGE = 5_000;

function nodeIdOf(versionKey: Uint8Array): number {
  const view = new DataView(versionKey.buffer, versionKey.byteOffset + 1, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

/**
 * The live snapshots, in memory (loaded at open, changed in the transactions that create and
 * delete them), and the snapshot side of every write: whether a version that is being replaced
 * must be kept because a snapshot sees it (WriteScope.retains), and the change log that makes
 * diffs and reclaim cost what changed, not the size of the tree.
 *
 * A version born at epoch b that is replaced now is seen by snapshot s when b <= s.epoch and the
 * record's node lay under s's root at s.epoch. Where a node lay at a past epoch never changes, so
 * those answers are cached for good.
 */
export class SnapshotRegistry implements SnapshotHooks {
  private readonly byId = new Map<number, SnapshotRecord>();
  private byEpoch: SnapshotRecord[] = [];
  private readonly coverage = new Map<string, boolean>();

  static async load(tx: ReadTransaction): Promise<SnapshotRegistry> {
    const registry = new SnapshotRegistry();
    const prefix = typePrefix(RecordType.snapshot);
    let start = prefix;
    for (let loaded = 0; loaded < SNAPSHOTS_MAX; ) {
      const entries = await tx.scan({ start, end: prefixEnd(prefix), limit: LOAD_PAGE });
      for (const entry of entries) registry.add(decodeJson<SnapshotRecord>(entry.value));
      loaded += entries.length;
      const last = entries.at(-1);
      if (entries.length < LOAD_PAGE || last === undefined) break;
      start = prefixEnd(last.key);
    }
    return registry;
  }

  get(id: number): SnapshotRecord | undefined {
    return this.byId.get(id);
  }

  /** Every snapshot, oldest first. */
  list(): readonly SnapshotRecord[] {
    return this.byEpoch;
  }

  get size(): number {
    return this.byId.size;
  }

  add(record: SnapshotRecord): void {
    const replacing = this.byId.has(record.id);
    this.byId.set(record.id, record);
    if (!replacing && (this.byEpoch.at(-1)?.epoch ?? -1) <= record.epoch) {
      this.byEpoch.push(record);
      return;
    }
    this.byEpoch = [...this.byEpoch.filter((other) => other.id !== record.id), record].sort((left, right) => left.epoch - right.epoch || left.id - right.id);
  }

  remove(id: number): void {
    this.byId.delete(id);
    this.byEpoch = this.byEpoch.filter((other) => other.id !== id);
  }

  /** Does any snapshot see the version of this record born at `bornEpoch` and dying now? */
  async retains(tx: WriteTransaction, key: Uint8Array, bornEpoch: number): Promise<boolean> {
    return this.retainedBetween(tx, nodeIdOf(key), bornEpoch, Number.MAX_SAFE_INTEGER);
  }

  /** Does a snapshot other than `except` see a version of node `nodeId` alive in [born, died)? */
  async retainedBetween(tx: ReadTransaction, nodeId: number, bornEpoch: number, diedEpoch: number, except?: number): Promise<boolean> {
    for (const snapshot of this.byEpoch) {
      if (snapshot.epoch < bornEpoch || snapshot.id === except) continue;
      if (snapshot.epoch >= diedEpoch) break;
      if (await this.covers(tx, snapshot, nodeId)) return true;
    }
    return false;
  }

  changed(tx: WriteTransaction, epoch: number, recordPrefix: Uint8Array): void {
    if (this.byId.size === 0) return;
    tx.put(changeByEpochKey(epoch, recordPrefix), new Uint8Array(0));
    tx.put(changeByRecordKey(recordPrefix, epoch), new Uint8Array(0));
  }

  /** Was node `nodeId` at or under the snapshot's root at its epoch? */
  async covers(tx: ReadTransaction, snapshot: SnapshotRecord, nodeId: number): Promise<boolean> {
    const visited: number[] = [];
    let id = nodeId;
    let answer = false;
    for (let depth = 0; depth < DEPTH_MAX; depth++) {
      if (id === snapshot.rootId) {
        answer = true;
        break;
      }
      const cached = this.coverage.get(`${snapshot.epoch}:${snapshot.rootId}:${id}`);
      if (cached !== undefined) {
        answer = cached;
        break;
      }
      const version = await readVersion<InodeRecord>(tx, inodePrefix(id), snapshot.epoch);
      if (version === undefined) break;
      // A hard-linked file may be under the root through a link other than its first: keep it.
      if (version.record.type !== 'directory' && version.record.nlink > 1) return true;
      if (version.record.type === 'directory') visited.push(id);
      if (id === ROOT_ID) break;
      id = version.record.parentId;
    }
    if (this.coverage.size + visited.length > COVERAGE_CACHE_ENTRIES_MAX) this.coverage.clear();
    for (const directoryId of visited) this.coverage.set(`${snapshot.epoch}:${snapshot.rootId}:${directoryId}`, answer);
    return answer;
  }
}
