import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkConsistency } from '../check/consistency-check.js';
import { isFsError, type FsErrorCode } from '../errors.js';
import type { NodeHandle } from '../file-system.js';
import { prefixEnd, RecordType, typePrefix } from '../records.js';
import { ALICE, contextFor, openCoreFixture, type CoreFixture } from '../testing/core-fixture.test-support.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

async function rejectsWith(promise: Promise<unknown>, code: FsErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isFsError(error, code) || assert.fail(`expected ${code}, got ${String(error)}`));
}

async function countRecords(fx: CoreFixture, type: number): Promise<number> {
  const prefix = typePrefix(type);
  return (await fx.metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 10_000 }))).length;
}

describe('snapshots', () => {
  let fx: CoreFixture;
  let root: NodeHandle;
  let projects: NodeHandle;
  let plan: NodeHandle;

  before(async () => {
    fx = await openCoreFixture();
    root = await fx.fs.root(fx.root);
    projects = (await fx.fs.mkdir(fx.root, root, 'projects', { mode: 0o777 })).handle;
    plan = (await fx.fs.create(fx.root, projects, 'plan.txt', { mode: 0o644 })).handle;
    await fx.fs.write(fx.root, plan, { offset: 0, data: bytes('version one') });
    await fx.fs.mkdir(fx.root, projects, 'sub', { mode: 0o755 });
  });
  after(() => fx.close());

  it('keeps what it saw while the live tree changes: data, names, owner, mode and ACL', async () => {
    const snapshot = await fx.fs.createSnapshot(fx.root, projects, { name: 'before' });
    await fx.fs.write(fx.root, plan, { offset: 0, data: bytes('VERSION TWO, longer') });
    await fx.fs.setattr(fx.root, plan, { mode: 0o600, uid: 1001 });
    await fx.fs.create(fx.root, projects, 'added.txt');
    await fx.fs.rename(fx.root, { sourceDir: projects, sourceName: 'plan.txt', targetDir: projects, targetName: 'renamed.txt' });
    const snapshotRoot = await fx.fs.snapshotRoot(fx.root, snapshot.id);
    const old = await fx.fs.lookup(fx.root, snapshotRoot, 'plan.txt');
    assert.equal(text((await fx.fs.read(fx.root, old.handle, { offset: 0, length: 100 })).data), 'version one');
    assert.equal(old.attributes.mode, 0o644);
    assert.equal(old.attributes.uid, 0);
    const listed = await fx.fs.readdir(fx.root, snapshotRoot, { limit: 10 });
    assert.deepEqual(listed.entries.map((entry) => entry.name), ['plan.txt', 'sub']);
    const live = await fx.fs.lookup(fx.root, projects, 'renamed.txt');
    assert.equal(text((await fx.fs.read(fx.root, live.handle, { offset: 0, length: 100 })).data), 'VERSION TWO, longer');
  });

  it('refuses every mutation through a snapshot with ReadOnly', async () => {
    const [snapshot] = fx.fs.listSnapshots();
    const snapshotRoot = await fx.fs.snapshotRoot(fx.root, snapshot!.id);
    const old = (await fx.fs.lookup(fx.root, snapshotRoot, 'plan.txt')).handle;
    await rejectsWith(fx.fs.write(fx.root, old, { offset: 0, data: bytes('x') }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { mode: 0o777 }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { size: 0 }), 'ReadOnly');
    await rejectsWith(fx.fs.setAcl(fx.root, old, { entries: [] }), 'ReadOnly');
    await rejectsWith(fx.fs.create(fx.root, snapshotRoot, 'new'), 'ReadOnly');
    await rejectsWith(fx.fs.remove(fx.root, snapshotRoot, 'plan.txt'), 'ReadOnly');
    await rejectsWith(fx.fs.rename(fx.root, { sourceDir: snapshotRoot, sourceName: 'plan.txt', targetDir: projects, targetName: 'stolen' }), 'ReadOnly');
    await rejectsWith(fx.fs.link(fx.root, old, projects, 'linked'), 'ReadOnly');
    // Names, owner, times and quotas: each refused, and the snapshot unchanged afterwards.
    const sub = (await fx.fs.lookup(fx.root, snapshotRoot, 'sub')).handle;
    const seen = async () => ({
      file: await fx.fs.getattr(fx.root, old),
      root: await fx.fs.getattr(fx.root, snapshotRoot),
      sub: await fx.fs.getattr(fx.root, sub),
      names: (await fx.fs.readdir(fx.root, snapshotRoot, { limit: 100 })).entries.map((entry) => entry.name),
      quota: await fx.fs.getQuota(fx.root, snapshotRoot),
    });
    const before = await seen();
    await rejectsWith(fx.fs.symlink(fx.root, snapshotRoot, 'link', 'plan.txt'), 'ReadOnly');
    await rejectsWith(fx.fs.mkdir(fx.root, snapshotRoot, 'dir'), 'ReadOnly');
    await rejectsWith(fx.fs.rmdir(fx.root, snapshotRoot, 'sub'), 'ReadOnly');
    await rejectsWith(fx.fs.setQuota(fx.root, snapshotRoot, 1_000_000), 'ReadOnly');
    await rejectsWith(fx.fs.setQuota(fx.root, snapshotRoot, null), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { uid: 1001 }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { gid: 100 }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, sub, { uid: 1001, gid: 100 }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { mtime: 1n, atime: 1n }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { atime: 'now', mtime: 'now' }), 'ReadOnly');
    await rejectsWith(fx.fs.setattr(fx.root, old, { birthTime: 1n }), 'ReadOnly');
    await rejectsWith(fx.fs.setXattrs(fx.root, old, { 'user.x': bytes('y') }), 'ReadOnly');
    await rejectsWith(fx.fs.putFile(fx.root, snapshotRoot, 'put', { data: bytes('x') }), 'ReadOnly');
    assert.deepEqual(await seen(), before);
  });

  it('shows snapshots in a .snapshot directory that listings do not show', async () => {
    const [snapshot] = fx.fs.listSnapshots();
    const listing = await fx.fs.readdir(fx.root, projects, { limit: 100 });
    assert.ok(!listing.entries.some((entry) => entry.name === '.snapshot'));
    const viaPath = await fx.fs.resolvePath(fx.root, `/projects/.snapshot/${snapshot!.directoryName}/plan.txt`);
    assert.equal(text((await fx.fs.read(fx.root, viaPath.handle, { offset: 0, length: 100 })).data), 'version one');
    const dot = await fx.fs.lookup(fx.root, projects, '.snapshot');
    const entries = await fx.fs.readdir(fx.root, dot.handle, { limit: 10 });
    assert.deepEqual(entries.entries.map((entry) => entry.name), [snapshot!.directoryName]);
    await rejectsWith(fx.fs.create(fx.root, projects, '.snapshot'), 'InvalidName');
    await rejectsWith(fx.fs.create(fx.root, dot.handle, 'x'), 'ReadOnly');
    // The root's .snapshot does not show a snapshot of /projects.
    const rootDot = await fx.fs.lookup(fx.root, root, '.snapshot');
    assert.deepEqual((await fx.fs.readdir(fx.root, rootDot.handle, { limit: 10 })).entries, []);
  });

  it('keeps old versions only where a snapshot sees them', async () => {
    const elsewhere = (await fx.fs.mkdir(fx.root, root, 'elsewhere', { mode: 0o777 })).handle;
    const file = (await fx.fs.create(fx.root, elsewhere, 'f')).handle;
    await fx.fs.write(fx.root, file, { offset: 0, data: bytes('one') });
    await fx.fs.createSnapshot(fx.root, projects, { name: 'projects-only' });
    const inodesBefore = await countRecords(fx, RecordType.inode);
    for (let round = 0; round < 5; round++) await fx.fs.write(fx.root, file, { offset: 0, data: bytes(`round ${round}`) });
    // The file and its directories under / changed, but /elsewhere is outside the snapshot: no old
    // version of the file is kept (the root's and the directory's inodes are not under it either).
    assert.equal(await countRecords(fx, RecordType.inode), inodesBefore);
    await fx.fs.write(fx.root, (await fx.fs.lookup(fx.root, projects, 'renamed.txt')).handle, { offset: 0, data: bytes('three') });
    assert.ok((await countRecords(fx, RecordType.inode)) > inodesBefore, 'a node under the snapshot keeps its old version');
    const report = await checkConsistency(fx.metadata, fx.chunks);
    assert.deepEqual(report.problems, []);
  });

  it('a locked snapshot cannot be deleted or have its expiration shortened by anyone until unlocked', async () => {
    const now = fx.clock.nowNs();
    const hour = 3_600_000_000_000n;
    const locked = await fx.fs.createSnapshot(fx.root, projects, { name: 'locked', expirationNs: now + 10n * hour, lockKeyId: 'key-1' });
    await rejectsWith(fx.fs.deleteSnapshot(fx.root, locked.id), 'Locked');
    await rejectsWith(fx.fs.setSnapshotExpiration(fx.root, locked.id, now + hour), 'Locked');
    await rejectsWith(fx.fs.setSnapshotExpiration(fx.root, locked.id, null), 'Locked');
    const extended = await fx.fs.setSnapshotExpiration(fx.root, locked.id, now + 20n * hour);
    assert.equal(extended.expirationNs, now + 20n * hour);
    await rejectsWith(fx.fs.deleteSnapshot(contextFor(ALICE), locked.id), 'PermissionDenied');
    await fx.fs.setSnapshotLock(fx.root, locked.id, null);
    await fx.fs.deleteSnapshot(fx.root, locked.id);
    await rejectsWith(fx.fs.getSnapshot(fx.root, locked.id), 'NotFound');
  });

  it('handles of a deleted snapshot are stale', async () => {
    const snapshot = await fx.fs.createSnapshot(fx.root, projects, { name: 'short-lived' });
    const snapshotRoot = await fx.fs.snapshotRoot(fx.root, snapshot.id);
    await fx.fs.deleteSnapshot(fx.root, snapshot.id);
    await rejectsWith(fx.fs.readdir(fx.root, snapshotRoot, { limit: 10 }), 'Stale');
  });

  it('refuses snapshots of files, bad names and past expirations, and only an administrator takes them', async () => {
    await rejectsWith(fx.fs.createSnapshot(fx.root, plan, { name: 'file' }), 'NotADirectory');
    await rejectsWith(fx.fs.createSnapshot(fx.root, projects, { name: 'a/b' }), 'InvalidName');
    await rejectsWith(fx.fs.createSnapshot(fx.root, projects, { name: 'past', expirationNs: 1n }), 'InvalidArgument');
    await rejectsWith(fx.fs.createSnapshot(contextFor(ALICE), projects, { name: 'alice' }), 'PermissionDenied');
  });

  it('pages the live tree past the dead versions a snapshot keeps, and the snapshot sees them all', async () => {
    const churn = (await fx.fs.mkdir(fx.root, projects, 'churn', { mode: 0o777 })).handle;
    const names = Array.from({ length: 60 }, (_, index) => `f${String(index).padStart(2, '0')}`);
    for (const name of names) await fx.fs.create(fx.root, churn, name);
    const snapshot = await fx.fs.createSnapshot(fx.root, churn, { name: 'churn' });
    // Every entry but every fifth dies in the live tree; the snapshot keeps the dead versions.
    const kept = names.filter((_, index) => index % 5 === 0);
    for (const name of names) if (!kept.includes(name)) await fx.fs.remove(fx.root, churn, name);
    const list = async (dir: NodeHandle, limit: number): Promise<string[]> => {
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await fx.fs.readdir(fx.root, dir, { limit, ...(cursor === undefined ? {} : { cursor }) });
        assert.ok(page.entries.length <= limit);
        listed.push(...page.entries.map((entry) => entry.name));
        cursor = page.cursor;
      } while (cursor !== undefined);
      return listed;
    };
    for (const limit of [1, 3, 7, 100]) assert.deepEqual(await list(churn, limit), kept);
    const snapshotRoot = await fx.fs.snapshotRoot(fx.root, snapshot.id);
    assert.deepEqual(await list(snapshotRoot, 7), names);
  });
});

