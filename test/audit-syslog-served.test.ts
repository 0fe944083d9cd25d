import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';
import { certificates, installed, RSYSLOGD, rsyslog, waitFor, type Receiver } from './support/rsyslog.js';

/**
 * The syslog sinks as an operator runs them: configured through `PUT /v1/audit/syslog/config`
 * (SyslogSinks opens them), fed by real audited operations through the REST API, received by
 * rsyslog from Debian. Several sinks at once (CSV over TCP and JSON over TLS with a client
 * certificate that rsyslog requires), and the fault test of issue 7 item 6 over RELP: rsyslog
 * stopped while 10,000 operations run, restarted, and every event arrives, in order (RELP repeats
 * at most the frames unanswered when rsyslog stopped; the SIEM drops them by seq).
 */
const skip = !existsSync(RSYSLOGD) ? 'rsyslog is not installed (apt-get install rsyslog rsyslog-gnutls rsyslog-relp)' : false;
const PASSWORD = 'Syslog-Served-Admin-Password-5';
const logger = createLogger({ level: 'silent' });
const seqOf = (line: string): number => Number(/\[enclave@32473 seq="(\d+)"\]/.exec(line)?.[1]);
const silent = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

describe('syslog sinks configured through the REST API, fed by real operations', { skip }, () => {
  let dir: string;
  let server: Server;
  let port: number;
  let token: string;
  let fileId: string;
  const receivers: Receiver[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });
  const api = (method: string, path: string, options: Parameters<typeof callApi>[3] = {}) => callApi(port, method, path, { token, ...options });
  /** One audited operation (fs_write_data) over a kept-alive connection. */
  const write = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const outgoing = request({ host: '127.0.0.1', port, method: 'PUT', path: `/v1/files/${fileId}/data`, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } }, (incoming) => {
        incoming.resume();
        incoming.on('end', () => resolve(incoming.statusCode ?? 0));
      });
      outgoing.on('error', reject);
      outgoing.end(Buffer.from('sixteen bytes!!\n'));
    });
  /** Every event in the local log after `afterSeq`, by seq. */
  const logSeqs = async (afterSeq: number): Promise<number[]> => {
    const seqs: number[] = [];
    let after = afterSeq;
    for (;;) {
      const page = (await api('GET', `/v1/audit/events?limit=1000&after=${after}`)).json() as { events: Array<{ seq: number }>; next?: string };
      seqs.push(...page.events.map((event) => event.seq));
      if (page.events.length === 0 || page.next === undefined) return seqs;
      after = Number(page.next);
    }
  };
  const lastSeq = async (): Promise<number> => {
    await server.management.auditor.flush();
    return Math.max(0, ...(await logSeqs(0)));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enclave-syslog-served-'));
    server = await serve({ config: { ...testConfig(), dataDir: join(dir, 'data'), apiPort: 0, logLevel: 'silent' }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: PASSWORD }, stdout: silent() });
    port = server.ports.api as number;
    token = (await callApi(port, 'POST', '/v1/session/login', { body: { username: 'admin', password: PASSWORD } })).json().bearer_token as string;
    const admin = await server.instance.users.findByName('admin');
    assert.ok(admin !== undefined);
    const fs = server.instance.fileSystem;
    const ctx = systemContext(logger);
    await fs.mkdir(ctx, await fs.root(ctx), 'faults', { mode: 0o755, uid: admin.uid, gid: admin.primaryGid });
    const created = await api('POST', `/v1/files/${encodeURIComponent('/faults')}/entries`, { body: { name: 'file', action: 'CREATE_FILE' } });
    assert.equal(created.status, 201, created.body.toString());
    fileId = created.json().id as string;
  });
  after(async () => {
    agent.destroy();
    await server?.stop();
    for (const receiver of receivers) await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('CSV over TCP and JSON over TLS with a client certificate rsyslog requires, both enabled at once: both receive every event', async (t) => {
    if (!installed('rsyslog-gnutls')) return t.skip('rsyslog-gnutls is not installed');
    const tlsDir = await mkdtemp(join(dir, 'tls-'));
    const tcpDir = await mkdtemp(join(dir, 'tcp-'));
    const tls = certificates(tlsDir);
    const tlsReceiver = await rsyslog(tlsDir, { input: 'tls', tls: { ...tls, requireClientCertificate: true } });
    const tcpReceiver = await rsyslog(tcpDir, { input: 'tcp' });
    receivers.push(tlsReceiver, tcpReceiver);
    await tlsReceiver.start();
    await tcpReceiver.start();
    const sinks = [
      { enabled: true, server_address: '127.0.0.1', server_port: tcpReceiver.port, transport: 'tcp', format: 'csv' },
      { enabled: true, server_address: '127.0.0.1', server_port: tlsReceiver.port, transport: 'tls', format: 'json', ca_certificate: tls.ca, client_certificate: tls.clientCertificate, client_key: tls.clientKey },
    ];
    const put = await api('PUT', '/v1/audit/syslog/config', { body: { sinks } });
    assert.equal(put.status, 200, put.body.toString());
    assert.equal(JSON.stringify(put.json()).includes('PRIVATE KEY'), false, 'the client key is never answered');
    await waitFor(async () => Object.keys(server.management.auditor.sinkBacklogs()).length >= 2, 10_000, 'the configured sinks to open');
    const from = await lastSeq();
    for (let index = 0; index < 50; index++) assert.equal(await write(), 200);
    await waitFor(async () => (await logSeqs(from)).length >= 50, 10_000, 'the events in the local log');
    const expected = await logSeqs(from);
    await waitFor(async () => (await tcpReceiver.lines()).filter((line) => seqOf(line) > from).length >= expected.length && (await tlsReceiver.lines()).filter((line) => seqOf(line) > from).length >= expected.length, 20_000, 'both receivers').catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}: tcp ${(await tcpReceiver.lines()).length}, tls ${(await tlsReceiver.lines()).length} lines; sinks ${JSON.stringify(server.management.auditor.sinkBacklogs())}`);
    });
    const csv = (await tcpReceiver.lines()).filter((line) => seqOf(line) > from);
    const json = (await tlsReceiver.lines()).filter((line) => seqOf(line) > from);
    assert.deepEqual(csv.map(seqOf), expected);
    assert.deepEqual(json.map(seqOf), expected);
    assert.match(csv[0] ?? '', /,"admin",api,fs_write_data,ok,\d+,"",""$/);
    const body = JSON.parse((json[0] ?? '').slice((json[0] ?? '').indexOf('] ') + 2)) as { operation: string; details: { offset: number; size: number } };
    assert.deepEqual([body.operation, body.details.offset, body.details.size], ['fs_write_data', 0, 16]);
    assert.equal((await api('PUT', '/v1/audit/syslog/config', { body: { sinks: [] } })).status, 200);
    await tlsReceiver.stop();
    await tcpReceiver.stop();
  });

  it('fault test over RELP: rsyslog stopped during 10,000 audited operations and restarted; every event arrives, in order, and exactly once by seq', { skip: installed('rsyslog-relp') ? false : 'rsyslog-relp is not installed' }, async () => {
    const relpDir = await mkdtemp(join(dir, 'relp-'));
    const receiver = await rsyslog(relpDir, { input: 'relp' });
    receivers.push(receiver);
    await receiver.start();
    const put = await api('PUT', '/v1/audit/syslog/config', { body: { sinks: [{ enabled: true, server_address: '127.0.0.1', server_port: receiver.port, transport: 'relp', format: 'csv' }] } });
    assert.equal(put.status, 200, put.body.toString());
    await waitFor(async () => server.management.auditor.sinkBacklogs()[`relp-127.0.0.1-${receiver.port}`]?.connected === true, 10_000, 'the RELP sink to connect');
    const from = await lastSeq();
    const total = 10_000;
    const parallel = 8;
    let started = 0;
    let finished = 0;
    let outage: Promise<void> | undefined;
    let stoppedAt = 0;
    const worker = async (): Promise<void> => {
      while (started < total) {
        started++;
        assert.equal(await write(), 200);
        finished++;
        if (finished === 3_000) outage = receiver.stop().then(() => void (stoppedAt = finished));
        if (finished === 7_000) await outage?.then(() => receiver.start());
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    assert.ok(stoppedAt > 0 && stoppedAt < 7_000, 'rsyslog was down during the run');
    await waitFor(async () => (await logSeqs(from)).length >= total, 30_000, 'every operation in the local log');
    const expected = await logSeqs(from);
    assert.equal(expected.length >= total, true);
    const receivedAfter = async (): Promise<number[]> => (await receiver.lines()).map(seqOf).filter((seq) => seq > from);
    await waitFor(async () => (await receivedAfter()).length >= expected.length, 90_000, `${expected.length} events at rsyslog`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = await receivedAfter();
    // RELP cannot rule out duplicates when the receiver stops: rsyslog may write frames whose
    // answers it never sends before it exits, and those are sent again. So: no event missing;
    // every repeat is of an event already received, within the window of frames that may be
    // unanswered at a break (128), and the first copies are exactly the local log, in order.
    const firstCopies: number[] = [];
    const seen = new Set<number>();
    for (const seq of received) {
      if (seen.has(seq)) continue;
      seen.add(seq);
      firstCopies.push(seq);
    }
    assert.deepEqual(firstCopies, expected);
    const repeats = received.length - firstCopies.length;
    assert.ok(repeats <= 128, `${repeats} repeated messages: more than one RELP window`);
    process.stderr.write(`# fault test: ${received.length} messages for ${expected.length} events (${repeats} repeated at the break), rsyslog stopped after ${stoppedAt} operations\n`);
  });
});
