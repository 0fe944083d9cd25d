import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { sampleEvent } from '../audit.test-support.js';
import { csvLine, datagram, octetCounted, syslogMessage } from './format.js';

describe('syslog format', () => {
  const record = { ...sampleEvent({ path: 'é"x,\r\ny', targetPath: '/t' }), seq: 9 };

  it('CSV follows Qumulo column order, quotes user and paths, doubles quotes, strips CR and LF', () => {
    assert.equal(csvLine(record), '192.0.2.7,"alice",api,fs_write_data,ok,42,"é""x,y","/t"');
  });

  it('an RFC 5424 header: local0.info, host, enclave, operation as MSGID, seq in structured data', () => {
    assert.match(syslogMessage(record, { hostname: 'my host', format: 'csv' }), /^<134>1 2025-01-01T00:00:00\.000Z myhost enclave - fs_write_data \[enclave@32473 seq="9"\] 192/);
  });

  it('octet counting counts bytes, not characters (RFC 6587 §3.4.1)', () => {
    assert.equal(octetCounted('é').toString('utf8'), '2 é');
  });

  it('a datagram is cut at a character boundary', () => {
    const cut = datagram('aé', 2);
    assert.equal(cut.toString('utf8'), 'a');
    assert.equal(datagram('x'.repeat(70_000)).length, 65_507);
  });
});

describe('frameSeq', () => {
  it('reads the sequence number back from a framed message, and nothing from a foreign one', async () => {
    const { frameSeq } = await import('./format.js');
    const record = { ...sampleEvent(), seq: 123_456 };
    assert.equal(frameSeq(octetCounted(syslogMessage(record, { hostname: 'h'.repeat(300), format: 'json' }))), 123_456);
    assert.equal(frameSeq(Buffer.from('<134>1 - - - - - - hello')), undefined);
  });
});
