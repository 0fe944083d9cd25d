import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Right } from '../acl/acl.js';
import { checkConsistency } from '../check/consistency-check.js';
import type { OpContext } from '../context.js';
import { isFsError, type FsErrorCode } from '../errors.js';
import type { FileSystem, NodeHandle } from '../file-system.js';
import { prefixEnd, RecordType, typePrefix } from '../records.js';
import { ALICE, allChunkIds, BOB, contextFor, openCoreFixture, type CoreFixture } from '../testing/core-fixture.test-support.js';
import { restoreFromSnapshot } from './restore.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);
const MiB = 1024 * 1024;
const PAST_NS = 1_600_000_000_123_456_789n;

async function rejectsWith(promise: Promise<unknown>, code: FsErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isFsError(error, code) || assert.fail(`expected ${code}, got ${String(error)}`));
}

/** Stored data: chunk ids plus small chunks kept inline in the metadata store. */
async function storedData(fx: CoreFixture): Promise<{ chunks: number; inline: number }> {
  const prefix = typePrefix(RecordType.inlineData);
  const inline = await fx.metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 10_000 }));
  return { chunks: (await allChunkIds(fx.chunks)).length, inline: inline.length };
}

async function readAll(fs: FileSystem, ctx: OpContext, file: NodeHandle, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < size; offset += 4 * MiB) parts.push((await fs.read(ctx, file, { offset, length: Math.min(4 * MiB, size - offset) })).data);
  return Buffer.concat(parts);
}

/**
 * Everything a restore promises to keep, for every node below `dir`, by path: type, size,
 * content digest, mode, owner, times (not ctime), ACL, extended attributes, symlink target, and
 * which names are links of one node.
 */
