import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Nfs3Status } from '../src/protocols/nfs/v3/nfs3-types.js';
import { DATA_EXPORT, exportOf, openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { create, getattr, lookup, mkdir, mountHandle, nfs, readdirplus, readPostOp, skipWcc, writeSattr } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';

/** Procedures and rules the libnfs tools do not reach, driven by our own RPC client. */
describe('NFSv3 procedures over our own client', () => {
  let fixture: NfsFixture;
  let client: NfsTestClient;
  let root: Uint8Array;

  before(async () => {
    fixture = await openNfsFixture();
    client = await NfsTestClient.open(fixture.port);
    const mounted = await mountHandle(client, '/data');
    assert.equal(mounted.status, 0);
    root = mounted.handle as Uint8Array;
  });

  after(async () => {
    client.close();
    await fixture.close();
  });

  it('a file created as root over NFS is owned by nobody (root squash)', async () => {
    const created = await create(client, root, 'squashed.txt', { mode: 0 });
    assert.equal(created.status, 0);
    assert.equal(created.attributes?.uid, 65534);
    assert.equal(created.attributes?.gid, 65534);
  });

  it('SETATTR with a stale ctime guard fails with NOT_SYNC and changes nothing', async () => {
    const created = await create(client, root, 'guarded.txt', { mode: 0 });
    const handle = created.handle as Uint8Array;
    const ctime = created.attributes?.ctime as readonly [number, number];
    const setMode = (mode: number, guard: readonly [number, number]) =>
      nfs(client, 2, (writer) => {
        writer.opaque(handle);
        writeSattr(writer, { mode });
        writer.bool(true).uint32(guard[0]).uint32(guard[1]);
      });
    const stale = await setMode(0o600, [ctime[0], ctime[1] === 0 ? 1 : ctime[1] - 1]);
    assert.equal(stale.body.uint32(), Nfs3Status.NOT_SYNC);
    assert.equal(((await getattr(client, handle)).attributes?.mode ?? 0) & 0o777, 0o644);
    const fresh = await setMode(0o600, ctime);
    assert.equal(fresh.body.uint32(), Nfs3Status.OK);
    assert.equal(((await getattr(client, handle)).attributes?.mode ?? 0) & 0o777, 0o600);
  });

  it('CREATE EXCLUSIVE: a retransmission with the same verifier succeeds, another verifier is EXIST', async () => {
    const verifier = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const first = await create(client, root, 'exclusive.txt', { mode: 2, verifier });
    assert.equal(first.status, 0);
    const again = await create(client, root, 'exclusive.txt', { mode: 2, verifier });
    assert.equal(again.status, 0);
    assert.deepEqual(again.handle, first.handle);
    const other = await create(client, root, 'exclusive.txt', { mode: 2, verifier: Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9) });
    assert.equal(other.status, Nfs3Status.EXIST);
    const guarded = await create(client, root, 'exclusive.txt', { mode: 1 });
    assert.equal(guarded.status, Nfs3Status.EXIST);
  });

  it('LINK makes a second name for a file and RENAME moves it between directories', async () => {
    const file = await create(client, root, 'linked.txt', { mode: 0 });
    const sub = await mkdir(client, root, 'sub');
    assert.equal(sub.status, 0);
    const linked = await nfs(client, 15, (writer) => writer.opaque(file.handle as Uint8Array).opaque(sub.handle as Uint8Array).string('alias.txt'));
    assert.equal(linked.body.uint32(), 0);
    assert.equal(readPostOp(linked.body)?.nlink, 2);
    const renamed = await nfs(client, 14, (writer) => writer.opaque(sub.handle as Uint8Array).string('alias.txt').opaque(root).string('renamed.txt'));
    assert.equal(renamed.body.uint32(), 0);
    skipWcc(renamed.body);
    skipWcc(renamed.body);
    renamed.body.end();
    const found = await lookup(client, root, 'renamed.txt');
    assert.equal(found.attributes?.fileid, file.attributes?.fileid);
    assert.equal((await lookup(client, sub.handle as Uint8Array, 'alias.txt')).status, Nfs3Status.NOENT);
  });

  it('READDIRPLUS pages through a directory with stable cookies and the cookie verifier', async () => {
    const dir = await mkdir(client, root, 'many');
    const handle = dir.handle as Uint8Array;
    const names = Array.from({ length: 60 }, (_, index) => `entry-${String(index).padStart(3, '0')}-${'x'.repeat(40)}`);
    for (const name of names) assert.equal((await create(client, handle, name, { mode: 0 })).status, 0);
    const seen: string[] = [];
    let cookie = 0n;
    let verifier: Uint8Array = new Uint8Array(8);
    let pages = 0;
    for (;;) {
      const page = await readdirplus(client, handle, { cookie, verifier, maxcount: 4096 });
      assert.equal(page.status, 0);
      pages += 1;
      seen.push(...page.entries.map((entry) => entry.name));
      // A name created behind the cursor mid-listing must not be repeated or break paging.
      if (pages === 1) assert.equal((await create(client, handle, 'aaa-late', { mode: 0 })).status, 0);
      if (page.eof) break;
      cookie = page.entries.at(-1)?.cookie ?? 0n;
      verifier = page.verifier ?? verifier;
    }
    assert.ok(pages > 2, `expected several pages, got ${pages}`);
    assert.deepEqual(seen.filter((name) => name.startsWith('entry-')).sort(), names);
    assert.equal(new Set(seen).size, seen.length);
    const bad = await readdirplus(client, handle, { cookie: 12345n << 16n, verifier: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1), maxcount: 4096 });
    assert.equal(bad.status, Nfs3Status.BAD_COOKIE);
  });

  it('READDIRPLUS fills every reply after the first when names are alike, within maxcount', async () => {
    const dir = await mkdir(client, root, 'uniform');
    const handle = dir.handle as Uint8Array;
    for (let index = 0; index < 100; index += 1) assert.equal((await create(client, handle, `u${String(index).padStart(4, '0')}`, { mode: 0 })).status, 0);
    // RFC 1813 §3.3.17 entryplus3 of a 5-byte name with attributes and a 50-byte handle; the reply
    // around the entries is status, dir post_op_attr, cookieverf and the two closing booleans.
    const entryBytes = 4 + 8 + (4 + 8) + 8 + (4 + 84) + (4 + 4 + 52);
    const aroundBytes = 4 + (4 + 84) + 8 + 4 + 4;
    // libnfs's size: 44 such entries fit, where names of 20 bytes (a guess) would make it 42.
    const maxcount = 8192;
    const fit = Math.floor((maxcount - aroundBytes) / entryBytes);
    const first = await readdirplus(client, handle, { cookie: 0n, verifier: new Uint8Array(8), maxcount });
    const second = await readdirplus(client, handle, { cookie: first.entries.at(-1)?.cookie ?? 0n, verifier: first.verifier ?? new Uint8Array(8), maxcount });
    assert.equal(second.status, 0);
    assert.equal(second.eof, false);
    assert.equal(second.entries.length, fit, 'the second reply is sized for the names of the first');
  });

  it('a forged or altered handle is BADHANDLE', async () => {
    const forged = Uint8Array.from(root);
    forged[10] = (forged[10] ?? 0) ^ 1;
    assert.equal((await getattr(client, forged)).status, Nfs3Status.BADHANDLE);
    assert.equal((await getattr(client, new Uint8Array(32))).status, Nfs3Status.BADHANDLE);
    assert.equal((await getattr(client, root)).status, 0);
  });

  it('LOOKUP ".." at the export root is the export root: nothing above the export is reachable', async () => {
    const up = await lookup(client, root, '..');
    assert.equal(up.status, 0);
    assert.deepEqual(up.handle, root);
    const sub = await lookup(client, root, 'sub');
    const back = await lookup(client, sub.handle as Uint8Array, '..');
    assert.deepEqual(back.handle, root);
    assert.equal((await lookup(client, root, 'outside')).status, Nfs3Status.NOENT);
  });

  it('a directory moved out of the export by another protocol cannot be climbed out of', async () => {
    const escape = await mkdir(client, root, 'escape');
    const inner = await mkdir(client, escape.handle as Uint8Array, 'inner');
    const { fs, root: system } = fixture.core;
    const outside = await fs.resolvePath(system, '/outside');
    await fs.rename(system, { sourceDir: fixture.dataDir, sourceName: 'escape', targetDir: outside.handle, targetName: 'escape' });
    const climbed = await lookup(client, inner.handle as Uint8Array, '..');
    assert.equal(climbed.status, Nfs3Status.ACCES);
  });

  it('ACCESS answers from the ACL and drops write bits on a read-only export', async () => {
    const file = await create(client, root, 'access.txt', { mode: 0 });
    const ask = async (handle: Uint8Array) => {
      const reply = await nfs(client, 4, (writer) => writer.opaque(handle).uint32(0x3f));
      assert.equal(reply.body.uint32(), 0);
      readPostOp(reply.body);
      return reply.body.uint32();
    };
    assert.equal((await ask(file.handle as Uint8Array)) & 0x0d, 0x0d);
    fixture.setExports([{ id: DATA_EXPORT.id, value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['127.0.0.1'], require_privileged_port: false, read_only: true }] }) }]);
    try {
      assert.equal((await ask(file.handle as Uint8Array)) & 0x1c, 0);
      const written = await nfs(client, 7, (writer) => writer.opaque(file.handle as Uint8Array).uint64(0).uint32(1).uint32(2).opaque(Uint8Array.of(65)));
      assert.equal(written.body.uint32(), Nfs3Status.ROFS);
      assert.equal((await create(client, root, 'nope.txt', { mode: 0 })).status, Nfs3Status.ROFS);
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
  });

  it('every call re-checks the rules: a client no rule admits is ACCES on NFS and at MOUNT', async () => {
    fixture.setExports([{ id: DATA_EXPORT.id, value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['10.0.0.0/8'], require_privileged_port: false }] }) }]);
    try {
      assert.equal((await getattr(client, root)).status, Nfs3Status.ACCES);
      assert.equal((await mountHandle(client, '/data')).status, 13);
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
  });

  it('an export with no rule admits nobody, and a deleted export makes its handles STALE', async () => {
    fixture.setExports([{ id: DATA_EXPORT.id, value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [] }) }]);
    try {
      assert.equal((await mountHandle(client, '/data')).status, 13);
      fixture.setExports([]);
      assert.equal((await getattr(client, root)).status, Nfs3Status.STALE);
      assert.equal((await mountHandle(client, '/data')).status, 2);
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
  });

  it('require_privileged_port refuses a client on an unprivileged source port and admits one below 1024', async () => {
    fixture.setExports([{ id: DATA_EXPORT.id, value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['127.0.0.1'] }] }) }]);
    try {
      assert.equal((await mountHandle(client, '/data')).status, 13);
      if (process.getuid?.() !== 0) return;
      const privileged = await NfsTestClient.open(fixture.port, { localPort: 700 + (process.pid % 200) });
      try {
        assert.equal((await mountHandle(privileged, '/data')).status, 0);
      } finally {
        privileged.close();
      }
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
  });

  it('MOUNT of a path below an export works, and paths with ".." are refused', async () => {
    const below = await mountHandle(client, '/data/sub');
    assert.equal(below.status, 0);
    assert.equal((await mountHandle(client, '/data/../exports')).status, 22);
    assert.equal((await mountHandle(client, '/data/guarded.txt')).status, 20);
  });

  it('a retransmitted REMOVE is answered from the duplicate-request cache, not run twice', async () => {
    await create(client, root, 'once.txt', { mode: 0 });
    const remove = () => client.call({ program: 100003, version: 3, procedure: 12, xid: 0x7777, args: (writer) => writer.opaque(root).string('once.txt') });
    assert.equal((await remove()).body.uint32(), 0);
    assert.equal((await remove()).body.uint32(), 0);
    assert.equal((await lookup(client, root, 'once.txt')).status, Nfs3Status.NOENT);
  });

  it('MKNOD of a device is NOTSUPP; the first WRITE is FILE_SYNC, later UNSTABLE ones are gathered, with one verifier; READ and COMMIT see them', async () => {
    const node = await nfs(client, 11, (writer) => {
      writer.opaque(root).string('dev').uint32(4);
      writeSattr(writer);
      writer.uint32(1).uint32(3);
    });
    assert.equal(node.body.uint32(), Nfs3Status.NOTSUPP);
    const file = await create(client, root, 'data.bin', { mode: 0 });
    const write = async (committed: number) => {
      const reply = await nfs(client, 7, (writer) => writer.opaque(file.handle as Uint8Array).uint64(3).uint32(3).uint32(0).opaque(Uint8Array.of(7, 8, 9)));
      assert.equal(reply.body.uint32(), 0);
      skipWcc(reply.body);
      assert.equal(reply.body.uint32(), 3);
      assert.equal(reply.body.uint32(), committed);
      return Uint8Array.from(reply.body.fixedOpaque(8));
    };
    // The first write goes to core (FILE_SYNC), the next UNSTABLE one is gathered (UNSTABLE).
    assert.deepEqual(await write(2), await write(0));
    const read = await nfs(client, 6, (writer) => writer.opaque(file.handle as Uint8Array).uint64(0).uint32(100));
    assert.equal(read.body.uint32(), 0);
    readPostOp(read.body);
    assert.equal(read.body.uint32(), 6);
    assert.equal(read.body.bool(), true);
    assert.deepEqual([...read.body.opaque(100)], [0, 0, 0, 7, 8, 9]);
    await write(0);
    const commit = await nfs(client, 21, (writer) => writer.opaque(file.handle as Uint8Array).uint64(0).uint32(0));
    assert.equal(commit.body.uint32(), 0, 'COMMIT writes the gathered data out');
  });

  it('PORTMAP GETPORT names the NFS port for NFS and MOUNT over TCP, 0 for anything else', async () => {
    const getport = async (program: number, version: number, protocol: number) => {
      const reply = await client.call({ program: 100000, version: 2, procedure: 3, args: (writer) => writer.uint32(program).uint32(version).uint32(protocol).uint32(0) });
      return reply.body.uint32();
    };
    assert.equal(await getport(100003, 3, 6), fixture.port);
    assert.equal(await getport(100005, 3, 6), fixture.port);
    assert.equal(await getport(100003, 4, 6), 0);
    assert.equal(await getport(100003, 3, 17), 0);
  });
});
