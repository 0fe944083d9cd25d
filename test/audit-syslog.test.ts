import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeClock, openTestAudit, TEST_SEED } from '../src/audit/audit.test-support.js';
import { Auditor, type AuditSink } from '../src/audit/auditor.js';
import { CheckpointKey } from '../src/audit/checkpoint-key.js';
import { LocalAuditLog } from '../src/audit/local-log.js';
import { SinkCursors } from '../src/audit/syslog/sink-cursors.js';
import { MemoryMetadataStore } from '../src/storage/metadata/memory/memory-metadata-store.js';
import type { AuditRecordEvent } from '../src/audit/events.js';
import { SyslogSink, type SyslogTarget } from '../src/audit/syslog/syslog-sink.js';
import { createLogger } from '../src/ops/logger.js';
import { certificates, installed, RSYSLOGD, rsyslog, waitFor } from './support/rsyslog.js';

/**
 * The audit trail against a real receiver: rsyslog from Debian (imtcp; gtls from rsyslog-gnutls
 * for TLS; imudp), started on loopback by test/support/rsyslog.ts with a generated configuration
 * that writes every message's raw text (%rawmsg%) to a file.
 */
const skip = existsSync(RSYSLOGD) ? false : 'rsyslog is not installed (apt-get install rsyslog rsyslog-gnutls)';
const logger = createLogger({ level: 'silent' });

const seqOf = (line: string): number => Number(/\[enclave@32473 seq="(\d+)"\]/.exec(line)?.[1]);