async function describeTree(fs: FileSystem, ctx: OpContext, dir: NodeHandle): Promise<Record<string, string>> {
  const described: Record<string, string> = {};
  const ids = new Map<number, string>();
  const walk = async (at: NodeHandle, path: string): Promise<void> => {
    let cursor: string | undefined;
    do {
      const page = await fs.readdir(ctx, at, { limit: 3, withAttributes: true, ...(cursor === undefined ? {} : { cursor }) });
      for (const entry of page.entries) {
        const a = entry.attributes!;
        const full = `${path}/${entry.name}`;
        const firstName = ids.get(a.id) ?? full;
        ids.set(a.id, firstName);
        const content = a.type === 'file' ? createHash('sha256').update(await readAll(fs, ctx, entry.handle, a.size)).digest('hex').slice(0, 16) : a.type === 'symlink' ? await fs.readlink(ctx, entry.handle) : '';
        const acl = a.type === 'symlink' ? '' : JSON.stringify(await fs.getAcl(ctx, entry.handle));
        const xattrs = Object.entries(await fs.getXattrs(ctx, entry.handle)).map(([name, value]) => `${name}=${Buffer.from(value).toString('hex')}`).join(',');
        described[full] = [a.type, a.size, content, a.mode.toString(8), a.uid, a.gid, a.atimeNs, a.mtimeNs, a.birthTimeNs, acl, xattrs, `link-of:${firstName}`].join(' ');
        if (a.type === 'directory') await walk(entry.handle, full);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  };
  await walk(dir, '');
  return described;
}

/** A FileSystem that records the limit of every readdir: restore must page, never list whole. */
function recordingReaddirLimits(fs: FileSystem, limits: number[]): FileSystem {
  return new Proxy(fs, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property === 'readdir') return (ctx: OpContext, dir: NodeHandle, options: { limit: number }) => (limits.push(options.limit), target.readdir(ctx, dir, options as never));
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('restoring from a snapshot', () => {
  let fx: CoreFixture;
  let root: NodeHandle;
  let tree: NodeHandle;
  let snapshotId: number;
  const random = (size: number) => new Uint8Array(size).fill(0xab);

  before(async () => {
    fx = await openCoreFixture();
    root = await fx.fs.root(fx.root);
    tree = (await fx.fs.mkdir(fx.root, root, 'tree', { mode: 0o755 })).handle;
    const docs = (await fx.fs.mkdir(fx.root, tree, 'docs', { mode: 0o750 })).handle;
    const deep = (await fx.fs.mkdir(fx.root, docs, 'deep')).handle;
    const big = (await fx.fs.create(fx.root, docs, 'big.bin', { mode: 0o640 })).handle;
    await fx.fs.write(fx.root, big, { offset: 0, data: new Uint8Array(2 * MiB + 123).map((_, index) => (index * 13) % 251) });
    await fx.fs.write(fx.root, big, { offset: 5 * MiB, data: bytes('after a hole') });
    await fx.fs.setXattrs(fx.root, big, { 'user.colour': bytes('blue'), 's3.meta': bytes('kept') });
    const acl = await fx.fs.getAcl(fx.root, big);
    await fx.fs.setAcl(fx.root, big, { entries: [{ type: 'allow', flags: 0, trustee: { kind: 'user', uid: BOB.uid }, mask: Right.READ_DATA | Right.READ_ATTRIBUTES }, ...acl.entries] });
    await fx.fs.setattr(fx.root, big, { uid: ALICE.uid, gid: 100, atime: PAST_NS, mtime: PAST_NS + 1n, birthTime: PAST_NS - 1n });
    for (let index = 0; index < 7; index++) {
      const small = (await fx.fs.create(fx.root, deep, `note-${index}.txt`, { mode: 0o644 })).handle;
      await fx.fs.write(fx.root, small, { offset: 0, data: bytes(`note ${index} `.repeat(index * 500 + 1)) });
    }
    await fx.fs.create(fx.root, deep, 'empty');
    const setuid = (await fx.fs.create(fx.root, docs, 'tool', { mode: 0o755 })).handle;
    await fx.fs.setattr(fx.root, setuid, { mode: 0o4755 });
    await fx.fs.symlink(fx.root, docs, 'link-to-big', 'big.bin');
    await fx.fs.link(fx.root, big, deep, 'big-again.bin');
    await fx.fs.setattr(fx.root, deep, { mtime: PAST_NS + 7n, atime: PAST_NS });
    snapshotId = (await fx.fs.createSnapshot(fx.root, tree, { name: 'before' })).id;
  });
  after(() => fx.close());

  const snapshotNode = async (path: string): Promise<NodeHandle> => (await fx.fs.resolvePath(fx.root, path, { from: await fx.fs.snapshotRoot(fx.root, snapshotId), followFinalSymlink: false })).handle;

  it('restores a file with its data, mode, owner, ACL, extended attributes and times, writing no chunk', async () => {
    const before = await storedData(fx);
    const summary = await fx.fs.restoreFromSnapshot(fx.root, { source: await snapshotNode('docs/big.bin'), targetDir: root, targetName: 'big-restored.bin' });
    assert.deepEqual(await storedData(fx), before, 'no chunk and no inline data was written: the restored file shares them');
    assert.deepEqual({ files: summary.files, bytes: summary.bytes, replaced: summary.replaced, ownersNotKept: summary.ownersNotKept }, { files: 1, bytes: 5 * MiB + 12, replaced: 0, ownersNotKept: 0 });
    const restored = await fx.fs.lookup(fx.root, root, 'big-restored.bin');
    const original = await fx.fs.getattr(fx.root, await snapshotNode('docs/big.bin'));
    for (const field of ['size', 'mode', 'uid', 'gid', 'atimeNs', 'mtimeNs', 'birthTimeNs'] as const) assert.equal(restored.attributes[field], original[field], field);
    assert.deepEqual(await fx.fs.getAcl(fx.root, restored.handle), await fx.fs.getAcl(fx.root, await snapshotNode('docs/big.bin')));
    assert.deepEqual(await fx.fs.getXattrs(fx.root, restored.handle), { 'user.colour': bytes('blue'), 's3.meta': bytes('kept') });
    assert.equal(text((await fx.fs.read(fx.root, restored.handle, { offset: 5 * MiB, length: 100 })).data), 'after a hole');
    assert.deepEqual((await fx.fs.read(fx.root, restored.handle, { offset: 3 * MiB, length: 4 })).data, new Uint8Array(4), 'the hole reads as zeros');
  });

  it('a restored file is independent: writing it changes neither the snapshot nor the live original', async () => {
    const restored = (await fx.fs.lookup(fx.root, root, 'big-restored.bin')).handle;
    await fx.fs.write(fx.root, restored, { offset: 0, data: bytes('CHANGED') });
    await fx.fs.setattr(fx.root, restored, { size: 10 });
    const inSnapshot = await snapshotNode('docs/big.bin');
    assert.equal((await fx.fs.getattr(fx.root, inSnapshot)).size, 5 * MiB + 12);
    assert.deepEqual((await fx.fs.read(fx.root, inSnapshot, { offset: 0, length: 7 })).data, new Uint8Array([0, 13, 26, 39, 52, 65, 78]));
    const live = await fx.fs.resolvePath(fx.root, '/tree/docs/big.bin');
    assert.deepEqual((await fx.fs.read(fx.root, live.handle, { offset: 0, length: 7 })).data, new Uint8Array([0, 13, 26, 39, 52, 65, 78]));
    await fx.fs.remove(fx.root, root, 'big-restored.bin');
  });

  it('restores a directory tree page by page: every node, attribute, symlink and hard link as in the snapshot, no chunk written', async () => {
    const before = await storedData(fx);
    const limits: number[] = [];
    const summary = await restoreFromSnapshot(recordingReaddirLimits(fx.fs, limits), fx.root, { source: await fx.fs.snapshotRoot(fx.root, snapshotId), targetDir: root, targetName: 'tree-copy' }, { random, pageEntriesMax: 2 });
    assert.deepEqual(await storedData(fx), before);
    assert.ok(limits.length > 5 && limits.every((limit) => limit === 2), `every listing is one page of 2: ${limits.join(',')}`);
    assert.deepEqual(
      { files: summary.files, directories: summary.directories, symlinks: summary.symlinks, hardLinks: summary.hardLinks },
      { files: 10, directories: 3, symlinks: 1, hardLinks: 1 },
    );
    const copy = (await fx.fs.lookup(fx.root, root, 'tree-copy')).handle;
    assert.deepEqual(await describeTree(fx.fs, fx.root, copy), await describeTree(fx.fs, fx.root, await fx.fs.snapshotRoot(fx.root, snapshotId)));
    const copyAttributes = await fx.fs.getattr(fx.root, copy);
    assert.equal(copyAttributes.mode, 0o755, 'the top directory keeps its mode too');
    assert.deepEqual((await checkConsistency(fx.metadata, fx.chunks)).problems, []);
  });

  it('restores after the source was deleted, and the restored tree outlives the snapshot', async () => {
    const expected = await describeTree(fx.fs, fx.root, await fx.fs.snapshotRoot(fx.root, snapshotId));
    const rmTree = async (dir: NodeHandle, name: string): Promise<void> => {
      const node = await fx.fs.lookup(fx.root, dir, name);
      if (node.attributes.type === 'directory') {
        for (;;) {
          const page = await fx.fs.readdir(fx.root, node.handle, { limit: 100 });
          if (page.entries.length === 0) break;
          for (const entry of page.entries) await rmTree(node.handle, entry.name);
        }
        await fx.fs.rmdir(fx.root, dir, name);
      } else await fx.fs.remove(fx.root, dir, name);
    };
    await rmTree(root, 'tree');
    await rmTree(root, 'tree-copy');
    await fx.fs.maintenance.collectGarbage();
    await rejectsWith(fx.fs.resolvePath(fx.root, '/tree'), 'NotFound');

    const summary = await fx.fs.restoreFromSnapshot(fx.root, { source: await fx.fs.snapshotRoot(fx.root, snapshotId), targetDir: root, targetName: 'tree' });
    assert.equal(summary.files, 10);
    const restored = (await fx.fs.lookup(fx.root, root, 'tree')).handle;
    assert.deepEqual(await describeTree(fx.fs, fx.root, restored), expected);

    await fx.fs.deleteSnapshot(fx.root, snapshotId);
    await fx.fs.maintenance.collectGarbage();
    assert.deepEqual(await describeTree(fx.fs, fx.root, restored), expected, 'the restored data no longer needs the snapshot');
    const report = await checkConsistency(fx.metadata, fx.chunks);
    assert.deepEqual(report.problems, []);
    assert.equal(report.unreferencedChunks, 0);
    snapshotId = (await fx.fs.createSnapshot(fx.root, restored, { name: 'again' })).id;
  });
});

describe('restore conflicts and rights', () => {
  let fx: CoreFixture;
  let root: NodeHandle;
  let work: NodeHandle;
  let snapshotRoot: NodeHandle;
  const alice = contextFor(ALICE);

  before(async () => {
    fx = await openCoreFixture();
    root = await fx.fs.root(fx.root);
    work = (await fx.fs.mkdir(fx.root, root, 'work', { mode: 0o777 })).handle;
    const report = (await fx.fs.create(fx.root, work, 'report.txt', { mode: 0o644 })).handle;
    await fx.fs.write(fx.root, report, { offset: 0, data: bytes('from the snapshot') });
    const sub = (await fx.fs.mkdir(fx.root, work, 'sub', { mode: 0o755 })).handle;
    await fx.fs.write(fx.root, (await fx.fs.create(fx.root, sub, 'a.txt', { mode: 0o644 })).handle, { offset: 0, data: bytes('a from the snapshot') });
    await fx.fs.write(fx.root, (await fx.fs.create(fx.root, work, 'secret.txt', { mode: 0o600 })).handle, { offset: 0, data: bytes('root only') });
    const { id } = await fx.fs.createSnapshot(fx.root, work, { name: 'base' });
    snapshotRoot = await fx.fs.snapshotRoot(fx.root, id);
    await fx.fs.write(fx.root, report, { offset: 0, data: bytes('LIVE CHANGE, longer') });
    await fx.fs.write(fx.root, (await fx.fs.lookup(fx.root, sub, 'a.txt')).handle, { offset: 0, data: bytes('LIVE a, longer than before') });
    await fx.fs.create(fx.root, sub, 'extra.txt');
  });
  after(() => fx.close());

  const inSnapshot = async (path: string) => (await fx.fs.resolvePath(fx.root, path, { from: snapshotRoot })).handle;
  const read = async (path: string) => text((await fx.fs.read(fx.root, (await fx.fs.resolvePath(fx.root, path)).handle, { offset: 0, length: 100 })).data);

  it('refuses to restore over an existing file or directory without overwrite, changing nothing', async () => {
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('report.txt'), targetDir: work, targetName: 'report.txt' }), 'Exists');
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('sub'), targetDir: work, targetName: 'sub' }), 'Exists');
    assert.equal(await read('/work/report.txt'), 'LIVE CHANGE, longer');
    assert.equal(await read('/work/sub/a.txt'), 'LIVE a, longer than before');
  });

  it('with overwrite, replaces a file atomically and merges a directory, keeping entries the snapshot lacks', async () => {
    const replaced = await fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('report.txt'), targetDir: work, targetName: 'report.txt', overwrite: true });
    assert.equal(replaced.replaced, 1);
    assert.equal(await read('/work/report.txt'), 'from the snapshot');
    const merged = await fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('sub'), targetDir: work, targetName: 'sub', overwrite: true });
    assert.deepEqual({ files: merged.files, replaced: merged.replaced, directories: merged.directories }, { files: 1, replaced: 1, directories: 1 });
    assert.equal(await read('/work/sub/a.txt'), 'a from the snapshot');
    assert.equal(await read('/work/sub/extra.txt'), '', 'an entry the snapshot does not have stays');
    const names = (await fx.fs.readdir(fx.root, (await fx.fs.resolvePath(fx.root, '/work')).handle, { limit: 100 })).entries.map((entry) => entry.name).sort();
    assert.deepEqual(names, ['report.txt', 'secret.txt', 'sub'], 'no staging name is left behind');
  });

  it('refuses a directory over a file and a file over a directory even with overwrite', async () => {
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('sub'), targetDir: work, targetName: 'report.txt', overwrite: true }), 'NotADirectory');
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('report.txt'), targetDir: work, targetName: 'sub', overwrite: true }), 'IsADirectory');
  });

  it('needs read rights on the snapshot content and write rights on the destination', async () => {
    const aliceHome = (await fx.fs.mkdir(fx.root, root, 'alice', { mode: 0o755, uid: ALICE.uid, gid: 100 })).handle;
    await rejectsWith(fx.fs.restoreFromSnapshot(alice, { source: await inSnapshot('secret.txt'), targetDir: aliceHome, targetName: 'secret.txt' }), 'PermissionDenied');
    await rejectsWith(fx.fs.restoreFromSnapshot(alice, { source: await inSnapshot('report.txt'), targetDir: root, targetName: 'report.txt' }), 'PermissionDenied');
    // A tree with one unreadable file fails as a whole and leaves nothing behind.
    await rejectsWith(fx.fs.restoreFromSnapshot(alice, { source: snapshotRoot, targetDir: aliceHome, targetName: 'work' }), 'PermissionDenied');
    assert.deepEqual((await fx.fs.readdir(fx.root, aliceHome, { limit: 10 })).entries, []);
    await rejectsWith(fx.fs.lookup(fx.root, aliceHome, 'secret.txt'), 'NotFound');
    // What she may read she restores; she cannot give it to root, so she owns it, and is told.
    const summary = await fx.fs.restoreFromSnapshot(alice, { source: await inSnapshot('report.txt'), targetDir: aliceHome, targetName: 'report.txt' });
    assert.equal(summary.ownersNotKept, 1);
    const restored = await fx.fs.lookup(alice, aliceHome, 'report.txt');
    assert.equal(restored.attributes.uid, ALICE.uid);
    assert.equal(restored.attributes.mode, 0o644);
    assert.equal(text((await fx.fs.read(alice, restored.handle, { offset: 0, length: 100 })).data), 'from the snapshot');
  });

  it('refuses a live source, a destination inside a snapshot, and a snapshot that is gone', async () => {
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: work, targetDir: root, targetName: 'copy' }), 'InvalidArgument');
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: await inSnapshot('report.txt'), targetDir: snapshotRoot, targetName: 'x' }), 'ReadOnly');
    const gone = await fx.fs.createSnapshot(fx.root, work, { name: 'gone' });
    const goneRoot = await fx.fs.snapshotRoot(fx.root, gone.id);
    await fx.fs.deleteSnapshot(fx.root, gone.id);
    await rejectsWith(fx.fs.restoreFromSnapshot(fx.root, { source: goneRoot, targetDir: root, targetName: 'copy' }), 'Stale');
  });
});
