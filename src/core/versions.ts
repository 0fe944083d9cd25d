import type { Entry, ReadTransaction, WriteTransaction } from '../storage/metadata/metadata-store.js';
import { key, readUint64 } from '../storage/metadata/tuple.js';
import { decodeJson, encodeRecord, prefixEnd } from './records.js';

/**
 * Reading and writing versioned records (records.ts). A version is alive at epoch E when it was
 * born at or before E and has not died by E. The live tree reads at the current epoch.
 *
 * Writing at the current epoch: a version born in this epoch is updated or deleted in place (no
 * snapshot can see it); an older one is closed (its `diedEpoch` set) and kept for the snapshots
 * that see it, and a new version is written.
 */

export interface Version<T> {
  readonly key: Uint8Array;
  readonly bornEpoch: number;
  readonly record: T;
}

interface Mortal {
  diedEpoch?: number;
}

function bornEpochOf(entryKey: Uint8Array): number {
  return readUint64(entryKey, entryKey.length - 8);
}

function isAlive(record: Mortal, epoch: number): boolean {
  return record.diedEpoch === undefined || record.diedEpoch > epoch;
}

/**
 * The version under `prefix` alive at `epoch`. With `epoch` undefined, the newest version if it
 * is alive (the live tree). `prefix` must be the record's key without its born-epoch part.
 */
export async function readVersion<T extends Mortal>(
  tx: ReadTransaction,
  prefix: Uint8Array,
  epoch?: number,
): Promise<Version<T> | undefined> {
  const end = epoch === undefined ? prefixEnd(prefix) : key().raw(prefix).uint(epoch + 1).build();
  const [entry] = await tx.scan({ start: prefix, end, limit: 1, reverse: true });
  if (entry === undefined) return undefined;
  const record = decodeJson<T>(entry.value);
  const alive = epoch === undefined ? record.diedEpoch === undefined : isAlive(record, epoch);
  return alive ? { key: entry.key, bornEpoch: bornEpochOf(entry.key), record } : undefined;
}

/** Picks from a scan over consecutive versions of many records the ones alive at `epoch`. */
export function aliveEntries<T extends Mortal>(entries: readonly Entry[], epoch?: number): Array<Version<T>> {
  const result: Array<Version<T>> = [];
  for (const entry of entries) {
    const record = decodeJson<T>(entry.value);
    const bornEpoch = bornEpochOf(entry.key);
    const alive = epoch === undefined ? record.diedEpoch === undefined : bornEpoch <= epoch && isAlive(record, epoch);
    if (alive) result.push({ key: entry.key, bornEpoch, record });
  }
  return result;
}

export interface VersionWriter {
  readonly epoch: number;
  readonly tx: WriteTransaction;
  /**
   * Whether a version born before this epoch must be kept (closed, not dropped) because a
   * snapshot still sees it. Absent: no snapshot needs anything, drop it.
   */
  retains?(key: Uint8Array, bornEpoch: number): Promise<boolean>;
  /** Told of the first change of a record in this epoch (its key without the born epoch). */
  changed?(recordPrefix: Uint8Array): void;
}

function recordPrefixOf(versionKey: Uint8Array): Uint8Array {
  return versionKey.subarray(0, versionKey.length - 8);
}

/**
 * Replaces the live version `current` (or creates the first one) with `record`. Returns 'new'
 * (there was none), 'replaced' (the old version is gone: the caller releases what it referenced)
 * or 'kept' (a snapshot still sees the old version, which is closed and keeps its references).
 */
export async function writeVersion<T extends Mortal>(
  writer: VersionWriter,
  makeKey: (bornEpoch: number) => Uint8Array,
  current: Version<T> | undefined,
  record: T,
): Promise<'replaced' | 'kept' | 'new'> {
  const { tx, epoch } = writer;
  // A new version is alive: no died epoch is stored (both encodings leave out undefined fields).
  const fresh = record.diedEpoch === undefined ? record : { ...record, diedEpoch: undefined };
  const key = makeKey(epoch);
  tx.put(key, encodeRecord(key, fresh));
  if (current === undefined) {
    writer.changed?.(recordPrefixOf(key));
    return 'new';
  }
  if (current.bornEpoch === epoch) return 'replaced';
  writer.changed?.(recordPrefixOf(key));
  if (writer.retains !== undefined && (await writer.retains(current.key, current.bornEpoch))) {
    tx.put(current.key, encodeRecord(current.key, { ...current.record, diedEpoch: epoch }));
    return 'kept';
  }
  tx.delete(current.key);
  return 'replaced';
}

/** Ends the live version `current`: dropped unless a snapshot still sees it, then closed. */
export async function endVersion<T extends Mortal>(writer: VersionWriter, current: Version<T>): Promise<'deleted' | 'kept'> {
  const { tx, epoch } = writer;
  if (current.bornEpoch !== epoch) writer.changed?.(recordPrefixOf(current.key));
  if (current.bornEpoch !== epoch && writer.retains !== undefined && (await writer.retains(current.key, current.bornEpoch))) {
    tx.put(current.key, encodeRecord(current.key, { ...current.record, diedEpoch: epoch }));
    return 'kept';
  }
  tx.delete(current.key);
  return 'deleted';
}
