import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openTestAudit } from '../src/audit/audit.test-support.js';
import type { Auditor } from '../src/audit/auditor.js';
import type { AuditRecordEvent } from '../src/audit/events.js';
import type { LocalAuditLog } from '../src/audit/local-log.js';
import { DATA_EXPORT, exportOf, openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { create, lookup, mkdir, mountHandle, nfs, readdirplus, writeSattr } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';
import { Nfs3Status } from '../src/protocols/nfs/v3/nfs3-types.js';

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 60_000;
const missing = ['nfs-cp', 'nfs-ls'].filter((tool) => !existsSync(`/usr/bin/${tool}`));

/** NFS operations in the audit trail: nfs_mount and the fs_* events, read back from the local log. */
describe('NFSv3 audit events', () => {
  let fixture: NfsFixture;
  let auditor: Auditor;
  let log: LocalAuditLog;
  let client: NfsTestClient;
  let root: Uint8Array;
  let seen = 0;
  const url = (path: string) => `nfs://127.0.0.1${path}?nfsport=${fixture.port}&mountport=${fixture.port}&version=3`;

  /** The events logged since the last call. */
  async function newEvents(): Promise<AuditRecordEvent[]> {
    await auditor.flush(true);
    const page = await log.query({ afterSeq: seen, limit: 10_000 });
    seen = page.events.at(-1)?.seq ?? seen;
    return page.events;
  }

  before(async () => {
    const audit = await openTestAudit({ coalesceWindowMs: 60_000 });
    auditor = audit.auditor;
    log = audit.log;
    fixture = await openNfsFixture({ server: { auditor } });
    client = await NfsTestClient.open(fixture.port);
    root = (await mountHandle(client, '/data')).handle as Uint8Array;
  });

  after(async () => {
    client.close();
    await auditor.flush(true);
    await fixture.close();
  });

  it('MNT is nfs_mount, ok and refused, with the fs path', async () => {
    const events = await newEvents();
    const mount = events.find((event) => event.operation === 'nfs_mount');
    assert.ok(mount !== undefined);
    assert.equal(mount.status, 'ok');
    assert.equal(mount.path, '/exports/data');
    assert.equal(mount.protocol, 'nfsv3');
    assert.equal(mount.clientAddress, '127.0.0.1');
    assert.equal(mount.user.uid, 65534, 'root is squashed, and the event names who the call ran as');
    assert.equal((await mountHandle(client, '/missing')).status, 2);
    fixture.setExports([{ id: DATA_EXPORT.id, value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['192.0.2.0/24'], require_privileged_port: false }] }) }]);
    try {
      assert.equal((await mountHandle(client, '/data')).status, 13);
    } finally {
      fixture.setExports([DATA_EXPORT]);
    }
    const refused = (await newEvents()).filter((event) => event.operation === 'nfs_mount').map((event) => [event.status, event.path]);
    assert.deepEqual(refused, [
      ['MNT3ERR_NOENT', '/missing'],
      ['MNT3ERR_ACCES', '/data'],
    ]);
  });

  it('create, write, read, setattr, list, rename, remove: one fs_* event each, with paths', async () => {
    const dir = (await mkdir(client, root, 'reports')).handle as Uint8Array;
    const file = (await create(client, dir, 'q1.txt', { mode: 0 })).handle as Uint8Array;
    const data = new TextEncoder().encode('figures');
    assert.equal((await nfs(client, 7, (writer) => writer.opaque(file).uint64(0n).uint32(data.length).uint32(2).opaque(data))).body.uint32(), 0);
    for (let round = 0; round < 3; round += 1) assert.equal((await nfs(client, 6, (writer) => writer.opaque(file).uint64(0n).uint32(100))).body.uint32(), 0);
    const setattr = await nfs(client, 2, (writer) => {
      writer.opaque(file);
      writeSattr(writer, { mode: 0o600 });
      writer.bool(false);
    });
    assert.equal(setattr.body.uint32(), 0);
    assert.equal((await readdirplus(client, dir, { cookie: 0n, verifier: new Uint8Array(8), maxcount: 4096 })).status, 0);
    assert.equal((await nfs(client, 14, (writer) => writer.opaque(dir).string('q1.txt').opaque(root).string('q1-final.txt'))).body.uint32(), 0);
    assert.equal((await nfs(client, 12, (writer) => writer.opaque(root).string('q1-final.txt'))).body.uint32(), 0);
    assert.equal((await nfs(client, 13, (writer) => writer.opaque(root).string('reports'))).body.uint32(), 0);
    const events = (await newEvents()).map((event) => ({ operation: event.operation, status: event.status, path: event.path, targetPath: event.targetPath, details: event.details }));
    assert.deepEqual(events, [
      { operation: 'fs_create_directory', status: 'ok', path: '/exports/data/reports', targetPath: undefined, details: undefined },
      { operation: 'fs_create_file', status: 'ok', path: '/exports/data/reports/q1.txt', targetPath: undefined, details: undefined },
      { operation: 'fs_write_data', status: 'ok', path: '/exports/data/reports/q1.txt', targetPath: undefined, details: { offset: 0, size: 7 } },
      { operation: 'fs_write_metadata', status: 'ok', path: '/exports/data/reports/q1.txt', targetPath: undefined, details: { before: { mode: '0644' }, after: { mode: '0600' } } },
      { operation: 'fs_rename', status: 'ok', path: '/exports/data/reports/q1.txt', targetPath: '/exports/data/q1-final.txt', details: undefined },
      { operation: 'fs_delete', status: 'ok', path: '/exports/data/q1-final.txt', targetPath: undefined, details: undefined },
      { operation: 'fs_delete', status: 'ok', path: '/exports/data/reports', targetPath: undefined, details: undefined },
      // Reads (data and listings) are coalesced: repeated identical ones are one event with a count,
      // written when the window closes.
      { operation: 'fs_read_data', status: 'ok', path: '/exports/data/reports/q1.txt', targetPath: undefined, details: { offset: 0, size: 21, end_offset: 7, count: 3 } },
      { operation: 'fs_list_directory', status: 'ok', path: '/exports/data/reports', targetPath: undefined, details: undefined },
    ]);
  });

  it('a refused call is audited with the nfsstat3 name', async () => {
    const refused = await create(client, root, 'locked', { mode: 0 }, { uid: 4242, gid: 4242 });
    assert.equal(refused.status, 0);
    const dir = (await mkdir(client, root, 'private')).handle as Uint8Array;
    const setattr = await nfs(client, 2, (writer) => {
      writer.opaque(dir);
      writeSattr(writer, { mode: 0o700 });
      writer.bool(false);
    });
    assert.equal(setattr.body.uint32(), 0);
    const denied = await create(client, dir, 'nope.txt', { mode: 0 }, { uid: 4242, gid: 4242 });
    assert.equal(denied.status, Nfs3Status.ACCES);
    const events = await newEvents();
    const failed = events.find((event) => event.operation === 'fs_create_file' && event.status !== 'ok');
    assert.equal(failed?.status, 'NFS3ERR_ACCES');
    assert.equal(failed?.path, '/exports/data/private/nope.txt');
    assert.equal(failed?.user.uid, 4242);
  });

  it('a libnfs nfs-cp write lands as fs_write_data events in the local audit log', { skip: missing.length > 0 ? `needs libnfs-utils (missing ${missing.join(', ')})` : false }, async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'enclave-nfs-audit-'));
    try {
      const source = join(scratch, 'upload.bin');
      await writeFile(source, Buffer.alloc(3 * 1024 * 1024 + 5, 7));
      await newEvents();
      await run('nfs-cp', [source, url('/data/upload.bin')], { timeout: TOOL_TIMEOUT_MS });
      const events = await newEvents();
      assert.ok(events.some((event) => event.operation === 'nfs_mount' && event.status === 'ok'));
      const writes = events.filter((event) => event.operation === 'fs_write_data');
      assert.ok(writes.length >= 3, `expected several writes, got ${writes.length}`);
      for (const event of writes) assert.equal(event.path, '/exports/data/upload.bin');
      assert.equal(
        writes.reduce((sum, event) => sum + Number(event.details?.size ?? 0), 0),
        3 * 1024 * 1024 + 5,
      );
      const created = events.find((event) => event.operation === 'fs_create_file');
      assert.equal(created?.path, '/exports/data/upload.bin');
      assert.ok((await lookup(client, root, 'upload.bin')).status === 0);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
