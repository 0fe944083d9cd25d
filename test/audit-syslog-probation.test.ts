import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import pino from 'pino';
import { sampleEvent } from '../src/audit/audit.test-support.js';
import { SyslogSink } from '../src/audit/syslog/syslog-sink.js';
import { certificates } from './support/rsyslog.js';

/** A TLS syslog receiver on loopback that records the `seq` of every message it accepts. */
function receiver(tls: ReturnType<typeof certificates>, options: { requireClientCertificate: boolean; port?: number }): Promise<{ server: Server; port: number; seqs: number[] }> {
  const seqs: number[] = [];
  const server = createServer({ key: readFileSync(tls.keyFile, 'utf8'), cert: readFileSync(tls.certFile, 'utf8'), ca: tls.ca, requestCert: options.requireClientCertificate, rejectUnauthorized: options.requireClientCertificate, minVersion: 'TLSv1.3' }, (socket: TLSSocket) => {
    // Octet-counted frames (RFC 6587): "<length> <message>".
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space === -1) break;
        const length = Number(pending.subarray(0, space).toString('latin1'));
        if (pending.length < space + 1 + length) break;
        const message = pending.subarray(space + 1, space + 1 + length).toString('utf8');
        pending = pending.subarray(space + 1 + length);
        const seq = /seq="(\d+)"/.exec(message)?.[1];
        if (seq !== undefined) seqs.push(Number(seq));
      }
    });
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  return new Promise((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, seqs })));
}


describe('syslog sink over TLS', () => {
  it('loses nothing while a TLS 1.3 receiver refuses each connection right after the handshake', { timeout: 60_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), 'enclave-syslog-probation-'));
    const tls = certificates(work);
    // First a receiver that demands a client certificate the sink does not have: TLS 1.3 lets the
    // client finish its handshake before the server refuses, so the sink believes it is connected.
    const refusing = await receiver(tls, { requireClientCertificate: true });
    const sink = await SyslogSink.open({
      id: 'probation',
      target: { serverAddress: '127.0.0.1', serverPort: refusing.port, transport: 'tls', format: 'json', caCertificate: tls.ca },
      hostname: 'enclave-test',
      spoolDirectory: join(work, 'spool'),
      logger: pino({ level: 'silent' }),
      resendWindowBytes: 4_096,
      reconnectDelayMinMs: 20,
      reconnectDelayMaxMs: 50,
    });
    let accepting: Awaited<ReturnType<typeof receiver>> | undefined;
    try {
      const count = 400;
      for (let seq = 1; seq <= count; seq++) sink.deliver({ ...sampleEvent({ path: `/p/${'x'.repeat(200)}/${seq}` }), seq });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.deepEqual(refusing.seqs, [], 'the refusing receiver accepted nothing');
      const port = refusing.port;
      await new Promise((resolve) => refusing.server.close(resolve));
      accepting = await receiver(tls, { requireClientCertificate: false, port });
      const deadline = Date.now() + 30_000;
      while (new Set(accepting.seqs).size < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const missing = Array.from({ length: count }, (_, index) => index + 1).filter((seq) => !accepting?.seqs.includes(seq));
      assert.deepEqual(missing, [], 'every event reached the receiver once it accepted the sink');
    } finally {
      await sink.close();
      if (accepting !== undefined) await new Promise((resolve) => accepting?.server.close(resolve));
      rmSync(work, { recursive: true, force: true });
    }
  });
});
