import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AcceptStatus, AuthStatus } from '../src/protocols/nfs/rpc/rpc-message.js';
import { openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { getattr, mountHandle } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';

const CLOSE_WAIT_MS = 2_000;

function closesWithin(client: NfsTestClient, ms: number): Promise<boolean> {
  return Promise.race([client.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
}

function mark(length: number, last = true): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(((last ? 0x8000_0000 : 0) | length) >>> 0, 0);
  return bytes;
}

describe('ONC RPC server', () => {
  let fixture: NfsFixture;
  let good: NfsTestClient;
  let root: Uint8Array;

  before(async () => {
    fixture = await openNfsFixture({ server: { limits: { recordBytesMax: 256 * 1024 } } });
    good = await NfsTestClient.open(fixture.port);
    root = (await mountHandle(good, '/data')).handle as Uint8Array;
  });

  after(async () => {
    good.close();
    await fixture.close();
  });

  it('answers unknown programs, versions and procedures with PROG_UNAVAIL, PROG_MISMATCH and PROC_UNAVAIL', async () => {
    const unknownProgram = await good.call({ program: 399999, version: 1, procedure: 0 });
    assert.equal(unknownProgram.status, AcceptStatus.PROG_UNAVAIL);
    const wrongVersion = await good.call({ program: 100003, version: 4, procedure: 0 });
    assert.equal(wrongVersion.status, AcceptStatus.PROG_MISMATCH);
    assert.deepEqual([wrongVersion.body.uint32(), wrongVersion.body.uint32()], [3, 3]);
    const unknownProcedure = await good.call({ program: 100003, version: 3, procedure: 22 });
    assert.equal(unknownProcedure.status, AcceptStatus.PROC_UNAVAIL);
  });

  it('answers undecodable arguments with GARBAGE_ARGS and keeps the connection', async () => {
    const garbage = await good.call({ program: 100003, version: 3, procedure: 1, args: (writer) => writer.uint32(1_000_000) });
    assert.equal(garbage.status, AcceptStatus.GARBAGE_ARGS);
    const trailing = await good.call({ program: 100003, version: 3, procedure: 0, args: (writer) => writer.uint32(1) });
    assert.equal(trailing.status, AcceptStatus.GARBAGE_ARGS);
    assert.equal((await getattr(good, root)).status, 0);
  });

  it('AUTH_NONE is served as nobody; RPCSEC_GSS is AUTH_TOOWEAK; more than 16 gids is AUTH_BADCRED', async () => {
    const none = await good.call({ program: 100003, version: 3, procedure: 1, args: (writer) => writer.opaque(root), credential: 'none' });
    assert.equal(none.replyStatus, 0);
    assert.equal(none.body.uint32(), 0);
    const client = await NfsTestClient.open(fixture.port);
    try {
      const gss = await client.call({ program: 100003, version: 3, procedure: 0, credential: { flavor: 6 } });
      assert.equal(gss.replyStatus, 1);
      assert.equal(gss.body.uint32(), AuthStatus.AUTH_TOOWEAK);
      const denied = await client.call({ program: 100003, version: 3, procedure: 0, credential: { uid: 1, gid: 1, gids: Array.from({ length: 17 }, (_, index) => index) } });
      assert.equal(denied.replyStatus, 1);
      assert.equal(denied.status, 1);
      assert.equal(denied.body.uint32(), AuthStatus.AUTH_BADCRED);
    } finally {
      client.close();
    }
  });

  it('an oversized record closes that connection at once, and other clients are unaffected', async () => {
    const bad = await NfsTestClient.open(fixture.port);
    bad.writeRaw(mark(0x7fff_ffff));
    assert.equal(await closesWithin(bad, CLOSE_WAIT_MS), true);
    assert.equal((await getattr(good, root)).status, 0);
  });

  it('a record that is not a call closes the connection', async () => {
    const bad = await NfsTestClient.open(fixture.port);
    bad.writeRaw(Buffer.concat([mark(8), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1])]));
    assert.equal(await closesWithin(bad, CLOSE_WAIT_MS), true);
  });

  it('random, truncated and oversized records: no crash, no hang, bad connections closed, a good client served throughout', async () => {
    for (let round = 0; round < 60; round += 1) {
      const bad = await NfsTestClient.open(fixture.port);
      const kind = round % 4;
      if (kind === 0) bad.writeRaw(randomBytes(1 + (round * 37) % 2000));
      else if (kind === 1) {
        const body = randomBytes(40 + (round % 200));
        // A well-framed record with a plausible CALL header and random arguments.
        body.writeUInt32BE(0, 4);
        body.writeUInt32BE(2, 8);
        body.writeUInt32BE([100003, 100005, 100000][round % 3] as number, 12);
        body.writeUInt32BE(3, 16);
        body.writeUInt32BE(round % 23, 20);
        body.writeUInt32BE(0, 24);
        body.writeUInt32BE(0, 28);
        body.writeUInt32BE(0, 32);
        body.writeUInt32BE(0, 36);
        bad.writeRaw(Buffer.concat([mark(body.byteLength), body]));
      } else if (kind === 2) bad.writeRaw(Buffer.concat([mark(100), randomBytes(50)]));
      else bad.writeRaw(Buffer.concat([mark(300 * 1024, false)]));
      if (kind === 2) bad.close();
      else if (kind === 3) assert.equal(await closesWithin(bad, CLOSE_WAIT_MS), true);
      else {
        await new Promise((resolve) => setTimeout(resolve, 5));
        bad.close();
      }
      assert.equal((await getattr(good, root)).status, 0);
    }
    assert.ok(fixture.server.ports.nfs !== undefined);
  });

  it('a truncated record (a connection that stops mid-record) holds no other client up', async () => {
    const stuck = await NfsTestClient.open(fixture.port);
    stuck.writeRaw(Buffer.concat([mark(1000), randomBytes(10)]));
    assert.equal((await getattr(good, root)).status, 0);
    stuck.close();
  });
});
