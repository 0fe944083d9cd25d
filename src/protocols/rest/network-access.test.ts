import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { networkRules } from '../../settings/network-rules.js';
import { SettingsStore } from '../../settings/settings-store.js';
import { MemoryMetadataStore } from '../../storage/metadata/memory/memory-metadata-store.js';
import { guardConnections, NetworkAccess } from './network-access.js';

interface LogLine {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recordingLogger(): { warn: (fields: Record<string, unknown>, message: string) => void; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, warn: (fields, message) => lines.push({ fields, message }) };
}

/** Connects from `localAddress`; resolves with what the server sent, or 'closed' if cut first. */
async function exchange(port: number, localAddress: string): Promise<string> {
  const socket = createConnection({ host: '127.0.0.1', port, localAddress });
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('utf8');
  });
  socket.on('error', () => undefined);
  await once(socket, 'close');
  return received === '' ? 'closed' : received;
}

describe('network access', () => {
  it('allows any address while a list is empty, then only listed ones', async () => {
    const store = new SettingsStore({ metadata: new MemoryMetadataStore() });
    const access = await NetworkAccess.open(store);
    assert.equal(access.isAllowed('api', '203.0.113.9'), true);
    await store.put(networkRules, { services: { api: { allow: ['10.0.0.0/8', '2001:db8::/32'] }, nfs: { allow: ['192.0.2.1'] } } });
    assert.equal(access.isAllowed('api', '10.9.9.9'), true);
    assert.equal(access.isAllowed('api', '::ffff:10.9.9.9'), true);
    assert.equal(access.isAllowed('api', '2001:db8::7'), true);
    assert.equal(access.isAllowed('api', '203.0.113.9'), false);
    assert.equal(access.isAllowed('api', undefined), false);
    assert.equal(access.isAllowed('nfs', '192.0.2.1'), true);
    assert.equal(access.isAllowed('nfs', '192.0.2.2'), false);
    assert.equal(access.isAllowed('smb', '203.0.113.9'), true, 'another service keeps its empty list');
    assert.deepEqual(access.rules().services.nfs.allow, ['192.0.2.1']);
    access.close();
    await store.put(networkRules, { services: { api: { allow: [] } } });
    assert.equal(access.isAllowed('api', '203.0.113.9'), false, 'a closed NetworkAccess no longer follows changes');
  });

  describe('on a real TCP server on the loopback', () => {
    let server: Server;
    let port: number;
    let store: SettingsStore;
    let access: NetworkAccess;
    const logger = recordingLogger();
    let nowMs = 1_000_000;

    before(async () => {
      store = new SettingsStore({ metadata: new MemoryMetadataStore() });
      access = await NetworkAccess.open(store);
      server = createServer((socket: Socket) => socket.end('hello'));
      guardConnections(server, 'smb', access, logger, { now: () => nowMs, logIntervalMs: 60_000, addressesRememberedMax: 2 });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    after(async () => {
      access.close();
      server.close();
      await once(server, 'close');
    });

    it('serves everyone while the list is empty', async () => {
      assert.equal(await exchange(port, '127.0.0.1'), 'hello');
      assert.equal(await exchange(port, '127.0.0.2'), 'hello');
    });

    it('cuts a refused address at accept, serves an allowed one, and logs once per address per interval', async () => {
      await store.put(networkRules, { services: { smb: { allow: ['127.0.0.1/32'] } } });
      assert.equal(await exchange(port, '127.0.0.1'), 'hello');
      assert.equal(await exchange(port, '127.0.0.2'), 'closed');
      assert.equal(await exchange(port, '127.0.0.2'), 'closed');
      assert.equal(logger.lines.length, 1);
      assert.deepEqual(logger.lines[0]?.fields, { service: 'smb', remote_address: '127.0.0.2', refused_since_last_log: 0 });
      nowMs += 60_000;
      assert.equal(await exchange(port, '127.0.0.2'), 'closed');
      assert.equal(logger.lines.length, 2);
      assert.equal(logger.lines[1]?.fields.refused_since_last_log, 1);
    });

    it('follows a change of the rules without a restart', async () => {
      await store.put(networkRules, { services: { smb: { allow: ['127.0.0.2'] } } });
      assert.equal(await exchange(port, '127.0.0.2'), 'hello');
      assert.equal(await exchange(port, '127.0.0.1'), 'closed');
    });
  });
});
