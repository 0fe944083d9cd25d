import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore, ReadTransaction } from '../storage/metadata/metadata-store.js';
import { key, KeyReader, prefixEnd } from '../storage/metadata/tuple.js';
import type { AuditAppender } from './auditor.js';
import type { CheckpointKey } from './checkpoint-key.js';
import type { AuditEvent, AuditRecordEvent } from './events.js';
import { verifyLog, type VerifyResult } from './verify.js';

/**
 * The local audit log: append-only, hash-chained, in the metadata store (so encrypted at rest
 * like all metadata). Layout under Keyspace.audit:
 *   [audit, 0x01, uint seq] -> StoredRecord (JSON). Its bytes are the record's canonical bytes:
 *                              the next record's `prev` is their SHA-256.
 *   [audit, 0x02]           -> SignedHead: the last record's seq and hash, signed, so deleting
 *                              records after the last checkpoint is detected too.
 * Checkpoint records (every `checkpointEveryRecords` records or `checkpointIntervalMs`) carry an
 * Ed25519 signature over (seq, prev, time): they anchor the chain, and the first record left by a
 * retention trim is always one.
 */
export type RecordKind = 'event' | 'checkpoint' | 'trim';

export interface StoredRecord {
  readonly seq: number;
  /** SHA-256 (hex) of the previous record's stored bytes; 64 zeros for record 1. */
  readonly prev: string;
  readonly time: number;
  readonly kind: RecordKind;
  readonly event?: AuditEvent;
  /** On checkpoints: signature over checkpointMessage(seq, prev, time). */
  readonly signature?: string;
  /** On trims: records up to and including `throughSeq` were removed by retention. */
  readonly trim?: { readonly throughSeq: number; readonly records: number; readonly reason: string };
}

export interface SignedHead {
  readonly seq: number;
  readonly hash: string;
  readonly signature: string;
}

export const GENESIS_HASH = '0'.repeat(64);
const RECORD = 0x01;
const HEAD = 0x02;
const TRIM_MARKER = 0x03;
/** 0x04: sink cursors (syslog/sink-cursors.ts). */
const SIZE = 0x05;
const SCAN_PAGE_RECORDS = 1_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const recordPrefix = (): Uint8Array => key().byte(Keyspace.audit).byte(RECORD).build();
export const recordKey = (seq: number): Uint8Array => key().byte(Keyspace.audit).byte(RECORD).uint(seq).build();
export const headKey = (): Uint8Array => key().byte(Keyspace.audit).byte(HEAD).build();
/** The `throughSeq` of the last trim record, so an interrupted trim is finished by the next one. */
const trimMarkerKey = (): Uint8Array => key().byte(Keyspace.audit).byte(TRIM_MARKER).build();
/** The stored bytes of all records (JSON number), kept with every append and trim, for retention by size. */
const sizeKey = (): Uint8Array => key().byte(Keyspace.audit).byte(SIZE).build();
export const hashOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
export const checkpointMessage = (seq: number, prev: string, time: number): string => `enclave-audit-checkpoint/v1\n${seq}\n${prev}\n${time}`;
export const headMessage = (seq: number, hash: string): string => `enclave-audit-head/v1\n${seq}\n${hash}`;
export const decodeRecord = (bytes: Uint8Array): StoredRecord => JSON.parse(decoder.decode(bytes)) as StoredRecord;

export function seqOfKey(bytes: Uint8Array): number {
  const reader = new KeyReader(bytes);
  reader.byte();
  reader.byte();
  return reader.uint();
}

export interface LocalLogOptions {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  readonly key: CheckpointKey;
  readonly checkpointEveryRecords?: number;
  readonly checkpointIntervalMs?: number;
}

export interface EventQuery {
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly user?: string;
  readonly pathPrefix?: string;
  readonly protocol?: string;
  readonly operation?: string;
  readonly status?: string;
  /** Cursor: only records after this sequence number. */
  readonly afterSeq?: number;
  readonly limit: number;
  /** Records examined per call at most; the cursor resumes the scan. */
  readonly scanRecordsMax?: number;
}

export interface EventPage {
  readonly events: AuditRecordEvent[];
  /** Pass as `after` for the next page; absent when the log has nothing further. */
  readonly next?: number;
}