describe('snapshot differences and reclaim', () => {
  it('lists what changed between two snapshots and since one, by path, each change once', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const top = (await fx.fs.mkdir(fx.root, root, 'top', { mode: 0o777 })).handle;
      const keep = (await fx.fs.create(fx.root, top, 'keep.txt')).handle;
      const change = (await fx.fs.create(fx.root, top, 'change.txt')).handle;
      await fx.fs.create(fx.root, top, 'gone.txt');
      const sub = (await fx.fs.mkdir(fx.root, top, 'sub')).handle;
      const outside = (await fx.fs.mkdir(fx.root, root, 'outside')).handle;
      void keep;
      const first = await fx.fs.createSnapshot(fx.root, top, { name: 'first' });
      await fx.fs.write(fx.root, change, { offset: 0, data: bytes('one') });
      await fx.fs.write(fx.root, change, { offset: 3, data: bytes('two') });
      await fx.fs.remove(fx.root, top, 'gone.txt');
      await fx.fs.create(fx.root, sub, 'new.txt');
      await fx.fs.create(fx.root, outside, 'not-in-scope.txt');
      const second = await fx.fs.createSnapshot(fx.root, top, { name: 'second' });
      await fx.fs.write(fx.root, change, { offset: 0, data: bytes('three') });
      const between = await fx.fs.changesSince(fx.root, { newer: second.id, older: first.id, limit: 100 });
      const described = between.entries.map((entry) => `${entry.op} ${entry.path}`).sort();
      assert.deepEqual(described, ['CREATE /sub/new.txt', 'DELETE /gone.txt', 'MODIFY /', 'MODIFY /change.txt', 'MODIFY /sub']);
      const sinceFirst = await fx.fs.changesSince(fx.root, { newer: 'live', older: first.id, limit: 100 });
      assert.equal(sinceFirst.entries.filter((entry) => entry.path === '/change.txt').length, 1, 'changed in two epochs, reported once');
      const pages: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await fx.fs.changesSince(fx.root, { newer: 'live', older: first.id, limit: 2, ...(cursor === undefined ? {} : { cursor }) });
        pages.push(...page.entries.map((entry) => `${entry.op} ${entry.path}`));
        cursor = page.cursor;
      } while (cursor !== undefined);
      assert.deepEqual(pages.sort(), sinceFirst.entries.map((entry) => `${entry.op} ${entry.path}`).sort());
      await rejectsWith(fx.fs.changesSince(fx.root, { newer: first.id, older: second.id, limit: 10 }), 'InvalidArgument');
      await rejectsWith(fx.fs.changesSince(contextFor(ALICE), { newer: 'live', older: first.id, limit: 10 }), 'PermissionDenied');
    } finally {
      await fx.close();
    }
  });

  it('deleting a snapshot frees exactly what only it held', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const dir = (await fx.fs.mkdir(fx.root, root, 'data', { mode: 0o777 })).handle;
      const file = (await fx.fs.create(fx.root, dir, 'big')).handle;
      await fx.fs.write(fx.root, file, { offset: 0, data: new Uint8Array(300_000).fill(1) });
      const first = await fx.fs.createSnapshot(fx.root, dir, { name: 'a' });
      await fx.fs.write(fx.root, file, { offset: 0, data: new Uint8Array(300_000).fill(2) });
      const second = await fx.fs.createSnapshot(fx.root, dir, { name: 'b' });
      await fx.fs.write(fx.root, file, { offset: 0, data: new Uint8Array(300_000).fill(3) });
      await fx.fs.maintenance.collectGarbage();
      const chunksWithBoth = (await allChunks(fx)).length;
      await fx.fs.deleteSnapshot(fx.root, first.id);
      await fx.fs.maintenance.collectGarbage();
      assert.equal((await allChunks(fx)).length, chunksWithBoth - 1, 'the first version, held only by the deleted snapshot, is gone');
      const secondRoot = await fx.fs.snapshotRoot(fx.root, second.id);
      const old = await fx.fs.lookup(fx.root, secondRoot, 'big');
      assert.deepEqual((await fx.fs.read(fx.root, old.handle, { offset: 0, length: 10 })).data, new Uint8Array(10).fill(2));
      await fx.fs.deleteSnapshot(fx.root, second.id);
      await fx.fs.maintenance.collectGarbage();
      assert.equal((await allChunks(fx)).length, 1, 'only the live data remains');
      assert.equal(await countRecords(fx, RecordType.changeByEpoch), 0, 'the change log is trimmed');
      assert.deepEqual((await checkConsistency(fx.metadata, fx.chunks)).problems, []);
    } finally {
      await fx.close();
    }
  });
});

