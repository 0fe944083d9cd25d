import type { MetadataStore, WriteTransaction } from '../../storage/metadata/metadata-store.js';
import { KeyReader } from '../../storage/metadata/tuple.js';
import {
  changeByEpochPrefix,
  changeByRecordKey,
  decodeJson,
  encodeJson,
  prefixEnd,
  RecordType,
  snapshotReclaimKey,
  typePrefix,
  type SegmentRecord,
  type SnapshotRecord,
} from '../records.js';
import type { WriteScope } from '../scope.js';
import type { SnapshotRegistry } from './registry.js';

interface ReclaimProgress {
  readonly snapshot: SnapshotRecord;
  /** The last change-log key handled, base64: the next batch starts after it. */
  readonly afterKey?: string;
}

const VERSIONS_PER_RECORD_MAX = 10_000;

function nodeIdOf(recordPrefix: Uint8Array): number {
  return new KeyReader(recordPrefix.subarray(1)).uint();
}

/**
 * Frees what only a deleted snapshot held, in bounded, crash-safe steps. The versions a snapshot
 * at epoch E kept are exactly those born at or before E that died after it; each died in a later
 * epoch, which the change log recorded. So reclaim walks the change log after E (cost: what
 * changed since, not the tree), drops each such version no other snapshot sees, and releases its
 * chunks in the same transaction. Progress is stored with the work item, so a crash resumes.
 * Once no snapshot needs old change-log entries, they are trimmed too.
 */
export class SnapshotReclaimer {
  constructor(
    private readonly options: {
      metadata: MetadataStore;
      registry: () => SnapshotRegistry;
      newScope: (tx: WriteTransaction) => WriteScope;
      batchMax: number;
    },
  ) {}

  /** One bounded step; returns how many versions it dropped (0 when there was nothing to do). */
  async step(): Promise<number> {
    const { metadata } = this.options;
    const prefix = typePrefix(RecordType.snapshotReclaim);
    const [work] = await metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 1 }));
    if (work === undefined) return this.trimChangeLog();
    const progress = decodeJson<ReclaimProgress>(work.value);
    return metadata.write(async (tx) => {
      const scope = this.options.newScope(tx);
      const start = progress.afterKey === undefined ? changeByEpochPrefix(progress.snapshot.epoch + 1) : prefixEnd(Buffer.from(progress.afterKey, 'base64'));
      const entries = await tx.scan({ start, end: prefixEnd(typePrefix(RecordType.changeByEpoch)), limit: this.options.batchMax });
      let dropped = 0;
      for (const entry of entries) dropped += await this.reclaimRecord(scope, entry.key.subarray(9), progress.snapshot);
      const last = entries.at(-1);
      if (entries.length < this.options.batchMax || last === undefined) tx.delete(work.key);
      else tx.put(work.key, encodeJson({ ...progress, afterKey: Buffer.from(last.key).toString('base64') }));
      await scope.flush();
      return dropped + (entries.length === 0 ? 0 : 1);
    });
  }

  private async reclaimRecord(scope: WriteScope, recordPrefix: Uint8Array, deleted: SnapshotRecord): Promise<number> {
    const versions = await scope.tx.scan({ start: recordPrefix, end: prefixEnd(recordPrefix), limit: VERSIONS_PER_RECORD_MAX });
    let dropped = 0;
    for (const version of versions) {
      if (version.key.length !== recordPrefix.length + 8) continue;
      const record = decodeJson<{ diedEpoch?: number }>(version.value);
      const born = new KeyReader(version.key.subarray(recordPrefix.length)).uint();
      if (record.diedEpoch === undefined || born > deleted.epoch || record.diedEpoch <= deleted.epoch) continue;
      if (await this.options.registry().retainedBetween(scope.tx, nodeIdOf(recordPrefix), born, record.diedEpoch)) continue;
      scope.tx.delete(version.key);
      if (recordPrefix[0] === RecordType.segment) scope.referenceSlices((record as SegmentRecord).slices, -1);
      dropped++;
    }
    return dropped;
  }

  /** Drops change-log entries no snapshot can need: those at or before the oldest snapshot. */
  private async trimChangeLog(): Promise<number> {
    const oldest = this.options.registry().list()[0];
    const end = oldest === undefined ? prefixEnd(typePrefix(RecordType.changeByEpoch)) : changeByEpochPrefix(oldest.epoch + 1);
    return this.options.metadata.write(async (tx) => {
      const entries = await tx.scan({ start: typePrefix(RecordType.changeByEpoch), end, limit: this.options.batchMax });
      for (const entry of entries) {
        const epoch = new KeyReader(entry.key.subarray(1)).uint();
        tx.delete(entry.key);
        tx.delete(changeByRecordKey(entry.key.subarray(9), epoch));
      }
      return entries.length;
    });
  }
}
