import type { MetadataStore, ReadTransaction } from '../storage/metadata/metadata-store.js';
import { prefixEnd } from '../storage/metadata/tuple.js';
import type { CheckpointKey } from './checkpoint-key.js';
import { checkpointMessage, decodeRecord, GENESIS_HASH, hashOf, headKey, headMessage, recordKey, recordPrefix, seqOfKey, type SignedHead, type StoredRecord } from './local-log.js';

/**
 * Walks the whole local log in one snapshot and names the first record that is not what was
 * written. What each tamper looks like (tests in local-log.test.ts):
 * - modified: its bytes no longer hash to the `prev` its successor holds (or, for the last
 *   record, to the signed head): the modified record is named.
 * - deleted: a gap in the sequence numbers (or the signed head names a later record): the first
 *   missing number is named.
 * - reordered: a record's own `seq` differs from the key it is stored under: that key is named.
 * - inserted: a renumbered middle record breaks its successor's link (as modified); a record
 *   appended past the end is not covered by the signed head: it is named.
 * - a checkpoint whose signature does not verify is named; a log whose first record is not 1 must
 *   start at a signed checkpoint that a later trim record accounts for.
 * Limit: someone who can write the store may roll the log back to an older signed head and
 * truncate after it; the off-box syslog copy is the evidence against that.
 */
export interface VerifyResult {
  readonly ok: boolean;
  /** Records checked (up to and including the first bad one). */
  readonly records: number;
  readonly first_bad?: { readonly seq: number; readonly reason: string };
  readonly checkpoints: number;
}

const PAGE_RECORDS = 1_000;

export async function verifyLog(metadata: MetadataStore, key: CheckpointKey, options: { throughSeq?: number } = {}): Promise<VerifyResult> {
  return metadata.read((tx) => walk(tx, key, options.throughSeq));
}

async function walk(tx: ReadTransaction, key: CheckpointKey, throughSeq: number | undefined): Promise<VerifyResult> {
  let records = 0;
  let checkpoints = 0;
  let previous: { seq: number; hash: string } | undefined;
  let firstSeq = 0;
  let trimmedThrough = 0;
  const bad = (seq: number, reason: string): VerifyResult => ({ ok: false, records, first_bad: { seq, reason }, checkpoints });
  const end = prefixEnd(recordPrefix());
  let start = recordPrefix();
  for (;;) {
    const page = await tx.scan({ start, end, limit: PAGE_RECORDS });
    if (page.length === 0) break;
    for (const entry of page) {
      const seq = seqOfKey(entry.key);
      if (throughSeq !== undefined && seq > throughSeq) return { ok: true, records, checkpoints };
      records++;
      let record: StoredRecord;
      try {
        record = decodeRecord(entry.value);
      } catch {
        return bad(seq, 'record is not readable');
      }
      if (record.seq !== seq) return bad(seq, `record stored at ${seq} says it is ${record.seq} (reordered or renumbered)`);
      if (previous === undefined) {
        firstSeq = seq;
        if (seq === 1 && record.prev !== GENESIS_HASH) return bad(seq, 'the first record does not start the chain');
        if (seq > 1 && record.kind !== 'checkpoint') return bad(1, `the log starts at ${seq}, not at 1 or at a signed checkpoint (records deleted)`);
      } else {
        if (seq !== previous.seq + 1) return bad(previous.seq + 1, `record ${previous.seq + 1} is missing (the next one stored is ${seq})`);
        if (record.prev !== previous.hash) return bad(previous.seq, `record ${previous.seq} does not hash to the link record ${seq} holds (modified or inserted)`);
      }
      if (record.kind === 'checkpoint') {
        if (record.signature === undefined || !key.verify(checkpointMessage(seq, record.prev, record.time), record.signature)) return bad(seq, 'checkpoint signature does not verify');
        checkpoints++;
      }
      if (record.kind === 'trim' && record.trim !== undefined) trimmedThrough = Math.max(trimmedThrough, record.trim.throughSeq);
      previous = { seq, hash: hashOf(entry.value) };
    }
    start = recordKey((previous as { seq: number }).seq + 1);
  }
  if (firstSeq > 1 && trimmedThrough < firstSeq - 1) return bad(trimmedThrough + 1, `records ${trimmedThrough + 1} to ${firstSeq - 1} are missing and no trim record accounts for them`);
  if (throughSeq !== undefined) return { ok: true, records, checkpoints };
  return checkHead(tx, key, previous, { records, checkpoints });
}

async function checkHead(tx: ReadTransaction, key: CheckpointKey, last: { seq: number; hash: string } | undefined, counts: { records: number; checkpoints: number }): Promise<VerifyResult> {
  const bytes = await tx.get(headKey());
  const bad = (seq: number, reason: string): VerifyResult => ({ ok: false, ...counts, first_bad: { seq, reason } });
  if (bytes === undefined) return last === undefined ? { ok: true, ...counts } : bad(1, 'the signed head is missing');
  let head: SignedHead;
  try {
    head = JSON.parse(new TextDecoder().decode(bytes)) as SignedHead;
  } catch {
    return bad(last?.seq ?? 1, 'the signed head is not readable');
  }
  if (!key.verify(headMessage(head.seq, head.hash), head.signature)) return bad(head.seq, 'the head signature does not verify');
  if (last === undefined) return bad(1, `the log is empty but the signed head names record ${head.seq} (records deleted)`);
  if (last.seq < head.seq) return bad(last.seq + 1, `record ${last.seq + 1} is missing (the signed head names ${head.seq})`);
  if (last.seq > head.seq) return bad(head.seq + 1, `record ${head.seq + 1} is past the signed head (inserted)`);
  if (last.hash !== head.hash) return bad(last.seq, `record ${last.seq} does not hash to the signed head (modified)`);
  return { ok: true, ...counts };
}