async function allChunks(fx: CoreFixture): Promise<string[]> {
  return fx.chunks.list({ limit: 10_000 });
}

describe('copying ranges by sharing chunks', () => {
  it('copies without new chunks, keeps holes as zeros, restores from a snapshot, and stays consistent', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const source = (await fx.fs.create(fx.root, root, 'source')).handle;
      const data = new Uint8Array(3 * 1024 * 1024 + 777).map((_, index) => (index * 7) % 256);
      await fx.fs.write(fx.root, source, { offset: 0, data });
      await fx.fs.write(fx.root, source, { offset: 5_000_000, data: bytes('tail after a hole') });
      const target = (await fx.fs.create(fx.root, root, 'target')).handle;
      await fx.fs.write(fx.root, target, { offset: 0, data: new Uint8Array(6_000_000).fill(9) });
      const chunksBefore = (await allChunks(fx)).length;
      const copied = await fx.fs.copyRange(fx.root, { source, sourceOffset: 1000, target, targetOffset: 12_345, length: 5_000_017 });
      assert.equal(copied.bytesWritten, 5_000_017 - 1000);
      assert.equal((await allChunks(fx)).length, chunksBefore, 'no chunk was written');
      const back = await fx.fs.read(fx.root, target, { offset: 12_345, length: 4_999_017 });
      const expected = new Uint8Array(4_999_017);
      expected.set(data.subarray(1000));
      expected.set(bytes('tail after a hole'), 5_000_000 - 1000);
      assert.ok(Buffer.from(back.data).equals(Buffer.from(expected)), 'copied bytes, and zeros where the source had a hole');
      assert.deepEqual((await fx.fs.read(fx.root, target, { offset: 12_340, length: 5 })).data, new Uint8Array(5).fill(9));
      // Restore: copy a file's old content back from a snapshot.
      const snapshot = await fx.fs.createSnapshot(fx.root, root, { name: 'before-overwrite' });
      await fx.fs.write(fx.root, source, { offset: 0, data: new Uint8Array(1000).fill(1) });
      const old = await fx.fs.lookup(fx.root, await fx.fs.snapshotRoot(fx.root, snapshot.id), 'source');
      await fx.fs.copyRange(fx.root, { source: old.handle, sourceOffset: 0, target: source, targetOffset: 0, length: 1000 });
      assert.deepEqual((await fx.fs.read(fx.root, source, { offset: 0, length: 1000 })).data, data.subarray(0, 1000));
      await rejectsWith(fx.fs.copyRange(fx.root, { source, sourceOffset: 0, target: old.handle, targetOffset: 0, length: 10 }), 'ReadOnly');
      await fx.fs.remove(fx.root, root, 'source');
      await fx.fs.deleteSnapshot(fx.root, snapshot.id);
      await fx.fs.maintenance.collectGarbage();
      assert.ok(Buffer.from((await fx.fs.read(fx.root, target, { offset: 12_345, length: 4_999_017 })).data).equals(Buffer.from(expected)), 'the copy outlives its source');
      const report = await checkConsistency(fx.metadata, fx.chunks);
      assert.deepEqual(report.problems, []);
      assert.equal(report.unreferencedChunks, 0);
    } finally {
      await fx.close();
    }
  });
});

describe('snapshot expiry', () => {
  it('deletes expired snapshots in the background, locked ones too, and tells the internal-event listeners', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const events: string[] = [];
      fx.fs.onInternalEvent((event) => events.push(`${event.operation} ${event.status} ${String(event.details?.snapshot_id)}`));
      const hour = 3_600_000_000_000n;
      const locked = await fx.fs.createSnapshot(fx.root, root, { name: 'locked', expirationNs: fx.clock.nowNs() + hour, lockKeyId: 'k' });
      const kept = await fx.fs.createSnapshot(fx.root, root, { name: 'kept', expirationNs: fx.clock.nowNs() + 10n * hour });
      await fx.fs.maintenance.collectGarbage();
      assert.equal(fx.fs.listSnapshots().length, 2);
      fx.clock.advanceMs(2 * 3_600_000);
      await fx.fs.maintenance.collectGarbage();
      assert.deepEqual(fx.fs.listSnapshots().map((snapshot) => snapshot.id), [kept.id]);
      assert.deepEqual(events, [`snapshot_expire ok ${locked.id}`]);
    } finally {
      await fx.close();
    }
  });
});
