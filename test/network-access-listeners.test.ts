import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';
import { serveForTest } from './support/served.js';

const PASSWORD = 'Gate-Keeper-Of-Ports-31';
const EXCHANGE_TIMEOUT_MS = 5_000;

/**
 * Connects to a listener, sends `request`, and reports what came back before the server closed
 * the connection (or the first bytes of its answer). A listener that refuses the client's address
 * destroys the socket at once: nothing comes back.
 */
function exchange(port: number, request: Buffer): Promise<{ received: number; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close from port ${port} within ${EXCHANGE_TIMEOUT_MS} ms`));
    }, EXCHANGE_TIMEOUT_MS);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closedByServer: false });
    });
    // A reset is how a destroyed server socket often reaches the client.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closedByServer: received === 0 });
    });
  });
}

/** An ONC RPC call of NFSv3 NULL (RFC 5531 §9, RFC 1813 §3.3.0) in one TCP record (RFC 5531 §11). */
function nfsNullCall(): Buffer {
  const words = [0x2a2a2a2a, 0 /* CALL */, 2 /* rpcvers */, 100_003 /* NFS */, 3, 0 /* NULL */, 0, 0 /* cred AUTH_NONE */, 0, 0 /* verf AUTH_NONE */];
  const record = Buffer.alloc(4 + words.length * 4);
  record.writeUInt32BE(0x8000_0000 + words.length * 4, 0);
  words.forEach((word, index) => record.writeUInt32BE(word, 4 + index * 4));
  return record;
}

describe('network access rules on the S3 and NFS listeners', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-network-rules-'));
  const lines: string[] = [];
  let server: Server;
  let token: string;
  const api = (method: string, path: string, body?: unknown) => callApi(server.ports.api as number, method, path, { token, ...(body === undefined ? {} : { body }) });
  const portOf = (service: string): number => {
    const line = lines.find((candidate) => candidate.startsWith(`listening ${service} 127.0.0.1:`));
    assert.ok(line !== undefined, `no listening line for ${service}: ${lines.join(' | ')}`);
    return Number(line.split(':').at(-1));
  };

  before(async () => {
    ({ server, token } = await serveForTest({ dataDir, adminPassword: PASSWORD, lines }));
    // Allow-lists that exclude 127.0.0.1 (the API's own list stays empty: any address).
    const rules = await api('PUT', '/v1/network/access-rules', { services: { s3: { allow: ['192.0.2.0/24'] }, nfs: { allow: ['192.0.2.0/24', '10.0.0.1'] } } });
    assert.equal(rules.status, 200, rules.body.toString());
    for (const service of ['s3', 'nfs']) assert.equal((await api('PUT', `/v1/${service}/settings`, { enabled: true })).status, 200);
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const cases = [
    // The S3 listener answers a plain-HTTP request on its HTTPS-only port with 400 before closing.
    { service: 's3', request: () => Buffer.from('GET / HTTP/1.1\r\nhost: localhost\r\n\r\n') },
    { service: 'nfs', request: nfsNullCall },
  ] as const;

  for (const { service, request } of cases) {
    it(`${service}: a connection from an address the allow-list excludes is closed unanswered, and answered once the address is listed`, async () => {
      const port = portOf(service);
      const refused = await exchange(port, request());
      assert.deepEqual(refused, { received: 0, closedByServer: true }, 'refused before anything is read');
      const listed = await api('PUT', '/v1/network/access-rules', { services: { [service]: { allow: ['192.0.2.0/24', '127.0.0.1'] } } });
      assert.equal(listed.status, 200, listed.body.toString());
      const admitted = await exchange(port, request());
      assert.ok(admitted.received > 0, `an admitted client gets an answer: ${JSON.stringify(admitted)}`);
      assert.equal((await api('PUT', '/v1/network/access-rules', { services: { [service]: { allow: ['192.0.2.0/24'] } } })).status, 200);
      assert.deepEqual(await exchange(port, request()), { received: 0, closedByServer: true }, 'a rule change applies to the next connection');
    });
  }
});