describe('audit to syslog, received by rsyslog', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enclave-audit-syslog-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('receives CSV over TCP (RFC 6587 octet counting) in Qumulo column order', async () => {
    const work = await mkdtemp(join(dir, 'tcp-'));
    const receiver = await rsyslog(work, { input: 'tcp' });
    const { auditor } = await openTestAudit({ checkpointEveryRecords: 1_000 });
    const target: SyslogTarget = { serverAddress: '127.0.0.1', serverPort: receiver.port, transport: 'tcp', format: 'csv' };
    const sink = await SyslogSink.open({ id: 'tcp', target, hostname: 'enclave-test', spoolDirectory: join(work, 'spool'), logger, reconnectDelayMinMs: 20 });
    auditor.addSink(sink);
    try {
      await receiver.start();
      auditor.emit({ time: Date.UTC(2025, 0, 2), user: { name: 'alice', uid: 1001 }, clientAddress: '192.0.2.7', protocol: 'nfsv3', operation: 'fs_rename', status: 'ok', fileId: '42', path: '/a "quoted",\nname', targetPath: '/b' });
      auditor.emit({ time: Date.UTC(2025, 0, 2), user: { uid: 2002 }, clientAddress: '192.0.2.8', protocol: 'smb', operation: 'fs_delete', status: 'fs_access_denied_error', path: '/x' });
      await auditor.flush();
      await waitFor(async () => (await receiver.lines()).length >= 2, 10_000, 'two messages');
      const lines = await receiver.lines();
      assert.equal(lines[0], '<134>1 2025-01-02T00:00:00.000Z enclave-test enclave - fs_rename [enclave@32473 seq="1"] 192.0.2.7,"alice",nfsv3,fs_rename,ok,42,"/a ""quoted"",name","/b"');
      assert.equal(lines[1], '<134>1 2025-01-02T00:00:00.000Z enclave-test enclave - fs_delete [enclave@32473 seq="2"] 192.0.2.8,"2002",smb,fs_delete,fs_access_denied_error,,"/x",""');
    } finally {
      await auditor.close();
      await receiver.stop();
    }
  });

  it('receives JSON over TLS (RFC 5425) checked against the configured CA, and refuses a server another CA signed', async (t) => {
    if (!installed('rsyslog-gnutls')) return t.skip('rsyslog-gnutls is not installed');
    const work = await mkdtemp(join(dir, 'tls-'));
    const tls = certificates(work);
    const receiver = await rsyslog(work, { input: 'tls', tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } });
    const { auditor } = await openTestAudit({ checkpointEveryRecords: 1_000 });
    const target: SyslogTarget = { serverAddress: '127.0.0.1', serverPort: receiver.port, transport: 'tls', format: 'json', caCertificate: tls.ca };
    const sink = await SyslogSink.open({ id: 'tls', target, hostname: 'enclave-test', spoolDirectory: join(work, 'spool'), logger, reconnectDelayMinMs: 20 });
    const stranger = await SyslogSink.open({ id: 'stranger', target: { ...target, caCertificate: tls.otherCa }, hostname: 'enclave-test', spoolDirectory: join(work, 'spool-stranger'), logger, reconnectDelayMinMs: 20 });
    auditor.addSink(sink);
    auditor.addSink(stranger);
    try {
      await receiver.start();
      auditor.emit({ time: Date.UTC(2025, 0, 2), user: { name: 'bob', sid: 'S-1-5-21-1-2-3-1002', id: 'u2' }, clientAddress: '198.51.100.1', protocol: 's3', operation: 'fs_write_data', status: 'ok', fileId: '7', path: '/bucket/k', details: { offset: 0, size: 4096 } });
      await auditor.flush();
      await waitFor(async () => (await receiver.lines()).length >= 1, 10_000, 'one message over TLS');
      const line = (await receiver.lines())[0] ?? '';
      assert.ok(line?.startsWith('<134>1 2025-01-02T00:00:00.000Z enclave-test enclave - fs_write_data [enclave@32473 seq="1"] {'), line);
      const body = JSON.parse(line.slice(line.indexOf('] ') + 2)) as Record<string, unknown>;
      assert.deepEqual(body, { seq: 1, time: '2025-01-02T00:00:00.000Z', user_id: { name: 'bob', sid: 'S-1-5-21-1-2-3-1002', uid: null, auth_id: 'u2' }, user_ip: '198.51.100.1', protocol: 's3', operation: 'fs_write_data', status: 'ok', details: { file_id: '7', path: '/bucket/k', target: null, offset: 0, size: 4096 } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(stranger.backlog().connected, false, 'a server certificate from another CA is refused');
      assert.equal(stranger.backlog().queuedMessages, 1, 'and the event waits for a server it can trust');
    } finally {
      await auditor.close();
      await receiver.stop();
    }
  });

  it('receives over UDP (RFC 5426), one message per datagram', async () => {
    const work = await mkdtemp(join(dir, 'udp-'));
    const receiver = await rsyslog(work, { input: 'udp' });
    const { auditor } = await openTestAudit({ checkpointEveryRecords: 1_000 });
    const sink = await SyslogSink.open({ id: 'udp', target: { serverAddress: '127.0.0.1', serverPort: receiver.port, transport: 'udp', format: 'csv' }, hostname: 'enclave-test', spoolDirectory: join(work, 'spool'), logger });
    auditor.addSink(sink);
    try {
      await receiver.start();
      for (let index = 0; index < 20; index++) auditor.emit({ time: Date.UTC(2025, 0, 2) + index, user: { name: 'uma', uid: 1005 }, clientAddress: '192.0.2.11', protocol: 'nfsv3', operation: 'fs_write_data', status: 'ok', fileId: '9', path: '/udp/file', details: { offset: index * 4096, size: 4096 } });
      await auditor.flush();
      await waitFor(async () => (await receiver.lines()).length >= 20, 10_000, '20 datagrams');
      const lines = await receiver.lines();
      assert.deepEqual(lines.map(seqOf), Array.from({ length: 20 }, (_, index) => index + 1));
      assert.equal(lines[0], '<134>1 2025-01-02T00:00:00.000Z enclave-test enclave - fs_write_data [enclave@32473 seq="1"] 192.0.2.11,"uma",nfsv3,fs_write_data,ok,9,"/udp/file",""');
      assert.equal(sink.backlog().deliveredMessages, 20);
    } finally {
      await auditor.close();
      await receiver.stop();
    }
  });
});