/** Retention (configured through `/v1/audit/retention`, audit/retention-config.ts). */
export interface RetentionPolicy {
  /** Records older than this go. */
  readonly ageMaxMs: number;
  /** The oldest records go while the log's stored records take more bytes than this. */
  readonly sizeMaxBytes: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { ageMaxMs: 90 * 86_400_000, sizeMaxBytes: 4 * 1024 ** 3 };

export class LocalAuditLog implements AuditAppender {
  private readonly metadata: MetadataStore;
  private readonly clock: Clock;
  private readonly key: CheckpointKey;
  private readonly checkpointEveryRecords: number;
  private readonly checkpointIntervalMs: number;
  private head = { seq: 0, hash: GENESIS_HASH };
  /** Stored bytes of all records (the values under [audit, 0x01]). */
  private sizeBytes = 0;
  private sinceCheckpoint = 0;
  private lastCheckpointMs = 0;
  /** Appends and trims run one at a time, so `head` is always the stored one. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(options: LocalLogOptions) {
    this.metadata = options.metadata;
    this.clock = options.clock;
    this.key = options.key;
    this.checkpointEveryRecords = options.checkpointEveryRecords ?? 1_000;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 60_000;
  }

  static async open(options: LocalLogOptions): Promise<LocalAuditLog> {
    const log = new LocalAuditLog(options);
    await log.metadata.read(async (tx) => {
      const prefix = recordPrefix();
      const [last] = await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 1, reverse: true });
      if (last !== undefined) log.head = { seq: seqOfKey(last.key), hash: hashOf(last.value) };
      const recent = await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: log.checkpointEveryRecords, reverse: true });
      const lastCheckpoint = recent.findIndex((entry) => decodeRecord(entry.value).kind === 'checkpoint');
      log.sinceCheckpoint = lastCheckpoint < 0 ? recent.length : lastCheckpoint;
      log.lastCheckpointMs = lastCheckpoint < 0 ? log.clock.nowMs() : decodeRecord((recent[lastCheckpoint] as { value: Uint8Array }).value).time;
    });
    log.sizeBytes = await log.storedSize();
    return log;
  }

  publicKeyPem(): string {
    return this.key.publicKeyPem();
  }

  /** Appends events in order, adding a checkpoint when one is due. Resolves once durable. */
  append(events: readonly AuditEvent[]): Promise<AuditRecordEvent[]> {
    return this.serialised(async () => {
      const out: AuditRecordEvent[] = [];
      const records: StoredRecord[] = events.map((event) => ({ seq: 0, prev: '', time: event.time, kind: 'event', event }));
      await this.commit(records, (record) => {
        if (record.event !== undefined) out.push({ ...record.event, seq: record.seq });
      });
      return out;
    });
  }

  /** Writes a checkpoint now if any record was appended since the last one (call it on a timer). */
  checkpoint(): Promise<void> {
    return this.serialised(async () => {
      if (this.sinceCheckpoint > 0) await this.commit([], () => undefined, true);
    });
  }

  /** The last sequence number issued. */
  lastSeq(): number {
    return this.head.seq;
  }

  /** Bytes the stored records take (what retention by size counts). */
  storedBytes(): number {
    return this.sizeBytes;
  }

  /** The stored total, or (a log written before it was kept) a count of every record, stored once. */
  private async storedSize(): Promise<number> {
    const stored = await this.metadata.read((tx) => tx.get(sizeKey()));
    if (stored !== undefined) return Number(decoder.decode(stored));
    let total = 0;
    let after = 0;
    for (;;) {
      const page = await this.metadata.read((tx) => tx.scan({ start: recordKey(after + 1), end: prefixEnd(recordPrefix()), limit: SCAN_PAGE_RECORDS }));
      if (page.length === 0) break;
      for (const entry of page) total += entry.value.byteLength;
      after = seqOfKey((page[page.length - 1] as { key: Uint8Array }).key);
    }
    await this.metadata.write(async (tx) => tx.put(sizeKey(), encoder.encode(String(total))));
    return total;
  }

  async verify(): Promise<VerifyResult> {
    return verifyLog(this.metadata, this.key);
  }

