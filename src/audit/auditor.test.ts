import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createLogger } from '../ops/logger.js';
import { openTestAudit, sampleEvent } from './audit.test-support.js';
import type { AuditSink } from './auditor.js';
import type { AuditRecordEvent } from './events.js';
import { eventFromContext } from './events.js';

function collectingSink(): AuditSink & { records: AuditRecordEvent[] } {
  const records: AuditRecordEvent[] = [];
  return { id: 'collect', records, deliver: (record) => void records.push(record), backlog: () => ({ queuedMessages: 0, spooledMessages: 0, connected: true, deliveredMessages: records.length }), close: async () => undefined };
}

describe('auditor', () => {
  it('emit returns at once; events reach the log and then every sink in order, numbered', async () => {
    const { auditor, log } = await openTestAudit({ checkpointEveryRecords: 1_000 });
    const sink = collectingSink();
    auditor.addSink(sink);
    for (let index = 0; index < 1_000; index++) auditor.emit(sampleEvent({ path: `/f${index}` }));
    assert.equal(sink.records.length, 0, 'emit does not wait for the log');
    await auditor.flush();
    assert.deepEqual(sink.records.map((record) => record.seq), Array.from({ length: 1_000 }, (_, index) => index + 1));
    assert.equal(sink.records[999]?.path, '/f999');
    assert.equal((await log.verify()).ok, true);
  });

  it('coalesces repeated identical reads within the window into one event with a count; never writes', async () => {
    const { auditor, clock } = await openTestAudit();
    const sink = collectingSink();
    auditor.addSink(sink);
    for (let index = 0; index < 5; index++) auditor.emit(sampleEvent({ operation: 'fs_read_data', time: clock.ms + index * 100 }));
    for (let index = 0; index < 3; index++) auditor.emit(sampleEvent({ operation: 'fs_write_data' }));
    auditor.emit(sampleEvent({ operation: 'fs_read_data', time: clock.ms + 1_500 }));
    await auditor.flush();
    const reads = sink.records.filter((record) => record.operation === 'fs_read_data');
    assert.deepEqual(reads.map((record) => record.details?.count), [5, undefined], 'the read after the window is a new event');
    assert.equal(sink.records.filter((record) => record.operation === 'fs_write_data').length, 3);
  });

  it('drops and counts events beyond the queue bound instead of blocking, and rejects malformed operation names', async () => {
    const { log, clock } = await openTestAudit();
    const { Auditor } = await import('./auditor.js');
    const auditor = new Auditor({ log, clock, logger: createLogger({ level: 'silent' }), queueEventsMax: 10, batchEventsMax: 1 });
    for (let index = 0; index < 50; index++) auditor.emit(sampleEvent());
    assert.ok(auditor.backlog().droppedEvents > 0);
    await auditor.flush();
    assert.throws(() => auditor.emit(sampleEvent({ operation: 'Write Data' })), RangeError);
  });

  it('builds an event from an operation context', () => {
    const event = eventFromContext(
      { principal: { uid: 1001, gids: [100], name: 'alice', sid: 'S-1-5-21-1-2-3-1001' }, clientAddress: '198.51.100.4', protocol: 'smb', requestId: 'r1', logger: createLogger({ level: 'silent' }) },
      5,
      { operation: 'fs_rename', path: '/a', targetPath: '/b', fileId: '9' },
    );
    assert.deepEqual(event, { time: 5, user: { name: 'alice', uid: 1001, sid: 'S-1-5-21-1-2-3-1001' }, clientAddress: '198.51.100.4', protocol: 'smb', operation: 'fs_rename', status: 'ok', fileId: '9', path: '/a', targetPath: '/b' });
  });
});