describe('audit to syslog across a crash, received by rsyslog', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enclave-audit-crash-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('a crash with events in the memory queue and the spool loses nothing: the restarted sink replays the local log after its cursor', async () => {
    const receiver = await rsyslog(dir, { input: 'tcp' });
    const metadata = new MemoryMetadataStore();
    const clock = new FakeClock();
    const cursors = new SinkCursors(metadata);
    const target: SyslogTarget = { serverAddress: '127.0.0.1', serverPort: receiver.port, transport: 'tcp', format: 'csv' };
    // One "process": a local log, an auditor and a sink with replay, over the same metadata store.
    const boot = async () => {
      const log = await LocalAuditLog.open({ metadata, clock, key: CheckpointKey.fromSeed(TEST_SEED), checkpointEveryRecords: 500 });
      const auditor = new Auditor({ log, clock, logger });
      const sink = await SyslogSink.open({ id: 'crash', target, hostname: 'enclave-test', spoolDirectory: join(dir, 'spool'), logger, queueMessagesMax: 10_000, resendWindowBytes: 32 * 1024, reconnectDelayMinMs: 20, reconnectDelayMaxMs: 100, replay: { source: log, cursors, persistIntervalMs: 50 } });
      auditor.addSink(sink);
      return { log, auditor, sink };
    };
    let seqs = 0;
    const emit = (auditor: Auditor, count: number) => {
      for (let index = 0; index < count; index++) {
        seqs++;
        auditor.emit({ time: Date.UTC(2025, 0, 2) + seqs, user: { name: 'dave', uid: 1004 }, clientAddress: '192.0.2.10', protocol: 'api', operation: 'fs_write_data', status: 'ok', fileId: String(seqs), path: `/crash/${seqs}`, details: { offset: 0, size: 4096 } });
      }
    };
    const first = await boot();
    let second: Awaited<ReturnType<typeof boot>> | undefined;
    try {
      await receiver.start();
      emit(first.auditor, 2_000);
      await first.auditor.flush();
      await waitFor(async () => new Set((await receiver.lines()).map(seqOf)).size >= 2_000, 20_000, 'the first 2,000 events');
      await waitFor(async () => ((await cursors.load('crash')) ?? 0) > 0, 5_000, 'a persisted cursor');
      await receiver.stop();
      // 3,000 more while the SIEM is down: they wait in the sink's memory queue.
      emit(first.auditor, 3_000);
      await first.auditor.flush();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = first.sink.backlog();
      assert.ok(before.queuedMessages >= 3_000 && before.spooledMessages === 0, 'events wait in the memory queue when the process dies');
      await first.sink.kill();
      const cursorAtCrash = (await cursors.load('crash')) ?? 0;
      assert.ok(cursorAtCrash > 0 && cursorAtCrash < first.log.lastSeq(), `cursor ${cursorAtCrash} is behind the log's ${first.log.lastSeq()}`);

      await receiver.start();
      second = await boot();
      emit(second.auditor, 500);
      await second.auditor.flush();
      assert.equal(await second.sink.drained(30_000), true, 'the restarted sink replays and drains');
      const all = await second.log.query({ limit: 100_000 });
      const expected = all.events.map((record) => record.seq);
      assert.equal(expected.length, 5_500);
      await waitFor(async () => new Set((await receiver.lines()).map(seqOf)).size >= expected.length, 30_000, 'every event at rsyslog');
      const received = (await receiver.lines()).map(seqOf);
      const unique: number[] = [];
      const seen = new Set<number>();
      for (const seq of received) if (!seen.has(seq)) (seen.add(seq), unique.push(seq));
      assert.deepEqual([...unique].sort((a, b) => a - b), expected, 'every event exactly once after deduplication by seq');
      t_log(`crash test: cursor ${cursorAtCrash} at the crash, ${before.queuedMessages} frames in memory were dropped; ${received.length} messages received for ${expected.length} events (${received.length - unique.length} duplicates)`);
      // First arrivals are in order: the replay came before the events after the restart.
      assert.deepEqual(unique, [...unique].sort((a, b) => a - b), 'first arrivals are in seq order');
    } finally {
      await second?.auditor.close();
      await receiver.stop();
    }
  });
});

function t_log(message: string): void {
  process.stderr.write(`# ${message}\n`);
}
