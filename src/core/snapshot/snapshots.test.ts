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
    assert.deepEqual(listed.entries.map((entry) => entry.name), ['plan.txt']);
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
});
