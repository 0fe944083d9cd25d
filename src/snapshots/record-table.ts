import { FsError } from '../core/errors.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { ReadTransaction, WriteTransaction } from '../storage/metadata/metadata-store.js';
import { key, KeyReader, prefixEnd } from '../storage/metadata/tuple.js';

/**
 * A small table of JSON records in the metadata store, for the snapshot module's own state. It
 * lives in Keyspace.settings under the sub-tags 0x50-0x5f, which settings/settings-store.ts
 * leaves to this module (SettingsTag stops at 0x11):
 *   [settings, tag, 0x00]            -> last id issued (JSON number)
 *   [settings, tag, 0x01, uint id]   -> record (JSON)
 * Ids are decimal strings of positive integers, never reused.
 */
export const SnapshotTag = {
  securityKeys: 0x50,
  policies: 0x51,
  /** Scheduler state per policy (last run, last error), apart so a run does not bump the policy's version. */
  policyRuns: 0x52,
} as const;

const COUNTER = 0x00;
const RECORD = 0x01;
const ID_PATTERN = /^[1-9][0-9]{0,14}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Record ids are decimal strings; anything else names no record. */
export function parseTableId(id: string): number | undefined {
  return ID_PATTERN.test(id) ? Number(id) : undefined;
}

export class RecordTable<T> {
  constructor(
    private readonly tag: number,
    /** Also the scan limit: a table never holds more, so one scan reads it whole. */
    readonly recordsMax: number,
  ) {}

  private recordKey(id: number): Uint8Array {
    return key().byte(Keyspace.settings).byte(this.tag).byte(RECORD).uint(id).build();
  }

  async get(tx: ReadTransaction, id: string): Promise<T | undefined> {
    const number = parseTableId(id);
    if (number === undefined) return undefined;
    const bytes = await tx.get(this.recordKey(number));
    return bytes === undefined ? undefined : (JSON.parse(decoder.decode(bytes)) as T);
  }

  async list(tx: ReadTransaction): Promise<Array<{ id: string; value: T }>> {
    const prefix = key().byte(Keyspace.settings).byte(this.tag).byte(RECORD).build();
    const entries = await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: this.recordsMax });
    return entries.map((entry) => {
      const reader = new KeyReader(entry.key);
      reader.byte();
      reader.byte();
      reader.byte();
      return { id: String(reader.uint()), value: JSON.parse(decoder.decode(entry.value)) as T };
    });
  }

  /** Issues the next id; the caller then `put`s the record under it in the same transaction. */
  async nextId(tx: WriteTransaction, title: string): Promise<string> {
    const existing = await this.list(tx);
    if (existing.length >= this.recordsMax) throw new FsError('NoSpace', `at most ${this.recordsMax} ${title}s`);
    const counterKey = key().byte(Keyspace.settings).byte(this.tag).byte(COUNTER).build();
    const counter = await tx.get(counterKey);
    const id = (counter === undefined ? 0 : (JSON.parse(decoder.decode(counter)) as number)) + 1;
    tx.put(counterKey, encoder.encode(JSON.stringify(id)));
    return String(id);
  }

  put(tx: WriteTransaction, id: string, value: T): void {
    const number = parseTableId(id);
    if (number === undefined) throw new Error(`assertion failed: record id ${id} is malformed`);
    tx.put(this.recordKey(number), encoder.encode(JSON.stringify(value)));
  }

  delete(tx: WriteTransaction, id: string): void {
    const number = parseTableId(id);
    if (number !== undefined) tx.delete(this.recordKey(number));
  }
}
