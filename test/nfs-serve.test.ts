import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { create, getattr, mountHandle, nfs, readPostOp, skipWcc } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';
import { Nfs3Status, StableHow } from '../src/protocols/nfs/v3/nfs3-types.js';
import type { Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';
import { serveForTest } from './support/served.js';
import { freePort, getport } from './support/nfs-rpc.js';

const run = promisify(execFile);
const PASSWORD = 'Export-Through-Rest-31';
const TOOL_TIMEOUT_MS = 60_000;
// Debian bookworm's libnfs-utils has nfs-cat, nfs-cp and nfs-ls (no nfs-stat).
const missing = ['nfs-cp', 'nfs-ls', 'nfs-cat'].filter((tool) => !existsSync(`/usr/bin/${tool}`));

/**
 * The real server end to end: an export made through REST, NFS (and PORTMAP on a port of its
 * own) enabled through REST, the libnfs tools and our own client against it, and a restart on the
 * same data directory.
 */
describe('NFS through the real server: REST export, libnfs tools, portmap, restart', { skip: missing.length > 0 ? `needs Debian libnfs-utils (missing ${missing.join(', ')})` : false }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-nfs-serve-'));
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-nfs-scratch-'));
  const lines: string[] = [];
  let server: Server;
  let token: string;
  const api = (method: string, path: string, body?: unknown) => callApi(server.ports.api as number, method, path, { token, ...(body === undefined ? {} : { body }) });
  /** The NFS port of the newest `listening nfs` line (port 0 picks a new one at each listen). */
  const nfsPort = () => Number(lines.filter((line) => line.startsWith('listening nfs 127.0.0.1:')).at(-1)?.split(':').at(-1));
  const url = (path: string) => `nfs://127.0.0.1${path}?nfsport=${nfsPort()}&mountport=${nfsPort()}&version=3`;

  async function start(): Promise<void> {
    ({ server, token } = await serveForTest({ dataDir, adminPassword: PASSWORD, lines }));
  }

  before(start);
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('an export created through /v1/nfs/exports serves nfs-cp, nfs-ls and nfs-cat once NFS is enabled', async () => {
    const made = await api('POST', `/v1/files/${encodeURIComponent('/')}/entries`, { name: 'nfs-e2e', action: 'CREATE_DIRECTORY' });
    assert.equal(made.status, 201, made.body.toString());
    assert.equal((await api('PATCH', `/v1/files/${encodeURIComponent('/nfs-e2e')}/info/attributes`, { mode: '0777' })).status, 200);
    const exported = await api('POST', '/v1/nfs/exports', { export_path: '/e2e', fs_path: '/nfs-e2e', restrictions: [{ host_restrictions: ['127.0.0.1'], require_privileged_port: false }] });
    assert.equal(exported.status, 200, exported.body.toString());
    assert.ok(typeof exported.json().id === 'string');
    const enabled = await api('PUT', '/v1/nfs/settings', { enabled: true });
    assert.equal(enabled.status, 200, enabled.body.toString());
    assert.ok(nfsPort() > 0, lines.join(' | '));

    const source = join(scratch, 'hello.txt');
    writeFileSync(source, 'hello from the real server\n');
    await run('nfs-cp', [source, url('/e2e/hello.txt')], { timeout: TOOL_TIMEOUT_MS });
    const listed = await run('nfs-ls', [url('/e2e')], { timeout: TOOL_TIMEOUT_MS });
    const line = listed.stdout.split('\n').find((entry) => entry.endsWith(' hello.txt'));
    assert.ok(line !== undefined, listed.stdout);
    // Root squash (the default) made the file nobody's.
    assert.match(line, /\s65534\s+65534\s+27\s/);
    assert.equal((await run('nfs-cat', [url('/e2e/hello.txt')], { timeout: TOOL_TIMEOUT_MS })).stdout, 'hello from the real server\n');
    // The same file through the management API (attributes: the mode nfs-cp gave it keeps its data from the admin).
    const viaRest = await api('GET', `/v1/files/${encodeURIComponent('/nfs-e2e/hello.txt')}/info/attributes`);
    assert.equal(viaRest.status, 200, viaRest.body.toString());
    assert.deepEqual([viaRest.json().size, viaRest.json().owner_uid], ['27', 65534]);
  });

  it('portmap_enabled/portmap_port answer GETPORT on that port, follow changes while NFS runs, and are bounded', async () => {
    const settings = (await api('GET', '/v1/nfs/settings')).json();
    assert.equal(settings.portmap_enabled, false, 'off by default');
    assert.equal(settings.portmap_port, 111);
    const openapi = (await callApi(server.ports.api as number, 'GET', '/openapi.json')).json();
    const body = openapi.paths['/v1/nfs/settings'].put.requestBody.content['application/json'].schema;
    assert.equal(body.properties.portmap_enabled.type, 'boolean');
    assert.deepEqual([body.properties.portmap_port.type, body.properties.portmap_port.minimum, body.properties.portmap_port.maximum], ['integer', 1, 65_535]);
    for (const port of [0, 65_536, 1.5, '111']) {
      const refused = await api('PUT', '/v1/nfs/settings', { portmap_port: port });
      assert.equal(refused.status, 400, `portmap_port ${JSON.stringify(port)}: ${refused.body.toString()}`);
      assert.match(refused.json().description, /portmap_port/);
    }
    const first = await freePort();
    const changed = await api('PUT', '/v1/nfs/settings', { portmap_enabled: true, portmap_port: first });
    assert.equal(changed.status, 200, changed.body.toString());
    assert.equal(changed.json().portmap_port, first);
    let client = await NfsTestClient.open(first);
    assert.equal(await getport(client, { program: 100003, version: 3 }), nfsPort());
    assert.equal(await getport(client, { program: 100005, version: 3 }), nfsPort());
    client.close();

    const second = await freePort();
    assert.equal((await api('PUT', '/v1/nfs/settings', { portmap_port: second })).status, 200);
    await assert.rejects(NfsTestClient.open(first), /ECONNREFUSED/);
    client = await NfsTestClient.open(second);
    assert.equal(await getport(client, { program: 100005, version: 3 }), nfsPort());
    client.close();
    // The NFS port keeps serving (libnfs reaches it after the restart of the listener).
    assert.equal((await run('nfs-cat', [url('/e2e/hello.txt')], { timeout: TOOL_TIMEOUT_MS })).stdout, 'hello from the real server\n');

    assert.equal((await api('PUT', '/v1/nfs/settings', { portmap_enabled: false })).status, 200);
    await assert.rejects(NfsTestClient.open(second), /ECONNREFUSED/);
  });

  it('DATA_SYNC and FILE_SYNC writes survive a restart on the same data directory, and the write verifier changes', async () => {
    const write = async (client: NfsTestClient, handle: Uint8Array, offset: number, data: Uint8Array, stable: number) => {
      const reply = await nfs(client, 7, (writer) => writer.opaque(handle).uint64(BigInt(offset)).uint32(data.byteLength).uint32(stable).opaque(data));
      assert.equal(reply.body.uint32(), Nfs3Status.OK);
      skipWcc(reply.body);
      assert.equal(reply.body.uint32(), data.byteLength);
      const committed = reply.body.uint32();
      assert.ok(committed >= stable, `asked ${stable}, committed ${committed}`);
      return Uint8Array.from(reply.body.fixedOpaque(8));
    };
    let client = await NfsTestClient.open(nfsPort());
    const root = (await mountHandle(client, '/e2e')).handle as Uint8Array;
    const file = await create(client, root, 'durable.bin', { mode: 0 });
    assert.equal(file.status, 0);
    const handle = file.handle as Uint8Array;
    const before = await write(client, handle, 0, Uint8Array.of(1, 2, 3, 4), StableHow.DATA_SYNC);
    assert.deepEqual(await write(client, handle, 4, Uint8Array.of(5, 6, 7, 8), StableHow.FILE_SYNC), before);
    client.close();

    await server.stop();
    await start();
    client = await NfsTestClient.open(nfsPort());
    try {
      // Handles survive the restart (keyed by the instance key), and so does the data.
      assert.equal((await getattr(client, handle)).attributes?.size, 8n);
      const read = await nfs(client, 6, (writer) => writer.opaque(handle).uint64(0).uint32(100));
      assert.equal(read.body.uint32(), Nfs3Status.OK);
      readPostOp(read.body);
      assert.equal(read.body.uint32(), 8);
      assert.equal(read.body.bool(), true);
      assert.deepEqual(Uint8Array.from(read.body.opaque(100)), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
      // RFC 1813 §3.3.7: a new verifier tells clients to resend writes they had not committed.
      const after = await write(client, handle, 8, Uint8Array.of(9), StableHow.FILE_SYNC);
      assert.notDeepEqual(after, before);
    } finally {
      client.close();
    }
  });
});
