import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkConsistency } from '../check/consistency-check.js';
import { isFsError, type FsErrorCode } from '../errors.js';
import { XATTRS_BYTES_MAX, type NodeHandle } from '../file-system.js';
import { ALICE, BOB, contextFor, openCoreFixture, type CoreFixture } from '../testing/core-fixture.test-support.js';

async function rejectsWith(promise: Promise<unknown>, code: FsErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isFsError(error), `expected FsError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string | undefined => (data === undefined ? undefined : new TextDecoder().decode(data));

async function readAll(fx: CoreFixture, handle: NodeHandle): Promise<string> {
  const attributes = await fx.fs.getattr(fx.root, handle);
  if (attributes.size === 0) return '';
  return text((await fx.fs.read(fx.root, handle, { offset: 0, length: attributes.size })).data) ?? '';
}

describe('extended attributes', () => {
  let fx: CoreFixture;
  let root: NodeHandle;
  let shared: NodeHandle;

  before(async () => {
    fx = await openCoreFixture();
    root = await fx.fs.root(fx.root);
    shared = (await fx.fs.mkdir(fx.root, root, 'shared', { mode: 0o777 })).handle;
  });
  after(() => fx.close());

  it('sets, reads, replaces and removes values; ctime and the change counter move, mtime does not', async () => {
    const { handle, attributes: before } = await fx.fs.create(fx.root, shared, 'plain');
    assert.deepEqual(await fx.fs.getXattrs(fx.root, handle), {});
    fx.clock.advanceMs(1000);
    const changed = await fx.fs.setXattrs(fx.root, handle, { 'user.colour': bytes('blue'), 'user.empty': new Uint8Array(0) });
    assert.equal(changed.mtimeNs, before.mtimeNs);
    assert.ok(changed.ctimeNs > before.ctimeNs);
    assert.ok(changed.changeId > before.changeId);
    let xattrs = await fx.fs.getXattrs(fx.root, handle);
    assert.equal(text(xattrs['user.colour']), 'blue');
    assert.equal(xattrs['user.empty']?.length, 0);
    await fx.fs.setXattrs(fx.root, handle, { 'user.colour': bytes('green'), 'user.empty': null, 'user.absent': null });
    xattrs = await fx.fs.getXattrs(fx.root, handle);
    assert.deepEqual(Object.keys(xattrs), ['user.colour']);
    assert.equal(text(xattrs['user.colour']), 'green');
    const found = await fx.fs.lookup(fx.root, shared, 'plain', { withXattrs: true });
    assert.equal(text(found.xattrs?.['user.colour']), 'green');
    assert.equal((await fx.fs.lookup(fx.root, shared, 'plain')).xattrs, undefined, 'only when asked for');
    assert.equal(text((await fx.fs.resolvePath(fx.root, '/shared/plain', { withXattrs: true })).xattrs?.['user.colour']), 'green');
    const listed = await fx.fs.readdir(fx.root, shared, { limit: 100, withXattrs: true });
    const entry = listed.entries.find((candidate) => candidate.name === 'plain');
    assert.equal(text(entry?.xattrs?.['user.colour']), 'green');
    assert.equal(entry?.attributes?.id, handle.id);
  });

  it('refuses bad names, non-byte values and sets over the size limit, changing nothing', async () => {
    const { handle } = await fx.fs.create(fx.root, shared, 'limits');
    await fx.fs.setXattrs(fx.root, handle, { keep: bytes('me') });
    await rejectsWith(fx.fs.setXattrs(fx.root, handle, { '': bytes('x') }), 'InvalidArgument');
    await rejectsWith(fx.fs.setXattrs(fx.root, handle, { 'a\0b': bytes('x') }), 'InvalidArgument');
    await rejectsWith(fx.fs.setXattrs(fx.root, handle, { ['n'.repeat(256)]: bytes('x') }), 'NameTooLong');
    await rejectsWith(fx.fs.setXattrs(fx.root, handle, { text: 'not bytes' as unknown as Uint8Array }), 'InvalidArgument');
    await rejectsWith(fx.fs.setXattrs(fx.root, handle, { big: new Uint8Array(XATTRS_BYTES_MAX) }), 'NoSpace');
    await fx.fs.setXattrs(fx.root, handle, { big: new Uint8Array(XATTRS_BYTES_MAX - 'big'.length - 'keep'.length - 2) });
    assert.deepEqual(Object.keys(await fx.fs.getXattrs(fx.root, handle)).sort(), ['big', 'keep']);
    await rejectsWith(fx.fs.setXattrs(fx.root, handle, { more: bytes('x') }), 'NoSpace');
    await rejectsWith(fx.fs.putFile(fx.root, shared, 'limits', { data: bytes('new'), xattrs: { big: new Uint8Array(XATTRS_BYTES_MAX + 1) } }), 'NoSpace');
    assert.equal(text((await fx.fs.getXattrs(fx.root, handle)).keep), 'me', 'the refused put left the old file');
  });

  it('needs READ_NAMED_ATTRS to read and WRITE_NAMED_ATTRS to change', async () => {
    const alice = contextFor(ALICE);
    const bob = contextFor(BOB);
    const { handle } = await fx.fs.create(alice, shared, 'alices', { mode: 0o600 });
    await fx.fs.setXattrs(alice, handle, { 'user.owner': bytes('alice') });
    await rejectsWith(fx.fs.getXattrs(bob, handle), 'PermissionDenied');
    await rejectsWith(fx.fs.setXattrs(bob, handle, { 'user.owner': bytes('bob') }), 'PermissionDenied');
    await rejectsWith(fx.fs.lookup(bob, shared, 'alices', { withXattrs: true }), 'PermissionDenied');
    const listed = await fx.fs.readdir(bob, shared, { limit: 100, withXattrs: true });
    const entry = listed.entries.find((candidate) => candidate.name === 'alices');
    assert.ok(entry?.attributes !== undefined && entry.xattrs === undefined, 'listed without the attributes bob may not read');
    await fx.fs.setattr(alice, handle, { mode: 0o644 });
    assert.equal(text((await fx.fs.getXattrs(bob, handle))['user.owner']), 'alice', 'r grants READ_NAMED_ATTRS');
    await rejectsWith(fx.fs.setXattrs(bob, handle, { 'user.owner': bytes('bob') }), 'PermissionDenied');
    assert.equal(text((await fx.fs.getXattrs(alice, handle))['user.owner']), 'alice');
  });

  it('a change to the data removes content.* attributes in the same transaction, and keeps the rest', async () => {
    const describe = { 'content.s3': bytes('{"etag":"x"}'), 'content.sum': bytes('1'), 'user.note': bytes('kept') };
    const names = async (handle: NodeHandle) => Object.keys(await fx.fs.getXattrs(fx.root, handle)).sort();
    const written = await fx.fs.putFile(fx.root, shared, 'content-write', { data: bytes('abc'), xattrs: describe });
    assert.deepEqual(await names(written.handle), ['content.s3', 'content.sum', 'user.note']);
    await fx.fs.write(fx.root, written.handle, { offset: 1, data: bytes('B') });
    assert.deepEqual(await names(written.handle), ['user.note']);
    const truncated = await fx.fs.putFile(fx.root, shared, 'content-truncate', { data: bytes('abc'), xattrs: describe });
    await fx.fs.setattr(fx.root, truncated.handle, { mode: 0o600 });
    assert.equal((await names(truncated.handle)).length, 3, 'a metadata change keeps them');
    await fx.fs.setattr(fx.root, truncated.handle, { size: 1 });
    assert.deepEqual(await names(truncated.handle), ['user.note']);
    const copied = await fx.fs.putFile(fx.root, shared, 'content-copy', { data: bytes('abc'), xattrs: describe });
    await fx.fs.copyRange(fx.root, { source: written.handle, sourceOffset: 0, target: copied.handle, targetOffset: 0, length: 3 });
    assert.deepEqual(await names(copied.handle), ['user.note']);
    assert.equal((await names(written.handle)).length, 1, 'the source keeps what it had');
  });

  it('snapshots keep the values they saw, and refuse changes', async () => {
    const dir = (await fx.fs.mkdir(fx.root, shared, 'versioned')).handle;
    const { handle } = await fx.fs.create(fx.root, dir, 'doc');
    await fx.fs.setXattrs(fx.root, handle, { 'user.v': bytes('1') });
    const snapshot = await fx.fs.createSnapshot(fx.root, dir, { name: 'one' });
    await fx.fs.setXattrs(fx.root, handle, { 'user.v': bytes('2') });
    const old = await fx.fs.lookup(fx.root, await fx.fs.snapshotRoot(fx.root, snapshot.id), 'doc', { withXattrs: true });
    assert.equal(text(old.xattrs?.['user.v']), '1');
    assert.equal(text((await fx.fs.getXattrs(fx.root, old.handle))['user.v']), '1');
    assert.equal(text((await fx.fs.getXattrs(fx.root, handle))['user.v']), '2');
    await rejectsWith(fx.fs.setXattrs(fx.root, old.handle, { 'user.v': bytes('3') }), 'ReadOnly');
    const changes = await fx.fs.changesSince(fx.root, { older: snapshot.id, newer: 'live', limit: 10 });
    assert.deepEqual(
      changes.entries.map((change) => [change.op, change.path]),
      [['MODIFY', '/doc']],
    );
  });

  it('rename can set the moved node\'s attributes in the same transaction, only with WRITE_NAMED_ATTRS', async () => {
    const { handle } = await fx.fs.create(fx.root, shared, 'staged', { mode: 0o666 });
    await fx.fs.setXattrs(fx.root, handle, { old: bytes('x') });
    await fx.fs.rename(fx.root, { sourceDir: shared, sourceName: 'staged', targetDir: shared, targetName: 'published', xattrs: { 's3.object': bytes('{"etag":"1"}') } });
    assert.deepEqual(Object.keys(await fx.fs.getXattrs(fx.root, handle)), ['s3.object'], 'the set is replaced');
    const bob = contextFor(BOB);
    await fx.fs.setattr(fx.root, handle, { mode: 0o644 });
    await rejectsWith(fx.fs.rename(bob, { sourceDir: shared, sourceName: 'published', targetDir: shared, targetName: 'bobs', xattrs: {} }), 'PermissionDenied');
    await fx.fs.lookup(fx.root, shared, 'published');
  });
});

describe('putFile', () => {
  let fx: CoreFixture;
  let root: NodeHandle;
  let dir: NodeHandle;

  before(async () => {
    fx = await openCoreFixture();
    root = await fx.fs.root(fx.root);
    dir = (await fx.fs.mkdir(fx.root, root, 'objects', { mode: 0o777 })).handle;
  });
  after(() => fx.close());

  it('creates a file with its data and attributes in one call, small (inline) or large (chunks)', async () => {
    const small = await fx.fs.putFile(fx.root, dir, 'small', { data: bytes('hello'), xattrs: { 's3.etag': bytes('abc') } });
    assert.equal(small.created, true);
    assert.equal(small.attributes.size, 5);
    assert.equal(await readAll(fx, small.handle), 'hello');
    assert.equal(text((await fx.fs.getXattrs(fx.root, small.handle))['s3.etag']), 'abc');
    const large = new Uint8Array(3 * 1024 * 1024 + 17).map((_, index) => index % 251);
    const put = await fx.fs.putFile(fx.root, dir, 'large', { data: large });
    assert.equal(put.attributes.size, large.length);
    assert.equal(put.attributes.allocatedBytes, large.length);
    const read = await fx.fs.read(fx.root, put.handle, { offset: 0, length: large.length });
    assert.ok(Buffer.from(read.data).equals(Buffer.from(large)));
    const empty = await fx.fs.putFile(fx.root, dir, 'empty', { data: new Uint8Array(0) });
    assert.equal(empty.attributes.size, 0);
    assert.equal((await fx.fs.aggregates(fx.root, dir)).bytes, 5 + large.length);
  });

  it('replaces an existing file atomically with a new node, or refuses with noReplace', async () => {
    const first = await fx.fs.putFile(fx.root, dir, 'replaced', { data: bytes('one'), xattrs: { a: bytes('1') } });
    await rejectsWith(fx.fs.putFile(fx.root, dir, 'replaced', { data: bytes('two'), noReplace: true }), 'Exists');
    const second = await fx.fs.putFile(fx.root, dir, 'replaced', { data: bytes('two!') });
    assert.equal(second.created, false);
    assert.notEqual(second.handle.id, first.handle.id);
    await rejectsWith(fx.fs.getattr(fx.root, first.handle), 'Stale');
    const found = await fx.fs.lookup(fx.root, dir, 'replaced', { withXattrs: true });
    assert.equal(found.handle.id, second.handle.id);
    assert.deepEqual(found.xattrs, {});
    assert.equal(await readAll(fx, found.handle), 'two!');
    const listed = await fx.fs.readdir(fx.root, dir, { limit: 100 });
    assert.equal(listed.entries.filter((entry) => entry.name === 'replaced').length, 1);
  });

  it('refuses a directory, a missing right and a full quota, leaving the old file in place', async () => {
    await fx.fs.mkdir(fx.root, dir, 'folder');
    await rejectsWith(fx.fs.putFile(fx.root, dir, 'folder', { data: bytes('x') }), 'IsADirectory');
    const locked = (await fx.fs.mkdir(fx.root, root, 'locked', { mode: 0o755 })).handle;
    await fx.fs.putFile(fx.root, locked, 'kept', { data: bytes('root data') });
    await rejectsWith(fx.fs.putFile(contextFor(ALICE), locked, 'kept', { data: bytes('alice') }), 'PermissionDenied');
    await rejectsWith(fx.fs.putFile(contextFor(ALICE), locked, 'new', { data: bytes('alice') }), 'PermissionDenied');
    const limited = (await fx.fs.mkdir(fx.root, root, 'limited', { mode: 0o777 })).handle;
    await fx.fs.setQuota(fx.root, limited, 100);
    await fx.fs.putFile(fx.root, limited, 'fits', { data: new Uint8Array(90) });
    await fx.fs.putFile(fx.root, limited, 'fits', { data: new Uint8Array(100) });
    await rejectsWith(fx.fs.putFile(fx.root, limited, 'fits', { data: new Uint8Array(101) }), 'QuotaExceeded');
    assert.equal((await fx.fs.lookup(fx.root, limited, 'fits')).attributes.size, 100);
    await rejectsWith(fx.fs.putFile(fx.root, await fx.fs.snapshotRoot(fx.root, (await fx.fs.createSnapshot(fx.root, limited, { name: 's' })).id), 'x', { data: bytes('x') }), 'ReadOnly');
  });

  it('leaves the stores consistent, replaced data reclaimed', async () => {
    for (let round = 0; round < 5; round++) await fx.fs.putFile(fx.root, dir, 'churn', { data: new Uint8Array(200_000).fill(round) });
    await fx.fs.maintenance.collectGarbage();
    const report = await checkConsistency(fx.metadata, fx.chunks, {});
    assert.deepEqual(report.problems, []);
  });
});
