import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { openCoreFixture, silentLogger } from '../src/core/testing/core-fixture.test-support.js';
import { createNfsServer } from '../src/protocols/nfs/nfs-server.js';
import { openNfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { mountHandle } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';
import { freePort, getport, IPPROTO_TCP, IPPROTO_UDP, PORTMAP } from './support/nfs-rpc.js';

const run = promisify(execFile);

describe('PORTMAP on its own port (portmapPort)', () => {
  it('GETPORT on the portmap port names the NFS port for NFS v3 and MOUNT v3 over TCP, and DUMP lists them', async () => {
    const portmapPort = await freePort();
    const fixture = await openNfsFixture({ server: { portmapPort } });
    const client = await NfsTestClient.open(portmapPort);
    try {
      assert.deepEqual(fixture.server.ports, { nfs: fixture.port, portmap: portmapPort });
      assert.notEqual(fixture.port, portmapPort);
      assert.equal(await getport(client, { program: 100003, version: 3 }), fixture.port);
      assert.equal(await getport(client, { program: 100005, version: 3 }), fixture.port);
      assert.equal(await getport(client, { program: 100003, version: 3, protocol: IPPROTO_UDP }), 0, 'no UDP');
      assert.equal(await getport(client, { program: 100003, version: 4 }), 0, 'no NFSv4');
      assert.equal(await getport(client, { program: 100021, version: 4 }), 0, 'no NLM');
      const dumped = await client.call({ ...PORTMAP, procedure: 4 });
      const mappings: number[][] = [];
      while (dumped.body.bool()) mappings.push([dumped.body.uint32(), dumped.body.uint32(), dumped.body.uint32(), dumped.body.uint32()]);
      assert.deepEqual(mappings, [
        [100003, 3, IPPROTO_TCP, fixture.port],
        [100005, 3, IPPROTO_TCP, fixture.port],
        [100000, 2, IPPROTO_TCP, fixture.port],
      ]);
      // SET is refused: this is not a general portmapper.
      const set = await client.call({ ...PORTMAP, procedure: 1, args: (writer) => writer.uint32(100099).uint32(1).uint32(IPPROTO_TCP).uint32(7777) });
      assert.equal(set.body.bool(), false);
      // The portmap port serves MOUNT too, as the NFS port does.
      assert.equal((await mountHandle(client, '/data')).status, 0);
    } finally {
      client.close();
      await fixture.close();
    }
    assert.deepEqual(fixture.server.ports, {});
  });

  it('a portmap port that cannot be bound is logged with the setting to change, and NFS serves on without it', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as AddressInfo).port;
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      }),
    );
    const fixture = await openNfsFixture({ server: { portmapPort: async () => busyPort, logger } });
    try {
      assert.deepEqual(fixture.server.ports, { nfs: fixture.port });
      const refusal = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).find((line) => line.level >= 50 && line.msg.includes('PORTMAP'));
      assert.ok(refusal !== undefined, lines.join(''));
      assert.match(refusal.msg, new RegExp(`127\\.0\\.0\\.1:${busyPort}: the port is already in use; change portmap_port`));
      const client = await NfsTestClient.open(fixture.port);
      assert.equal(await getport(client, { program: 100005, version: 3 }), fixture.port);
      client.close();
    } finally {
      await fixture.close();
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('a portmap port asked through a function is read again at each listen', async () => {
    const core = await openCoreFixture();
    let current: number | undefined;
    const server = createNfsServer({ fileSystem: core.fs, exports: { list: async () => [], onChange: () => () => undefined }, handleKey: randomBytes(32), logger: silentLogger, portmapPort: async () => current });
    try {
      await server.listen('127.0.0.1', 0);
      assert.equal(server.ports.portmap, undefined);
      await server.close();
      // Both ports chosen up front: an NFS port of 0 could be handed the port just freed for
      // the portmapper (seen once in CI), and then the portmapper's bind fails.
      current = await freePort();
      let nfsWanted = await freePort();
      while (nfsWanted === current) nfsWanted = await freePort();
      const nfsPort = await server.listen('127.0.0.1', nfsWanted);
      assert.deepEqual(server.ports, { nfs: nfsPort, portmap: current });
    } finally {
      await server.close();
      await core.close();
    }
  });

  // rpcinfo (Debian's rpcbind package) asks the portmapper on port 111 only, so this test serves
  // PORTMAP on 111 of a loopback address of its own, out of the way of anything on 127.0.0.1.
  const rpcinfoSkip = !existsSync('/usr/sbin/rpcinfo') ? 'needs rpcinfo (Debian package rpcbind)' : process.getuid?.() !== 0 ? 'port 111 needs root' : false;
  it('rpcinfo finds NFS v3 and MOUNT v3 over TCP through our portmapper, and reaches them', { skip: rpcinfoSkip }, async (context) => {
    const host = '127.0.0.111';
    const core = await openCoreFixture();
    const server = createNfsServer({ fileSystem: core.fs, exports: { list: async () => [], onChange: () => () => undefined }, handleKey: randomBytes(32), logger: silentLogger, portmapPort: 111 });
    try {
      const nfsPort = await server.listen(host, 0);
      if (server.ports.portmap === undefined) {
        context.skip(`${host}:111 is taken (a portmapper runs here)`);
        return;
      }
      // -s asks PORTMAP's DUMP (rpcbind v3/v4 answer PROG_MISMATCH; rpcinfo falls back to v2).
      const { stdout } = await run('rpcinfo', ['-s', host], { timeout: 20_000 });
      const rows = stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/).slice(0, 3));
      assert.deepEqual(rows.sort(), [
        ['100000', '2', 'tcp'],
        ['100003', '3', 'tcp'],
        ['100005', '3', 'tcp'],
      ]);
      for (const [program, version] of [
        ['100003', '3'],
        ['100005', '3'],
      ]) {
        // -a: the NFS port's universal address (RFC 5665 §5.2.3.4: h1.h2.h3.h4.p1.p2), no lookup.
        const universalAddress = `${host}.${nfsPort >> 8}.${nfsPort & 0xff}`;
        const pinged = await run('rpcinfo', ['-a', universalAddress, '-T', 'tcp', program as string, version as string], { timeout: 20_000 });
        assert.match(pinged.stdout, new RegExp(`program ${program} version ${version} ready and waiting`));
      }
    } finally {
      await server.close();
      await core.close();
    }
  });
});