  async query(query: EventQuery): Promise<EventPage> {
    const scanMax = query.scanRecordsMax ?? 50_000;
    const events: AuditRecordEvent[] = [];
    let after = query.afterSeq ?? 0;
    let scanned = 0;
    const end = prefixEnd(recordPrefix());
    while (events.length < query.limit && scanned < scanMax) {
      const page = await this.metadata.read((tx) => tx.scan({ start: recordKey(after + 1), end, limit: Math.min(SCAN_PAGE_RECORDS, scanMax - scanned) }));
      if (page.length === 0) return { events };
      for (const entry of page) {
        scanned++;
        after = seqOfKey(entry.key);
        const record = decodeRecord(entry.value);
        if (record.event !== undefined && matches(record.event, query)) events.push({ ...record.event, seq: record.seq });
        if (events.length >= query.limit) break;
      }
    }
    return { events, next: after };
  }

  /**
   * Retention: removes the oldest records, but only a whole prefix that verifies and that ends just
   * before a checkpoint (the new first record, a signed anchor), then appends a `trim` record
   * naming what went. The trim record is written before the deletes, so a crash in between leaves
   * a log that still verifies, and the next call finishes the job. Returns the records removed.
   */
  trim(policy: RetentionPolicy = DEFAULT_RETENTION): Promise<number> {
    return this.serialised(async () => {
      const plan = await this.metadata.read((tx) => planTrim(tx, policy, this.clock.nowMs(), this.sizeBytes));
      if (plan.pendingThrough === undefined && plan.anchorSeq === undefined) return 0;
      let through = plan.pendingThrough ?? 0;
      if (plan.anchorSeq !== undefined && plan.anchorSeq - 1 > through) {
        const verified = await verifyLog(this.metadata, this.key, { throughSeq: plan.anchorSeq });
        if (!verified.ok) return 0;
        through = plan.anchorSeq - 1;
        const trimRecord: StoredRecord = { seq: 0, prev: '', time: this.clock.nowMs(), kind: 'trim', trim: { throughSeq: through, records: through - plan.firstSeq + 1, reason: plan.reason } };
        await this.commit([trimRecord], () => undefined);
        await this.metadata.write(async (tx) => tx.put(trimMarkerKey(), encoder.encode(String(through))));
      }
      let removed = 0;
      for (;;) {
        const count = await this.metadata.write(async (tx) => {
          const entries = await tx.scan({ start: recordPrefix(), end: recordKey(through + 1), limit: 5_000 });
          let bytes = 0;
          for (const entry of entries) {
            tx.delete(entry.key);
            bytes += entry.value.byteLength;
          }
          // Committed only with the deletes: the total stays the bytes actually stored.
          const total = Math.max(0, this.sizeBytes - bytes);
          tx.put(sizeKey(), encoder.encode(String(total)));
          return { entries: entries.length, total };
        }).then(({ entries, total }) => {
          this.sizeBytes = total;
          return entries;
        });
        removed += count;
        if (count === 0) return removed;
      }
    });
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Chains and stores `records` (seq and prev filled in here), with a checkpoint when due. */
  private async commit(records: StoredRecord[], onStored: (record: StoredRecord) => void, forceCheckpoint = false): Promise<void> {
    let { seq, hash } = this.head;
    let since = this.sinceCheckpoint;
    let lastCheckpointMs = this.lastCheckpointMs;
    const stored: Array<{ record: StoredRecord; bytes: Uint8Array }> = [];
    const add = (record: StoredRecord): void => {
      seq++;
      const chained: StoredRecord = { ...record, seq, prev: hash };
      const bytes = encoder.encode(JSON.stringify(chained));
      hash = hashOf(bytes);
      stored.push({ record: chained, bytes });
    };
    for (const record of records) {
      add(record);
      since++;
    }
    const nowMs = this.clock.nowMs();
    if (forceCheckpoint || since >= this.checkpointEveryRecords || (since > 0 && nowMs - lastCheckpointMs >= this.checkpointIntervalMs)) {
      const prev = hash;
      add({ seq: 0, prev: '', time: nowMs, kind: 'checkpoint', signature: this.key.sign(checkpointMessage(seq + 1, prev, nowMs)) });
      since = 0;
      lastCheckpointMs = nowMs;
    }
    if (stored.length === 0) return;
    const head: SignedHead = { seq, hash, signature: this.key.sign(headMessage(seq, hash)) };
    const sizeBytes = stored.reduce((total, { bytes }) => total + bytes.byteLength, this.sizeBytes);
    await this.metadata.write(async (tx) => {
      for (const { record, bytes } of stored) tx.put(recordKey(record.seq), bytes);
      tx.put(headKey(), encoder.encode(JSON.stringify(head)));
      tx.put(sizeKey(), encoder.encode(String(sizeBytes)));
    });
    this.head = { seq, hash };
    this.sizeBytes = sizeBytes;
    this.sinceCheckpoint = since;
    this.lastCheckpointMs = lastCheckpointMs;
    for (const { record } of stored) onStored(record);
  }
}

function matches(event: AuditEvent, query: EventQuery): boolean {
  if (query.fromMs !== undefined && event.time < query.fromMs) return false;
  if (query.toMs !== undefined && event.time >= query.toMs) return false;
  if (query.protocol !== undefined && event.protocol !== query.protocol) return false;
  if (query.operation !== undefined && event.operation !== query.operation) return false;
  if (query.status !== undefined && event.status !== query.status) return false;
  if (query.user !== undefined && ![event.user.name, event.user.sid, event.user.id, event.user.uid === undefined ? undefined : String(event.user.uid)].includes(query.user)) return false;
  if (query.pathPrefix !== undefined && !(event.path?.startsWith(query.pathPrefix) === true || event.targetPath?.startsWith(query.pathPrefix) === true)) return false;
  return true;
}

interface TrimPlan {
  readonly firstSeq: number;
  /** A trim record already names records up to here (an earlier trim was interrupted). */
  readonly pendingThrough?: number;
  /** The checkpoint that becomes the new first record. */
  readonly anchorSeq?: number;
  readonly reason: string;
}

/** Finds the last checkpoint before which every record is out of policy (too old, or over the size). */
async function planTrim(tx: ReadTransaction, policy: RetentionPolicy, nowMs: number, storedBytes: number): Promise<TrimPlan> {
  const prefix = recordPrefix();
  const [first] = await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 1 });
  if (first === undefined) return { firstSeq: 0, reason: '' };
  const firstSeq = seqOfKey(first.key);
  const marker = await tx.get(trimMarkerKey());
  const markedThrough = marker === undefined ? undefined : Number(decoder.decode(marker));
  const excessBytes = storedBytes - policy.sizeMaxBytes;
  // Bytes of the records before the one being looked at: it is over the size while they are less than the excess.
  let bytesBefore = 0;
  let anchorSeq: number | undefined;
  const pendingThrough = markedThrough !== undefined && markedThrough >= firstSeq ? markedThrough : undefined;
  let reason = '';
  let after = firstSeq - 1;
  for (;;) {
    const page = await tx.scan({ start: recordKey(after + 1), end: prefixEnd(prefix), limit: SCAN_PAGE_RECORDS });
    if (page.length === 0) break;
    for (const entry of page) {
      const record = decodeRecord(entry.value);
      after = record.seq;
      const tooOld = nowMs - record.time > policy.ageMaxMs;
      const tooBig = bytesBefore < excessBytes;
      bytesBefore += entry.value.byteLength;
      if (!tooOld && !tooBig) return { firstSeq, ...(pendingThrough === undefined ? {} : { pendingThrough }), ...(anchorSeq === undefined ? {} : { anchorSeq }), reason };
      // A checkpoint may become the anchor when everything before it is out of policy.
      if (record.kind === 'checkpoint' && record.seq > firstSeq) {
        anchorSeq = record.seq;
        reason = tooOld ? `older than ${Math.round(policy.ageMaxMs / 86_400_000)} days` : `more than ${policy.sizeMaxBytes} bytes`;
      }
    }
  }
  return { firstSeq, ...(pendingThrough === undefined ? {} : { pendingThrough }), ...(anchorSeq === undefined ? {} : { anchorSeq }), reason };
}
