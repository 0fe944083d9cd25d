import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkConsistency } from './check/consistency-check.js';
import { isFsError, type FsErrorCode } from './errors.js';
import { prefixEnd, RecordType, typePrefix } from './records.js';
import type { NodeHandle } from './file-system.js';
import { MemoryChunkStore } from '../storage/chunks/memory/memory-chunk-store.js';
import { ALICE, allChunkIds, BOB, contextFor, openCoreFixture, type CoreFixture } from './testing/core-fixture.test-support.js';

async function rejectsWith(promise: Promise<unknown>, code: FsErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isFsError(error), `expected FsError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

async function inlineRecords(fx: CoreFixture) {
  const prefix = typePrefix(RecordType.inlineData);
  return fx.metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 10_000 }));
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

describe('core file system', () => {
  let fx: CoreFixture;
  let root: NodeHandle;

  before(async () => {
    fx = await openCoreFixture();
    root = await fx.fs.root(fx.root);
  });
  after(() => fx.close());

  async function dir(name: string, parent: NodeHandle = root): Promise<NodeHandle> {
    return (await fx.fs.mkdir(fx.root, parent, name, { mode: 0o777 })).handle;
  }

  async function file(parent: NodeHandle, name: string, content?: string): Promise<NodeHandle> {
    const { handle } = await fx.fs.create(fx.root, parent, name, { mode: 0o666 });
    if (content !== undefined) await fx.fs.write(fx.root, handle, { offset: 0, data: bytes(content) });
    return handle;
  }

  describe('names', () => {
    it('refuses invalid names with InvalidName and over-long ones with NameTooLong', async () => {
      for (const name of ['', '.', '..', 'a/b', 'nul\0x', '\ud800']) await rejectsWith(fx.fs.create(fx.root, root, name), 'InvalidName');
      await rejectsWith(fx.fs.create(fx.root, root, 'x'.repeat(256)), 'NameTooLong');
      await rejectsWith(fx.fs.create(fx.root, root, 'é'.repeat(128)), 'NameTooLong');
      const longest = await fx.fs.create(fx.root, root, 'y'.repeat(255));
      assert.equal(longest.created, true);
    });

    it('looks names up case-sensitively, and case-insensitively keeping the stored case', async () => {
      const parent = await dir('cases');
      await file(parent, 'ReadMe.TXT', 'hello');
      await rejectsWith(fx.fs.lookup(fx.root, parent, 'readme.txt'), 'NotFound');
      const found = await fx.fs.lookup(fx.root, parent, 'readme.txt', { caseInsensitive: true });
      const listed = await fx.fs.readdir(fx.root, parent, { limit: 10 });
      assert.equal(found.attributes.size, 5);
      assert.deepEqual(listed.entries.map((entry) => entry.name), ['ReadMe.TXT']);
    });

    it('resolves paths with dot-dot bounded at the root and follows symlinks in the middle', async () => {
      const a = await dir('pa');
      const b = await dir('pb', a);
      await file(b, 'target', 'data');
      await fx.fs.symlink(fx.root, root, 'link-to-pb', '/pa/pb');
      const viaDots = await fx.fs.resolvePath(fx.root, '/../pa/./pb/../pb//target');
      const viaLink = await fx.fs.resolvePath(fx.root, '/link-to-pb/target');
      assert.equal(viaDots.handle.id, viaLink.handle.id);
      await fx.fs.symlink(fx.root, root, 'loop', '/loop/x');
      await rejectsWith(fx.fs.resolvePath(fx.root, '/loop/x'), 'InvalidArgument');
      await rejectsWith(fx.fs.resolvePath(fx.root, `/${'a/'.repeat(2100)}`), 'NameTooLong');
    });
  });

  describe('create and attributes', () => {
    it('creates exclusively or opens an existing file', async () => {
      const parent = await dir('excl');
      const first = await fx.fs.create(fx.root, parent, 'f', { exclusive: true });
      await rejectsWith(fx.fs.create(fx.root, parent, 'f', { exclusive: true }), 'Exists');
      const again = await fx.fs.create(fx.root, parent, 'f');
      assert.equal(again.created, false);
      assert.equal(again.handle.id, first.handle.id);
      await rejectsWith(fx.fs.mkdir(fx.root, parent, 'f'), 'Exists');
    });

    it('sets mode, owner, group and times, and guards on ctime', async () => {
      const parent = await dir('attrs');
      const handle = await file(parent, 'f');
      const before = await fx.fs.getattr(fx.root, handle);
      const changed = await fx.fs.setattr(fx.root, handle, { mode: 0o640, uid: 1001, gid: 100, mtime: 5_000_000_000n, atime: 'now' });
      assert.equal(changed.mode, 0o640);
      assert.equal(changed.uid, 1001);
      assert.equal(changed.mtimeNs, 5_000_000_000n);
      assert.ok(changed.ctimeNs > before.ctimeNs);
      await rejectsWith(fx.fs.setattr(fx.root, handle, { mode: 0o600, guardCtimeNs: before.ctimeNs }), 'Conflict');
      await rejectsWith(fx.fs.setattr(fx.root, handle, { mode: 0o10000 }), 'InvalidArgument');
      await rejectsWith(fx.fs.setattr(fx.root, handle, { size: -1 }), 'InvalidArgument');
      await rejectsWith(fx.fs.setattr(fx.root, handle, { size: 2 ** 51 }), 'FileTooLarge');
    });

    it('setting a file to the size it has changes nothing and writes nothing, after the same checks', async () => {
      const parent = await dir('same-size');
      const handle = await file(parent, 'f', 'four');
      const bobFile = (await fx.fs.create(fx.root, parent, 'not-bobs', { mode: 0o644 })).handle;
      const before = await fx.fs.getattr(fx.root, handle);
      const write = fx.metadata.write.bind(fx.metadata);
      let writes = 0;
      fx.metadata.write = (fn) => {
        writes += 1;
        return write(fn);
      };
      try {
        fx.clock.advanceMs(1_000);
        const same = await fx.fs.setattr(fx.root, handle, { size: 4 });
        assert.deepEqual(same, before);
        assert.deepEqual(await fx.fs.setattr(fx.root, handle, { size: 4, guardCtimeNs: before.ctimeNs }), before);
        assert.equal(writes, 0);
        await rejectsWith(fx.fs.setattr(fx.root, handle, { size: 4, guardCtimeNs: before.ctimeNs - 1n }), 'Conflict');
        await rejectsWith(fx.fs.setattr(fx.root, parent, { size: (await fx.fs.getattr(fx.root, parent)).size }), 'IsADirectory');
        await rejectsWith(fx.fs.setattr(contextFor(BOB), bobFile, { size: 0 }), 'PermissionDenied');
        // A real change, or the size with anything else, is a durable change that moves the times.
        const cut = await fx.fs.setattr(fx.root, handle, { size: 2 });
        assert.ok(cut.mtimeNs > before.mtimeNs && cut.ctimeNs > before.ctimeNs);
        const withMode = await fx.fs.setattr(fx.root, handle, { size: 2, mode: 0o600 });
        assert.ok(withMode.ctimeNs > cut.ctimeNs);
        assert.equal(writes, 2);
      } finally {
        fx.metadata.write = write;
      }
    });
  });

  describe('data', () => {
    it('reads holes as zeros and stops at the end of the file', async () => {
      const handle = await file(root, 'sparse');
      await fx.fs.write(fx.root, handle, { offset: 3 * 1024 * 1024 + 10, data: bytes('tail') });
      const attributes = await fx.fs.getattr(fx.root, handle);
      assert.equal(attributes.size, 3 * 1024 * 1024 + 14);
      assert.equal(attributes.allocatedBytes, 4);
      const hole = await fx.fs.read(fx.root, handle, { offset: 1024, length: 4096 });
      assert.deepEqual(hole.data, new Uint8Array(4096));
      assert.equal(hole.eof, false);
      const end = await fx.fs.read(fx.root, handle, { offset: 3 * 1024 * 1024 + 8, length: 100 });
      assert.deepEqual([...end.data], [0, 0, ...bytes('tail')]);
      assert.equal(end.eof, true);
      const past = await fx.fs.read(fx.root, handle, { offset: 10 * 1024 * 1024, length: 10 });
      assert.equal(past.data.length, 0);
      assert.equal(past.eof, true);
    });

    it('writes across segment boundaries and overwrites in place', async () => {
      const handle = await file(root, 'spanning');
      const data = new Uint8Array(2_500_000).map((_, index) => index % 251);
      await fx.fs.write(fx.root, handle, { offset: 1000, data });
      await fx.fs.write(fx.root, handle, { offset: 1_048_000, data: bytes('XYZ') });
      const back = await fx.fs.read(fx.root, handle, { offset: 1000, length: data.length });
      const expected = data.slice();
      expected.set(bytes('XYZ'), 1_048_000 - 1000);
      assert.deepEqual(back.data, expected);
    });

    it('stores a 4 KiB overwrite in a large file as one 4 KiB inline record, and 100 KiB as one 100 KiB chunk', async () => {
      const handle = await file(root, 'large');
      await fx.fs.write(fx.root, handle, { offset: 0, data: new Uint8Array(8 * 1024 * 1024).fill(7) });
      const chunksBefore = new Set(await allChunkIds(fx.chunks));
      const inlineBefore = await inlineRecords(fx);
      await fx.fs.write(fx.root, handle, { offset: 5 * 1024 * 1024 + 100, data: new Uint8Array(4096).fill(9) });
      const inlineAdded = (await inlineRecords(fx)).filter((entry) => !inlineBefore.some((old) => Buffer.compare(old.key, entry.key) === 0));
      assert.deepEqual((await allChunkIds(fx.chunks)).filter((id) => !chunksBefore.has(id)), []);
      assert.deepEqual(inlineAdded.map((entry) => entry.value.length), [4096]);
      await fx.fs.write(fx.root, handle, { offset: 3 * 1024 * 1024, data: new Uint8Array(100 * 1024).fill(3) });
      const added = (await allChunkIds(fx.chunks)).filter((id) => !chunksBefore.has(id));
      assert.equal(added.length, 1);
      assert.equal((await fx.chunks.get(added[0] as string)).length, 100 * 1024);
      const back = await fx.fs.read(fx.root, handle, { offset: 5 * 1024 * 1024 + 90, length: 20 });
      assert.deepEqual([...back.data], [...new Array(10).fill(7), ...new Array(10).fill(9)]);
    });

    it('truncates and extends: the cut-off bytes read back as zeros', async () => {
      const handle = await file(root, 'trunc', 'abcdefghij');
      await fx.fs.setattr(fx.root, handle, { size: 4 });
      await fx.fs.setattr(fx.root, handle, { size: 8 });
      const back = await fx.fs.read(fx.root, handle, { offset: 0, length: 100 });
      assert.deepEqual([...back.data], [...bytes('abcd'), 0, 0, 0, 0]);
    });

    it('refuses negative offsets, oversized writes and files past the size limit', async () => {
      const handle = await file(root, 'bounds', 'keep');
      await rejectsWith(fx.fs.write(fx.root, handle, { offset: -1, data: bytes('x') }), 'InvalidArgument');
      await rejectsWith(fx.fs.write(fx.root, handle, { offset: 1.5, data: bytes('x') }), 'InvalidArgument');
      await rejectsWith(fx.fs.write(fx.root, handle, { offset: 2 ** 50, data: bytes('x') }), 'FileTooLarge');
      await rejectsWith(fx.fs.read(fx.root, handle, { offset: 0, length: 64 * 1024 * 1024 }), 'InvalidArgument');
      await rejectsWith(fx.fs.write(fx.root, root, { offset: 0, data: bytes('x') }), 'IsADirectory');
      assert.equal(text((await fx.fs.read(fx.root, handle, { offset: 0, length: 10 })).data), 'keep');
    });

    it('merges many small overwrites into one chunk without changing the content', async () => {
      const handle = await file(root, 'compact');
      const expected = new Uint8Array(300_000);
      for (let index = 0; index < 80; index++) {
        const chunk = new Uint8Array(1000).fill(index + 1);
        const offset = (index * 3_677) % 299_000;
        expected.set(chunk, offset);
        await fx.fs.write(fx.root, handle, { offset, data: chunk });
      }
      await fx.fs.maintenance.compactionIdle();
      const back = await fx.fs.read(fx.root, handle, { offset: 0, length: expected.length });
      assert.deepEqual(back.data, expected.slice(0, back.data.length));
    });
  });

  describe('directories', () => {
    it('pages through a large directory with a stable cursor', async () => {
      const parent = await dir('big');
      for (let index = 0; index < 250; index++) await file(parent, `n${String(index).padStart(4, '0')}`);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await fx.fs.readdir(fx.root, parent, { cursor, limit: 40, withAttributes: true });
        seen.push(...page.entries.map((entry) => entry.name));
        if (pages === 1) {
          await fx.fs.remove(fx.root, parent, 'n0200');
          await file(parent, 'n0000a');
        }
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      assert.equal(new Set(seen).size, seen.length, 'no name is listed twice');
      assert.ok(!seen.includes('n0200'));
      assert.ok(!seen.includes('n0000a'), 'names behind the cursor are not seen');
      assert.equal(seen.length, 249);
      await rejectsWith(fx.fs.readdir(fx.root, parent, { cursor: '!!', limit: 10 }), 'InvalidArgument');
      await rejectsWith(fx.fs.readdir(fx.root, parent, { limit: 0 }), 'InvalidArgument');
    });

    it('removes files and empty directories only', async () => {
      const parent = await dir('rm');
      const child = await dir('child', parent);
      await file(child, 'f');
      await rejectsWith(fx.fs.rmdir(fx.root, parent, 'child'), 'NotEmpty');
      await rejectsWith(fx.fs.remove(fx.root, parent, 'child'), 'IsADirectory');
      await rejectsWith(fx.fs.rmdir(fx.root, child, 'f'), 'NotADirectory');
      const removed = await fx.fs.lookup(fx.root, child, 'f');
      await fx.fs.remove(fx.root, child, 'f');
      await fx.fs.rmdir(fx.root, parent, 'child');
      await rejectsWith(fx.fs.getattr(fx.root, removed.handle), 'Stale');
      await rejectsWith(fx.fs.write(fx.root, removed.handle, { offset: 0, data: bytes('x') }), 'Stale');
      await rejectsWith(fx.fs.create(fx.root, child, 'again'), 'Stale');
      assert.deepEqual(await fx.fs.aggregates(fx.root, parent), { bytes: 0, files: 0, directories: 0, symlinks: 0 });
    });
  });

  describe('rename', () => {
    it('moves within and across directories and replaces a file atomically', async () => {
      const a = await dir('ra');
      const b = await dir('rb');
      await file(a, 'one', '1');
      await file(b, 'two', '22');
      await fx.fs.rename(fx.root, { sourceDir: a, sourceName: 'one', targetDir: a, targetName: 'uno' });
      await fx.fs.rename(fx.root, { sourceDir: a, sourceName: 'uno', targetDir: b, targetName: 'two' });
      const moved = await fx.fs.lookup(fx.root, b, 'two');
      assert.equal(text((await fx.fs.read(fx.root, moved.handle, { offset: 0, length: 10 })).data), '1');
      await rejectsWith(fx.fs.lookup(fx.root, a, 'uno'), 'NotFound');
      assert.equal((await fx.fs.aggregates(fx.root, a)).files, 0);
      assert.deepEqual(await fx.fs.aggregates(fx.root, b), { bytes: 1, files: 1, directories: 0, symlinks: 0 });
    });

    it('refuses the moves POSIX refuses', async () => {
      const top = await dir('rr');
      const full = await dir('full', top);
      await file(full, 'x');
      const empty = await dir('empty', top);
      const inner = await dir('inner', empty);
      await file(top, 'plain');
      const move = (sourceName: string, targetDir: NodeHandle, targetName: string) => fx.fs.rename(fx.root, { sourceDir: top, sourceName, targetDir, targetName });
      await rejectsWith(move('empty', top, 'full'), 'NotEmpty');
      await rejectsWith(move('empty', inner, 'loop'), 'InvalidArgument');
      await rejectsWith(move('empty', empty, 'self'), 'InvalidArgument');
      await rejectsWith(move('plain', top, 'full'), 'IsADirectory');
      await rejectsWith(move('full', top, 'plain'), 'NotADirectory');
      await rejectsWith(move('missing', top, 'x'), 'NotFound');
      await rejectsWith(fx.fs.rename(fx.root, { sourceDir: top, sourceName: 'plain', targetDir: top, targetName: 'full', noReplace: true }), 'Exists');
      // A directory may replace an empty directory.
      await fx.fs.rmdir(fx.root, empty, 'inner');
      await move('full', top, 'empty');
      assert.equal((await fx.fs.aggregates(fx.root, top)).directories, 1);
    });
  });

  describe('hard links and symlinks', () => {
    it('keeps data while any link remains and counts each link', async () => {
      const a = await dir('la');
      const b = await dir('lb');
      const handle = await file(a, 'orig', 'linked');
      await fx.fs.link(fx.root, handle, b, 'copy');
      assert.equal((await fx.fs.getattr(fx.root, handle)).nlink, 2);
      assert.equal((await fx.fs.aggregates(fx.root, b)).bytes, 6);
      await fx.fs.remove(fx.root, a, 'orig');
      const remaining = await fx.fs.lookup(fx.root, b, 'copy');
      assert.equal(remaining.attributes.nlink, 1);
      await fx.fs.write(fx.root, remaining.handle, { offset: 6, data: bytes('!') });
      assert.equal((await fx.fs.aggregates(fx.root, b)).bytes, 7);
      assert.equal((await fx.fs.aggregates(fx.root, a)).bytes, 0);
      await rejectsWith(fx.fs.link(fx.root, a, b, 'dirlink'), 'IsADirectory');
    });

    it('stores and reads symlink targets', async () => {
      const link = await fx.fs.symlink(fx.root, root, 'sl', '../some/where');
      assert.equal(await fx.fs.readlink(fx.root, link.handle), '../some/where');
      await rejectsWith(fx.fs.readlink(fx.root, root), 'NotASymlink');
      await rejectsWith(fx.fs.symlink(fx.root, root, 'bad', ''), 'InvalidArgument');
    });
  });

  describe('quotas and aggregates', () => {
    it('enforces nested quotas on every write path and changes nothing when refused', async () => {
      const outer = await dir('q-outer');
      const inner = await dir('q-inner', outer);
      await fx.fs.setQuota(fx.root, outer, 10_000);
      await fx.fs.setQuota(fx.root, inner, 5_000);
      const handle = await file(inner, 'f');
      await fx.fs.write(fx.root, handle, { offset: 0, data: new Uint8Array(4_000).fill(1) });
      await rejectsWith(fx.fs.write(fx.root, handle, { offset: 4_000, data: new Uint8Array(2_000) }), 'QuotaExceeded');
      await rejectsWith(fx.fs.setattr(fx.root, handle, { size: 6_000 }), 'QuotaExceeded');
      const sibling = await file(outer, 'g');
      await fx.fs.write(fx.root, sibling, { offset: 0, data: new Uint8Array(5_500) });
      await rejectsWith(fx.fs.write(fx.root, sibling, { offset: 5_500, data: new Uint8Array(600) }), 'QuotaExceeded');
      const elsewhere = await file(root, 'big-elsewhere', 'x'.repeat(6_000));
      await rejectsWith(fx.fs.rename(fx.root, { sourceDir: root, sourceName: 'big-elsewhere', targetDir: inner, targetName: 'moved' }), 'QuotaExceeded');
      assert.equal((await fx.fs.getattr(fx.root, handle)).size, 4_000);
      assert.deepEqual((await fx.fs.read(fx.root, handle, { offset: 0, length: 10_000 })).data, new Uint8Array(4_000).fill(1));
      assert.equal((await fx.fs.getattr(fx.root, elsewhere)).size, 6_000);
      assert.deepEqual(await fx.fs.getQuota(fx.root, inner), { directoryId: inner.id, limitBytes: 5_000, usedBytes: 4_000 });
      const stats = await fx.fs.statfs(fx.root, handle);
      assert.equal(stats.totalBytes, 5_000);
      assert.equal(stats.availableBytes, 1_000);
      const listed = await fx.fs.listQuotas(fx.root, { limit: 1 });
      assert.equal(listed.quotas.length, 1);
      assert.ok(listed.cursor !== undefined);
      await rejectsWith(fx.fs.setQuota(contextFor(ALICE), inner, 1), 'PermissionDenied');
    });
  });

  describe('permissions', () => {
    it('checks every operation against the unified ACL', async () => {
      const alice = contextFor(ALICE);
      const bob = contextFor(BOB);
      await rejectsWith(fx.fs.create(alice, root, 'not-allowed'), 'PermissionDenied');
      const shared = (await fx.fs.mkdir(fx.root, root, 'perm', { mode: 0o755, uid: ALICE.uid, gid: 100 })).handle;
      const mine = (await fx.fs.create(alice, shared, 'mine', { mode: 0o640 })).handle;
      await fx.fs.write(alice, mine, { offset: 0, data: bytes('private') });
      assert.equal(text((await fx.fs.read(bob, mine, { offset: 0, length: 10 })).data), 'private');
      await rejectsWith(fx.fs.write(bob, mine, { offset: 0, data: bytes('x') }), 'PermissionDenied');
      await rejectsWith(fx.fs.remove(bob, shared, 'mine'), 'PermissionDenied');
      await rejectsWith(fx.fs.setattr(bob, mine, { mode: 0o777 }), 'PermissionDenied');
      await rejectsWith(fx.fs.setattr(alice, mine, { uid: BOB.uid }), 'PermissionDenied');
      await fx.fs.setattr(alice, mine, { mode: 0o600 });
      await rejectsWith(fx.fs.read(bob, mine, { offset: 0, length: 10 }), 'PermissionDenied');
      await fx.fs.setAcl(alice, mine, { entries: [{ type: 'allow', flags: 0, trustee: { kind: 'user', uid: BOB.uid }, mask: 0x1 }, ...(await fx.fs.getAcl(alice, mine)).entries] });
      assert.equal(text((await fx.fs.read(bob, mine, { offset: 0, length: 10 })).data), 'private');
      await fx.fs.setattr(alice, shared, { mode: 0o700 });
      await rejectsWith(fx.fs.lookup(bob, shared, 'mine'), 'PermissionDenied');
      await rejectsWith(fx.fs.readdir(bob, shared, { limit: 10 }), 'PermissionDenied');
    });

    it('gives new nodes the inheritable entries of their directory', async () => {
      const parent = (await fx.fs.mkdir(fx.root, root, 'inherit', { mode: 0o700 })).handle;
      await fx.fs.setAcl(fx.root, parent, {
        entries: [
          { type: 'allow', flags: 0, trustee: { kind: 'owner' }, mask: 0x1f01ff },
          { type: 'allow', flags: 0x3, trustee: { kind: 'user', uid: BOB.uid }, mask: 0x1 | 0x2 | 0x4 | 0x20 | 0x80 },
        ],
      });
      const child = (await fx.fs.create(fx.root, parent, 'inherited')).handle;
      const acl = await fx.fs.getAcl(fx.root, child);
      assert.equal(acl.entries.length, 1);
      assert.equal(acl.entries[0]?.flags, 0x10);
      await fx.fs.write(contextFor(BOB), child, { offset: 0, data: bytes('bob was here') });
    });
  });

  describe('garbage collection', () => {
    it('deletes chunks no record references, and only those', async () => {
      const parent = await dir('gc');
      // Large writes go to chunks, small ones inline: both kinds must be collected.
      const keep = await file(parent, 'keep', 'k'.repeat(100_000));
      const gone = await file(parent, 'gone', 'g'.repeat(100_000));
      await fx.fs.write(fx.root, keep, { offset: 0, data: bytes('K'.repeat(100_000)) });
      await fx.fs.write(fx.root, gone, { offset: 0, data: bytes('G'.repeat(10)) });
      await fx.fs.remove(fx.root, parent, 'gone');
      // A chunk from a write that never committed (its id says it is old: past the sweep's grace).
      const orphan = `000000000001${'a'.repeat(20)}`;
      await fx.chunks.put(orphan, bytes('never committed'));
      const beforeIds = await allChunkIds(fx.chunks);
      const stats = await fx.fs.maintenance.collectGarbage();
      const afterIds = await allChunkIds(fx.chunks);
      // At least: the overwritten chunk of keep, and the chunk and the inline record of gone (earlier
      // tests in this suite leave garbage of their own).
      assert.ok(stats.deletedChunks >= 3, `deleted ${stats.deletedChunks}`);
      assert.equal(stats.sweptChunks, 1);
      assert.ok(!afterIds.includes(orphan));
      assert.ok(afterIds.length <= beforeIds.length - 2 - stats.sweptChunks);
      assert.equal((await inlineRecords(fx)).length, (await checkConsistency(fx.metadata, fx.chunks)).referencedChunks - afterIds.length);
      assert.equal(text((await fx.fs.read(fx.root, keep, { offset: 0, length: 200_000 })).data), 'K'.repeat(100_000));
      const report = await checkConsistency(fx.metadata, fx.chunks);
      assert.deepEqual(report.problems, []);
      assert.equal(report.unreferencedChunks, 0);
    });
  });
});

describe('core file system: chunks expected to be deleted', () => {
  it('names to the chunk store, once committed, each chunk whose last reference an operation dropped', async () => {
    const expected: string[][] = [];
    class Watching extends MemoryChunkStore {
      expectDelete(ids: readonly string[]): void {
        expected.push([...ids]);
      }
    }
    const fx = await openCoreFixture({ chunks: new Watching({ capacityBytes: 1024 ** 3 }) });
    try {
      const root = await fx.fs.root(fx.root);
      const { handle } = await fx.fs.create(fx.root, root, 'big', { mode: 0o666 });
      await fx.fs.write(fx.root, handle, { offset: 0, data: new Uint8Array(200_000).fill(1) });
      const first = await allChunkIds(fx.chunks);
      assert.deepEqual(expected, [], 'a first write drops no reference');
      // An overwrite of the whole file drops the chunks of the first write.
      await fx.fs.write(fx.root, handle, { offset: 0, data: new Uint8Array(200_000).fill(2) });
      assert.equal(expected.length, 1);
      assert.deepEqual([...(expected[0] ?? [])].sort(), [...first].sort());
      const second = (await allChunkIds(fx.chunks)).filter((id) => !first.includes(id));
      // A removed file's data is released by the collector's pass over orphans, which names it
      // too; a refused operation (the file is gone) names nothing.
      await fx.fs.remove(fx.root, root, 'big');
      await assert.rejects(fx.fs.remove(fx.root, root, 'big'));
      assert.equal(expected.length, 1);
      await fx.fs.maintenance.collectGarbage();
      assert.deepEqual([...(expected[1] ?? [])].sort(), [...second].sort());
      assert.equal(expected.length, 2);
    } finally {
      await fx.close();
    }
  });
});
