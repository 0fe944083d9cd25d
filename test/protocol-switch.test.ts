import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';
import { serveForTest } from './support/served.js';

const PASSWORD = 'Switch-Board-Operator-77';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

describe('protocols follow their settings without a restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-switch-'));
  const lines: string[] = [];
  let server: Server;
  let token: string;
  const api = (method: string, path: string, body?: unknown) => callApi(server.ports.api as number, method, path, { token, ...(body === undefined ? {} : { body }) });

  before(async () => {
    ({ server, token } = await serveForTest({ dataDir, adminPassword: PASSWORD, lines }));
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a fresh instance serves only the API', () => {
    assert.deepEqual(lines.filter((line) => line.startsWith('listening')).map((line) => line.split(' ')[1]), ['api']);
  });

  for (const service of ['s3', 'nfs'] as const) {
    it(`${service} starts listening when enabled and stops when disabled`, async () => {
      const enabled = await api('PUT', `/v1/${service}/settings`, { enabled: true });
      assert.equal(enabled.status, 200, enabled.body.toString());
      const line = lines.find((candidate) => candidate.startsWith(`listening ${service} 127.0.0.1:`));
      assert.ok(line !== undefined, `no listening line for ${service}: ${lines.join(' | ')}`);
      const port = Number(line.split(':').at(-1));
      assert.equal(await canConnect(port), true);
      assert.equal((await api('PUT', `/v1/${service}/settings`, { enabled: false })).status, 200);
      assert.equal(await canConnect(port), false);
    });
  }
});
