import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CheckpointKey } from './checkpoint-key.js';
import { decodeRecord, LocalAuditLog, recordKey } from './local-log.js';
import { verifyLog } from './verify.js';
import { openTestAudit, sampleEvent, TEST_SEED } from './audit.test-support.js';

const encoder = new TextEncoder();

async function filled(count: number) {
  const audit = await openTestAudit();
  for (let index = 0; index < count; index++) await audit.log.append([sampleEvent({ path: `/f${index}`, time: audit.clock.ms + index })]);
  return audit;
}

async function rewrite(audit: Awaited<ReturnType<typeof filled>>, seq: number, change: (record: Record<string, unknown>) => void): Promise<void> {
  await audit.metadata.write(async (tx) => {
    const bytes = await tx.get(recordKey(seq));
    assert.ok(bytes);
    const record = decodeRecord(bytes) as unknown as Record<string, unknown>;
    change(record);
    tx.put(recordKey(seq), encoder.encode(JSON.stringify(record)));
  });
}

describe('local audit log', () => {
  it('chains records, adds signed checkpoints every N records, and verifies', async () => {
    const audit = await filled(10);
    const result = await audit.log.verify();
    assert.equal(result.ok, true);
    // 10 events and a checkpoint after every 4: 4 + cp + 4 + cp + 2.
    assert.equal(result.records, 12);
    assert.equal(result.checkpoints, 2);
    const reopened = await LocalAuditLog.open({ metadata: audit.metadata, clock: audit.clock, key: CheckpointKey.fromSeed(TEST_SEED), checkpointEveryRecords: 4 });
    await reopened.append([sampleEvent()]);
    assert.equal(reopened.lastSeq(), 13);
    assert.equal((await reopened.verify()).ok, true, 'a reopened log continues the chain');
  });

  it('a modified record is named', async () => {
    const audit = await filled(10);
    await rewrite(audit, 3, (record) => {
      (record.event as Record<string, unknown>).path = '/innocent';
    });
    const result = await audit.log.verify();
    assert.equal(result.ok, false);
    assert.equal(result.first_bad?.seq, 3);
  });

  it('a modified last record is named through the signed head', async () => {
    const audit = await filled(10);
    await rewrite(audit, 12, (record) => {
      (record.event as Record<string, unknown>).status = 'fs_access_denied_error';
    });
    assert.equal((await audit.log.verify()).first_bad?.seq, 12);
  });

  it('a deleted record is named, in the middle and at the end', async () => {
    const audit = await filled(10);
    await audit.metadata.write(async (tx) => tx.delete(recordKey(7)));
    assert.deepEqual((await audit.log.verify()).first_bad?.seq, 7);
    const tail = await filled(10);
    await tail.metadata.write(async (tx) => tx.delete(recordKey(12)));
    assert.equal((await tail.log.verify()).first_bad?.seq, 12);
  });

  it('reordered records are named', async () => {
    const audit = await filled(10);
    await audit.metadata.write(async (tx) => {
      const a = await tx.get(recordKey(2));
      const b = await tx.get(recordKey(3));
      assert.ok(a && b);
      tx.put(recordKey(2), b);
      tx.put(recordKey(3), a);
    });
    assert.equal((await audit.log.verify()).first_bad?.seq, 2);
  });

  it('an inserted record is named, renumbered in the middle or appended past the head', async () => {
    const audit = await filled(10);
    // Shift records 4..12 up by one and insert a forged record 4 that links correctly to 3.
    await audit.metadata.write(async (tx) => {
      for (let seq = 12; seq >= 4; seq--) {
        const bytes = await tx.get(recordKey(seq));
        assert.ok(bytes);
        const record = decodeRecord(bytes) as unknown as Record<string, unknown>;
        record.seq = seq + 1;
        tx.put(recordKey(seq + 1), encoder.encode(JSON.stringify(record)));
      }
      const third = await tx.get(recordKey(3));
      assert.ok(third);
      const { createHash } = await import('node:crypto');
      const forged = { seq: 4, prev: createHash('sha256').update(third).digest('hex'), time: 0, kind: 'event', event: sampleEvent({ path: '/forged' }) };
      tx.put(recordKey(4), encoder.encode(JSON.stringify(forged)));
    });
    assert.equal((await audit.log.verify()).first_bad?.seq, 4);

    const appended = await filled(3);
    await appended.metadata.write(async (tx) => {
      const last = await tx.get(recordKey(3));
      assert.ok(last);
      const { createHash } = await import('node:crypto');
      tx.put(recordKey(4), encoder.encode(JSON.stringify({ seq: 4, prev: createHash('sha256').update(last).digest('hex'), time: 0, kind: 'event', event: sampleEvent() })));
    });
    assert.equal((await appended.log.verify()).first_bad?.seq, 4);
  });

  it('a forged checkpoint signature is named, and another instance key does not verify the log', async () => {
    const audit = await filled(10);
    await rewrite(audit, 5, (record) => {
      record.signature = Buffer.alloc(64).toString('base64');
    });
    assert.equal((await audit.log.verify()).first_bad?.seq, 5);
  });

  it('a third party verifies with the public key alone', async () => {
    const audit = await filled(6);
    const publicOnly = CheckpointKey.fromPublicPem(audit.log.publicKeyPem());
    assert.equal((await verifyLog(audit.metadata, publicOnly)).ok, true);
    const other = CheckpointKey.fromSeed(new Uint8Array(32).fill(9));
    assert.equal((await verifyLog(audit.metadata, other)).ok, false);
    assert.throws(() => publicOnly.sign('x'));
  });

  it('retention trims a whole verified prefix up to a checkpoint and records the trim', async () => {
    const audit = await filled(10);
    audit.clock.ms += 91 * 86_400_000;
    await audit.log.append([sampleEvent({ time: audit.clock.ms })]);
    const removed = await audit.log.trim();
    // Records 1..9 go (the checkpoint at 10 is the last one before in-policy records, and anchors).
    assert.equal(removed, 9);
    const result = await audit.log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    const page = await audit.log.query({ limit: 100 });
    assert.equal(page.events.length, 3);
    // Deleting the anchor as well is detected: no trim record accounts for it.
    await audit.metadata.write(async (tx) => tx.delete(recordKey(10)));
    assert.equal((await audit.log.verify()).ok, false);
  });

  it('retention by size trims the oldest records to a checkpoint until the stored bytes fit, and keeps the total across a reopen', async () => {
    const audit = await filled(20);
    const before = audit.log.storedBytes();
    assert.ok(before > 0);
    const perRecord = before / audit.log.lastSeq();
    const removed = await audit.log.trim({ ageMaxMs: 365 * 86_400_000, sizeMaxBytes: Math.floor(perRecord * 12) });
    assert.ok(removed > 0 && removed < 20, `removed ${removed}`);
    assert.equal((await audit.log.verify()).ok, true);
    assert.ok(audit.log.storedBytes() < before);
    const [trim] = await audit.metadata.read((tx) => tx.scan({ start: recordKey(1), end: recordKey(1_000), limit: 1_000 })).then((entries) => entries.map((entry) => decodeRecord(entry.value)).filter((record) => record.kind === 'trim'));
    assert.match(trim?.trim?.reason ?? '', /more than \d+ bytes/);
    const reopened = await LocalAuditLog.open({ metadata: audit.metadata, clock: audit.clock, key: CheckpointKey.fromSeed(TEST_SEED) });
    assert.equal(reopened.storedBytes(), audit.log.storedBytes(), 'the total is stored, not recounted');
    assert.equal(await audit.log.trim({ ageMaxMs: 365 * 86_400_000, sizeMaxBytes: before * 2 }), 0, 'a log within both limits is not trimmed');
  });

  it('queries filter by time, user, path prefix, protocol, operation and status, and page with a cursor', async () => {
    const audit = await openTestAudit();
    const t = audit.clock.ms;
    await audit.log.append([
      sampleEvent({ time: t, path: '/a/1' }),
      sampleEvent({ time: t + 1, path: '/b/1', user: { name: 'bob' } }),
      sampleEvent({ time: t + 2, path: '/a/2', protocol: 'smb', operation: 'fs_delete', status: 'fs_access_denied_error' }),
      sampleEvent({ time: t + 3, path: '/a/3' }),
    ]);
    assert.deepEqual((await audit.log.query({ limit: 10, pathPrefix: '/a/' })).events.map((event) => event.path), ['/a/1', '/a/2', '/a/3']);
    assert.deepEqual((await audit.log.query({ limit: 10, user: 'bob' })).events.map((event) => event.path), ['/b/1']);
    assert.deepEqual((await audit.log.query({ limit: 10, protocol: 'smb', operation: 'fs_delete', status: 'fs_access_denied_error' })).events.map((event) => event.path), ['/a/2']);
    assert.deepEqual((await audit.log.query({ limit: 10, fromMs: t + 1, toMs: t + 3 })).events.map((event) => event.path), ['/b/1', '/a/2']);
    const first = await audit.log.query({ limit: 2 });
    assert.deepEqual(first.events.map((event) => event.seq), [1, 2]);
    const second = await audit.log.query({ limit: 2, afterSeq: first.next });
    assert.deepEqual(second.events.map((event) => event.seq), [3, 4]);
  });
});
