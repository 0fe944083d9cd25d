import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FILE_BYTES_MAX, LINKS_MAX, NAME_BYTES_MAX } from '../src/core/file-system.js';
import { DATA_EXPORT, exportOf, openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { create, getattr, lookup, mkdir, mountHandle, nfs, readPostOp, writeSattr, type Fattr } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';
import type { XdrReader } from '../src/protocols/nfs/xdr/xdr-reader.js';
import { FileType3, FsInfoProperty, Nfs3Status, READ_BYTES_PREFERRED, StableHow, WRITE_BYTES_PREFERRED } from '../src/protocols/nfs/v3/nfs3-types.js';

/**
 * The MOUNT and NFSv3 procedures and result fields the other NFS tests leave out: MOUNT's UMNT,
 * UMNTALL, EXPORT and DUMP; READLINK, SYMLINK, FSSTAT, FSINFO, PATHCONF; the wcc_data of the
 * changing procedures (RFC 1813 §2.6: pre_op_attr is size, mtime and ctime just before the
 * change, post_op_attr the attributes just after); WRITE's committed level; MKNOD's refusals.
 */

const MOUNT = { program: 100005, version: 3 } as const;
const MountProcedure = { DUMP: 2, UMNT: 3, UMNTALL: 4, EXPORT: 5 } as const;
const NfsProcedure = { SETATTR: 2, READLINK: 5, READ: 6, WRITE: 7, SYMLINK: 10, MKNOD: 11, REMOVE: 12, RENAME: 14, FSSTAT: 18, FSINFO: 19, PATHCONF: 20 } as const;

interface WccAttributes {
  readonly size: bigint;
  readonly mtime: readonly [number, number];
  readonly ctime: readonly [number, number];
}

interface Wcc {
  readonly before?: WccAttributes;
  readonly after?: Fattr;
}

function readWcc(reader: XdrReader): Wcc {
  const time = (): [number, number] => [reader.uint32(), reader.uint32()];
  const prior = reader.optional(() => ({ size: reader.uint64(), mtime: time(), ctime: time() }));
  const after = readPostOp(reader);
  return { ...(prior === undefined ? {} : { before: prior }), ...(after === undefined ? {} : { after }) };
}

/** RFC 1813 §2.6 wcc_data: before is the object's size and times before the change, after its attributes after. */
function assertWcc(wcc: Wcc, before: Fattr, after: Fattr, what: string): void {
  assert.deepEqual(wcc.before, { size: before.size, mtime: before.mtime, ctime: before.ctime }, `${what}: pre-operation attributes`);
  assert.deepEqual(wcc.after, after, `${what}: post-operation attributes`);
}

async function attributesOf(client: NfsTestClient, handle: Uint8Array): Promise<Fattr> {
  const answer = await getattr(client, handle);
  assert.equal(answer.status, Nfs3Status.OK);
  return answer.attributes as Fattr;
}

/** WRITE3args: the status, and on success wcc, count, committed and verifier. */
async function write(client: NfsTestClient, handle: Uint8Array, input: { offset: bigint; data: Uint8Array; stable: number }) {
  const reply = await nfs(client, NfsProcedure.WRITE, (writer) => writer.opaque(handle).uint64(input.offset).uint32(input.data.byteLength).uint32(input.stable).opaque(input.data));
  const status = reply.body.uint32();
  const wcc = readWcc(reply.body);
  if (status !== Nfs3Status.OK) return { status, wcc };
  return { status, wcc, count: reply.body.uint32(), committed: reply.body.uint32(), verifier: Uint8Array.from(reply.body.fixedOpaque(8)) };
}

async function read(client: NfsTestClient, handle: Uint8Array, count: number): Promise<Uint8Array> {
  const reply = await nfs(client, NfsProcedure.READ, (writer) => writer.opaque(handle).uint64(0).uint32(count));
  assert.equal(reply.body.uint32(), Nfs3Status.OK);
  readPostOp(reply.body);
  reply.body.uint32();
  reply.body.bool();
  return Uint8Array.from(reply.body.opaque(count));
}

/** MOUNT's mountlist (DUMP): (hostname, directory) pairs. */
async function dump(client: NfsTestClient): Promise<Array<[string, string]>> {
  const reply = await client.call({ ...MOUNT, procedure: MountProcedure.DUMP });
  const entries: Array<[string, string]> = [];
  while (reply.body.bool()) entries.push([reply.body.string(255), reply.body.string(1024)]);
  reply.body.end();
  return entries;
}

/** MOUNT's exports (EXPORT): directory -> groups. */
async function listExports(client: NfsTestClient): Promise<Map<string, string[]>> {
  const reply = await client.call({ ...MOUNT, procedure: MountProcedure.EXPORT });
  const exports = new Map<string, string[]>();
  while (reply.body.bool()) {
    const path = reply.body.string(1024);
    const groups: string[] = [];
    while (reply.body.bool()) groups.push(reply.body.string(255));
    exports.set(path, groups);
  }
  reply.body.end();
  return exports;
}

describe('NFSv3 and MOUNT procedures the other tests leave out', () => {
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

  it('DUMP lists the caller\'s mounts; UMNT forgets one, UMNTALL the rest (both answer void)', async () => {
    assert.equal((await mkdir(client, root, 'mounted-below')).status, 0);
    assert.equal((await mountHandle(client, '/data/mounted-below')).status, 0);
    assert.deepEqual((await dump(client)).sort(), [
      ['127.0.0.1', '/data'],
      ['127.0.0.1', '/data/mounted-below'],
    ]);
    const unmounted = await client.call({ ...MOUNT, procedure: MountProcedure.UMNT, args: (writer) => writer.string('/data') });
    assert.equal(unmounted.status, 0);
    unmounted.body.end();
    assert.deepEqual(await dump(client), [['127.0.0.1', '/data/mounted-below']]);
    // Unmounting what is not mounted is not an error (UMNT has no status).
    assert.equal((await client.call({ ...MOUNT, procedure: MountProcedure.UMNT, args: (writer) => writer.string('/nothing') })).status, 0);
    const all = await client.call({ ...MOUNT, procedure: MountProcedure.UMNTALL });
    assert.equal(all.status, 0);
    all.body.end();
    assert.deepEqual(await dump(client), []);
    // Mount records are informational (RFC 1813 §5.2.3): a handle still works after UMNTALL.
    assert.equal((await getattr(client, root)).status, Nfs3Status.OK);
  });

  it('EXPORT lists the exports whose rules match the caller, with their host groups', async () => {
    const elsewhere = { id: '8', value: exportOf({ export_path: '/elsewhere', fs_path: '/outside', restrictions: [{ host_restrictions: ['10.0.0.0/8'], require_privileged_port: false }] }) };
    const shared = { id: '9', value: exportOf({ export_path: '/shared', fs_path: '/outside', restrictions: [{ host_restrictions: ['192.0.2.0/24'] }, { host_restrictions: ['127.0.0.0/8', '::1'], read_only: true }] }) };
    fixture.setExports([DATA_EXPORT, elsewhere, shared]);
    try {
      assert.deepEqual(
        await listExports(client),
        new Map([
          ['/data', ['127.0.0.1']],
          ['/shared', ['192.0.2.0/24', '127.0.0.0/8', '::1']],
        ]),
      );
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
  });

  it('SYMLINK makes a link (type LNK, with the directory\'s wcc) and READLINK answers its target', async () => {
    const dirBefore = await attributesOf(client, root);
    const reply = await nfs(client, NfsProcedure.SYMLINK, (writer) => {
      writer.opaque(root).string('link');
      writeSattr(writer);
      writer.string('../somewhere/else.txt');
    });
    assert.equal(reply.body.uint32(), Nfs3Status.OK);
    const handle = reply.body.optional((inner) => Uint8Array.from(inner.opaque(64)));
    assert.ok(handle !== undefined);
    assert.equal(readPostOp(reply.body)?.type, FileType3.LNK);
    assertWcc(readWcc(reply.body), dirBefore, await attributesOf(client, root), 'SYMLINK directory');
    const link = await nfs(client, NfsProcedure.READLINK, (writer) => writer.opaque(handle));
    assert.equal(link.body.uint32(), Nfs3Status.OK);
    const attributes = readPostOp(link.body);
    assert.equal(attributes?.type, FileType3.LNK);
    assert.equal(attributes?.size, BigInt('../somewhere/else.txt'.length));
    assert.equal(link.body.string(4096), '../somewhere/else.txt');
    link.body.end();
    assert.equal((await nfs(client, NfsProcedure.SYMLINK, (writer) => (writer.opaque(root).string('link'), writeSattr(writer), writer.string('x')))).body.uint32(), Nfs3Status.EXIST);
    const file = await create(client, root, 'not-a-link.txt', { mode: 0 });
    assert.equal((await nfs(client, NfsProcedure.READLINK, (writer) => writer.opaque(file.handle as Uint8Array))).body.uint32(), Nfs3Status.INVAL);
  });

  it('FSSTAT reports the store\'s capacity, and a quota on the export\'s directory once there is one', async () => {
    const fsstat = async (handle: Uint8Array) => {
      const reply = await nfs(client, NfsProcedure.FSSTAT, (writer) => writer.opaque(handle));
      assert.equal(reply.body.uint32(), Nfs3Status.OK);
      assert.equal(readPostOp(reply.body)?.type, FileType3.DIR);
      const body = reply.body;
      const stats = { tbytes: body.uint64(), fbytes: body.uint64(), abytes: body.uint64(), tfiles: body.uint64(), ffiles: body.uint64(), afiles: body.uint64(), invarsec: body.uint32() };
      body.end();
      return stats;
    };
    const { fs, root: system } = fixture.core;
    const capacity = await fixture.core.chunks.capacity();
    const unlimited = await fsstat(root);
    assert.equal(unlimited.tbytes, BigInt(capacity.totalBytes));
    const limitBytes = 10 * 1024 * 1024;
    await fs.setQuota(system, fixture.dataDir, limitBytes);
    try {
      const file = await create(client, root, 'counted.bin', { mode: 0 });
      assert.equal((await write(client, file.handle as Uint8Array, { offset: 0n, data: new Uint8Array(100_000).fill(1), stable: StableHow.FILE_SYNC })).status, Nfs3Status.OK);
      const quota = await fs.getQuota(system, fixture.dataDir);
      assert.ok(quota !== undefined && quota.usedBytes >= 100_000, `the quota counts the file: ${JSON.stringify(quota)}`);
      const sub = await mkdir(client, root, 'below-quota');
      for (const handle of [root, sub.handle as Uint8Array]) {
        const limited = await fsstat(handle);
        assert.equal(limited.tbytes, BigInt(limitBytes));
        assert.equal(limited.fbytes, BigInt(limitBytes - quota.usedBytes));
        assert.equal(limited.abytes, limited.fbytes);
        assert.ok(limited.ffiles <= limited.tfiles && limited.afiles === limited.ffiles);
        assert.equal(limited.invarsec, 0);
      }
    } finally {
      await fs.setQuota(system, fixture.dataDir, null);
    }
    assert.equal((await fsstat(root)).tbytes, BigInt(capacity.totalBytes));
  });

  it('FSINFO advertises the transfer sizes the RPC layer accepts; a WRITE of wtmax bytes goes through', async () => {
    const reply = await nfs(client, NfsProcedure.FSINFO, (writer) => writer.opaque(root));
    const body = reply.body;
    assert.equal(body.uint32(), Nfs3Status.OK);
    assert.equal(readPostOp(body)?.type, FileType3.DIR);
    const info = {
      rtmax: body.uint32(),
      rtpref: body.uint32(),
      rtmult: body.uint32(),
      wtmax: body.uint32(),
      wtpref: body.uint32(),
      wtmult: body.uint32(),
      dtpref: body.uint32(),
      maxfilesize: body.uint64(),
      timeDelta: [body.uint32(), body.uint32()],
      properties: body.uint32(),
    };
    body.end();
    assert.deepEqual(info, {
      rtmax: READ_BYTES_PREFERRED,
      rtpref: READ_BYTES_PREFERRED,
      rtmult: 4096,
      wtmax: WRITE_BYTES_PREFERRED,
      wtpref: WRITE_BYTES_PREFERRED,
      wtmult: 4096,
      dtpref: 64 * 1024,
      maxfilesize: BigInt(FILE_BYTES_MAX - 1),
      timeDelta: [0, 1],
      properties: FsInfoProperty.LINK | FsInfoProperty.SYMLINK | FsInfoProperty.HOMOGENEOUS | FsInfoProperty.CANSETTIME,
    });
    const file = await create(client, root, 'wtmax.bin', { mode: 0 });
    const data = new Uint8Array(info.wtmax).map((_, index) => index % 251);
    const written = await write(client, file.handle as Uint8Array, { offset: 0n, data, stable: StableHow.FILE_SYNC });
    assert.equal(written.status, Nfs3Status.OK);
    assert.equal(written.count, info.wtmax);
    assert.deepEqual(await read(client, file.handle as Uint8Array, info.rtmax), data);
  });

  it('PATHCONF answers core\'s limits, and a longer name is NAMETOOLONG as no_trunc says', async () => {
    const reply = await nfs(client, NfsProcedure.PATHCONF, (writer) => writer.opaque(root));
    const body = reply.body;
    assert.equal(body.uint32(), Nfs3Status.OK);
    assert.equal(readPostOp(body)?.type, FileType3.DIR);
    const conf = { linkmax: body.uint32(), nameMax: body.uint32(), noTrunc: body.bool(), chownRestricted: body.bool(), caseInsensitive: body.bool(), casePreserving: body.bool() };
    body.end();
    assert.deepEqual(conf, { linkmax: LINKS_MAX, nameMax: NAME_BYTES_MAX, noTrunc: true, chownRestricted: true, caseInsensitive: false, casePreserving: true });
    assert.equal((await create(client, root, 'n'.repeat(conf.nameMax), { mode: 0 })).status, Nfs3Status.OK);
    assert.equal((await create(client, root, 'n'.repeat(conf.nameMax + 1), { mode: 0 })).status, Nfs3Status.NAMETOOLONG);
  });

  it('WRITE, CREATE, REMOVE, RENAME and SETATTR answer wcc_data: before as it was, after as it is', async () => {
    const dirBefore = await attributesOf(client, root);
    const created = await nfs(client, 8, (writer) => {
      writer.opaque(root).string('wcc.txt').uint32(0);
      writeSattr(writer, { mode: 0o644 });
    });
    assert.equal(created.body.uint32(), Nfs3Status.OK);
    const file = created.body.optional((inner) => Uint8Array.from(inner.opaque(64))) as Uint8Array;
    readPostOp(created.body);
    assertWcc(readWcc(created.body), dirBefore, await attributesOf(client, root), 'CREATE directory');

    for (const stable of [StableHow.FILE_SYNC, StableHow.DATA_SYNC, StableHow.FILE_SYNC]) {
      const fileBefore = await attributesOf(client, file);
      const written = await write(client, file, { offset: fileBefore.size, data: Uint8Array.of(1, 2, 3, 4, 5), stable });
      assert.equal(written.status, Nfs3Status.OK);
      const fileAfter = await attributesOf(client, file);
      assert.equal(fileAfter.size, fileBefore.size + 5n);
      assertWcc(written.wcc, fileBefore, fileAfter, `WRITE stable ${stable}`);
    }

    const fileBefore = await attributesOf(client, file);
    const truncated = await nfs(client, NfsProcedure.SETATTR, (writer) => {
      writer.opaque(file);
      writeSattr(writer, { size: 2n });
      writer.bool(false);
    });
    assert.equal(truncated.body.uint32(), Nfs3Status.OK);
    const fileAfter = await attributesOf(client, file);
    assert.equal(fileAfter.size, 2n);
    assertWcc(readWcc(truncated.body), fileBefore, fileAfter, 'SETATTR');

    const target = (await mkdir(client, root, 'wcc-target')).handle as Uint8Array;
    const [sourceBefore, targetBefore] = [await attributesOf(client, root), await attributesOf(client, target)];
    const renamed = await nfs(client, NfsProcedure.RENAME, (writer) => writer.opaque(root).string('wcc.txt').opaque(target).string('moved.txt'));
    assert.equal(renamed.body.uint32(), Nfs3Status.OK);
    assertWcc(readWcc(renamed.body), sourceBefore, await attributesOf(client, root), 'RENAME from directory');
    assertWcc(readWcc(renamed.body), targetBefore, await attributesOf(client, target), 'RENAME to directory');
    renamed.body.end();

    const targetBeforeRemove = await attributesOf(client, target);
    const removed = await nfs(client, NfsProcedure.REMOVE, (writer) => writer.opaque(target).string('moved.txt'));
    assert.equal(removed.body.uint32(), Nfs3Status.OK);
    assertWcc(readWcc(removed.body), targetBeforeRemove, await attributesOf(client, target), 'REMOVE directory');
    removed.body.end();

    // A failed change still answers the directory's wcc_data (unchanged: before matches after).
    const unchanged = await attributesOf(client, target);
    const missing = await nfs(client, NfsProcedure.REMOVE, (writer) => writer.opaque(target).string('moved.txt'));
    assert.equal(missing.body.uint32(), Nfs3Status.NOENT);
    assertWcc(readWcc(missing.body), unchanged, unchanged, 'failed REMOVE directory');
  });

  it('WRITE answers a committed level at least as strong as asked (FILE_SYNC for FILE_SYNC), with the server\'s verifier', async () => {
    const file = (await create(client, root, 'stable.bin', { mode: 0 })).handle as Uint8Array;
    const verifiers: Uint8Array[] = [];
    for (const [index, stable] of [StableHow.DATA_SYNC, StableHow.FILE_SYNC, StableHow.DATA_SYNC].entries()) {
      const written = await write(client, file, { offset: BigInt(index * 4), data: Uint8Array.of(index, index, index, index), stable });
      assert.equal(written.status, Nfs3Status.OK);
      assert.equal(written.count, 4);
      // RFC 1813 §3.3.7: FILE_SYNC must answer FILE_SYNC; DATA_SYNC may answer DATA_SYNC or FILE_SYNC.
      assert.ok((written.committed as number) >= stable, `asked ${stable}, committed ${written.committed}`);
      if (stable === StableHow.FILE_SYNC) assert.equal(written.committed, StableHow.FILE_SYNC);
      verifiers.push(written.verifier as Uint8Array);
    }
    assert.deepEqual(verifiers[1], verifiers[0]);
    assert.deepEqual(verifiers[2], verifiers[0]);
    assert.deepEqual(await read(client, file, 100), Uint8Array.of(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2));
    const stored = await fixture.core.fs.resolvePath(fixture.core.root, '/exports/data/stable.bin');
    assert.equal(stored.attributes.size, 12, 'a stable write is in core when answered, not gathered');
  });

  for (const [name, type] of [
    ['NF3CHR', FileType3.CHR],
    ['NF3BLK', FileType3.BLK],
    ['NF3SOCK', FileType3.SOCK],
    ['NF3FIFO', FileType3.FIFO],
  ] as const) {
    it(`MKNOD of ${name} is NOTSUPP (core has no special files), with the directory's wcc, and creates nothing`, async () => {
      const dirBefore = await attributesOf(client, root);
      const reply = await nfs(client, NfsProcedure.MKNOD, (writer) => {
        writer.opaque(root).string(`special-${name}`).uint32(type);
        writeSattr(writer, { mode: 0o644 });
        if (type === FileType3.CHR || type === FileType3.BLK) writer.uint32(8).uint32(1);
      });
      assert.equal(reply.body.uint32(), Nfs3Status.NOTSUPP);
      assertWcc(readWcc(reply.body), dirBefore, await attributesOf(client, root), `MKNOD ${name} directory`);
      reply.body.end();
      assert.equal((await lookup(client, root, `special-${name}`)).status, Nfs3Status.NOENT);
    });
  }

  it('MKNOD of a regular file, directory or symlink is BADTYPE (use CREATE, MKDIR, SYMLINK)', async () => {
    for (const type of [FileType3.REG, FileType3.DIR, FileType3.LNK]) {
      const reply = await nfs(client, NfsProcedure.MKNOD, (writer) => writer.opaque(root).string('not-special').uint32(type));
      assert.equal(reply.body.uint32(), Nfs3Status.BADTYPE, `type ${type}`);
    }
    assert.equal((await lookup(client, root, 'not-special')).status, Nfs3Status.NOENT);
  });
});
