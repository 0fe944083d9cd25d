import type { Entry, Key, MetadataStore, ReadTransaction, ScanOptions, Value } from '../storage/metadata/metadata-store.js';
import { latin1Of, readUint64 } from '../storage/metadata/tuple.js';
import { prefixEnd, RecordType } from './records.js';

/**
 * A cache of the newest stored version of versioned records (inodes, directory entries, segments)
 * as read transactions of the live tree saw them, so that hot nodes are not read (and, with
 * the page cipher, decrypted) again on every call: SQLite drops a reader connection's whole page cache
 * whenever anything commits.
 *
 * It is exact, by commit sequence numbers (MetadataStore.onCommitted, ReadTransaction.sequence):
 * - every commit marks each versioned record it wrote as changed at its sequence;
 * - a read transaction at sequence r uses an entry only if the entry was read at a sequence <= r
 *   (so it is what r's snapshot holds: any later change would have replaced it with a mark);
 * - a read at r fills an entry only if no mark newer than r exists and nothing was forgotten
 *   since r (when full, the cache is emptied and remembers the sequence it was emptied at).
 * Only the exact shape of a live version read is served (versions.ts readVersion without an
 * epoch: the newest entry under a record's prefix, reverse, limit 1); write transactions never use
 * it (they see uncommitted changes of their batch).
 *
 * Write-through (with `liveEpoch`): a commit that leaves a version born in the live epoch fills its
 * record's slot with that version instead of marking it, so what was just written (the inode,
 * entry and segment of a new file) is read back without a store read. Exact because versions are
 * only ever born in the live epoch, which never goes back: no key under the record's prefix can
 * be newer. Per record, the commit's newest key decides (versions.ts writes the new version, then
 * closes the old one under an older key); if that key was deleted, or was born before the live
 * epoch (a snapshot was taken meanwhile, or background work closed an old version), it is a mark.
 */
const VERSIONED = new Set<number>([RecordType.inode, RecordType.dirent, RecordType.segment]);
/** A version key is its record's prefix plus the born epoch (8 bytes). */
const BORN_EPOCH_BYTES = 8;

interface Slot {
  readonly sequence: number;
  /** The newest entry under the prefix (null: none); undefined: only a mark of a change. */
  readonly entry?: Entry | null;
}

export class VersionCache {
  private readonly slots = new Map<string, Slot>();
  /** Reads older than this may not fill: marks of commits up to it were forgotten. */
  private emptiedAt = 0;
  /** The newest commit reported. */
  private latestCommit = 0;
  private readonly stop: () => void;

  constructor(
    metadata: MetadataStore & { onCommitted: NonNullable<MetadataStore['onCommitted']> },
    private readonly slotsMax = 32_768,
    /** The live epoch (Engine.epoch), for write-through; absent: commits only mark. */
    private readonly liveEpoch?: () => number,
  ) {
    this.stop = metadata.onCommitted((keys, sequence, values) => this.committed(keys, sequence, values));
  }

  static for(metadata: MetadataStore, options: { slotsMax?: number; liveEpoch?: () => number } = {}): VersionCache | undefined {
    return metadata.onCommitted === undefined ? undefined : new VersionCache(metadata as MetadataStore & { onCommitted: NonNullable<MetadataStore['onCommitted']> }, options.slotsMax, options.liveEpoch);
  }

  close(): void {
    this.stop();
    this.slots.clear();
  }

  /** `tx`, with live version reads served from and remembered in the cache. */
  reading(tx: ReadTransaction): ReadTransaction {
    const sequence = tx.sequence;
    if (sequence === undefined) return tx;
    return {
      sequence,
      get: (key: Key) => tx.get(key),
      scan: async (options: ScanOptions) => {
        const slotKey = versionReadOf(options);
        if (slotKey === undefined) return tx.scan(options);
        const slot = this.slots.get(slotKey);
        if (slot !== undefined && slot.entry !== undefined && slot.sequence <= sequence) return slot.entry === null ? [] : [slot.entry];
        const entries = await tx.scan(options);
        this.fill(slotKey, entries[0] ?? null, sequence);
        return entries;
      },
    };
  }

  get size(): number {
    return this.slots.size;
  }

  private fill(slotKey: string, entry: Entry | null, sequence: number): void {
    if (sequence < this.emptiedAt) return;
    const slot = this.slots.get(slotKey);
    // A newer mark: this read is older than a change. An entry: already known.
    if (slot !== undefined && (slot.entry !== undefined || slot.sequence > sequence)) return;
    this.put(slotKey, { sequence, entry });
  }

  private committed(keys: readonly Key[], sequence: number, values: readonly (Value | undefined)[]): void {
    this.latestCommit = Math.max(this.latestCommit, sequence);
    // Per record: the commit's newest key and what the commit left under it.
    const newest = new Map<string, { bornEpoch: number; key: Key; value: Value | undefined }>();
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as Key;
      if (key.length <= BORN_EPOCH_BYTES || !VERSIONED.has(key[0] as number)) continue;
      const slotKey = latin1Of(key, key.length - BORN_EPOCH_BYTES);
      const bornEpoch = bornEpochOf(key);
      const seen = newest.get(slotKey);
      if (seen === undefined || bornEpoch >= seen.bornEpoch) newest.set(slotKey, { bornEpoch, key, value: values[index] });
    }
    const live = this.liveEpoch?.();
    for (const [slotKey, { bornEpoch, key, value }] of newest) {
      this.put(slotKey, value !== undefined && live !== undefined && bornEpoch >= live ? { sequence, entry: { key, value } } : { sequence });
    }
  }

  private put(slotKey: string, slot: Slot): void {
    if (this.slots.size >= this.slotsMax && !this.slots.has(slotKey)) {
      // Emptying at once is O(1) amortised. The marks of every commit so far are forgotten, so a
      // read older than the newest commit may no longer fill (it could be older than a mark).
      this.slots.clear();
      this.emptiedAt = this.latestCommit;
    }
    this.slots.set(slotKey, slot);
  }
}

function bornEpochOf(key: Key): number {
  return readUint64(key, key.length - BORN_EPOCH_BYTES);
}

/** The slot key of a live version read (reverse, limit 1, over exactly one record's prefix). */
function versionReadOf(options: ScanOptions): string | undefined {
  const { start, end } = options;
  if (options.limit !== 1 || options.reverse !== true || start.length === 0 || !VERSIONED.has(start[0] as number)) return undefined;
  const expected = prefixEnd(start);
  if (expected.length !== end.length) return undefined;
  for (let index = 0; index < end.length; index++) if (expected[index] !== end[index]) return undefined;
  return latin1Of(start);
}
