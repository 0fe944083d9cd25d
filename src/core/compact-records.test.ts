import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMPACT_DIRENT_TAG, COMPACT_INODE_TAG, decodeDirent, decodeInode, encodeDirent, encodeInode } from './compact-records.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { checkConsistency } from './check/consistency-check.js';
import { decodeJson, encodeJson, encodeRecord, direntKey, inodeKey, metaKey, prefixEnd, RecordType, segmentKey, typePrefix, type DirentRecord, type InodeRecord } from './records.js';
import { openCoreFixture } from './testing/core-fixture.test-support.js';

const directory: InodeRecord = {
  type: 'directory',
  generation: 4_000_000_000,
  mode: 0o2755,
  uid: 1000,
  gid: 100,
  size: 0,
  allocatedBytes: 0,
  nlink: 2,
  atimeNs: '1764300000123456789',
  mtimeNs: '1764300000000000001',
  ctimeNs: '5',
  birthTimeNs: '1000000000',
  changeId: 123_456,
  parentId: 1,
  name: 'dir é 😀',
  aggregate: { bytes: 2 ** 50, files: 1000, directories: 0, symlinks: 3 },
  quotaBytes: 10 ** 12,
};

/** What a JSON round trip gives (undefined fields dropped): the compact form must give the same. */
function viaJson(record: InodeRecord): InodeRecord {
  return JSON.parse(JSON.stringify(record)) as InodeRecord;
}

describe('compact records', () => {
  it('round-trips every field, rare ones through the JSON tail, and is much smaller than JSON', () => {
    const records: InodeRecord[] = [
      directory,
      { ...directory, name: '' },
      { ...directory, ownerSid: 'S-1-5-21-1-2-3-1000', acl: [{ type: 'allow', flags: 3, trustee: { kind: 'everyone' }, mask: 7 }], xattrs: { 'user.a': 'AAA=' }, diedEpoch: 7 },
      { ...directory, type: 'file', size: 2 ** 53 - 1, nlink: 1, name: undefined, aggregate: undefined, quotaBytes: undefined, ownerSid: undefined },
      { ...directory, type: 'symlink', symlinkTarget: '../t', aggregate: undefined, quotaBytes: undefined },
    ];
    for (const record of records) {
      const encoded = encodeInode(record);
      assert.ok(encoded !== undefined);
      assert.equal(encoded[0], COMPACT_INODE_TAG);
      assert.deepStrictEqual(decodeInode(encoded), viaJson(record));
      assert.deepStrictEqual(decodeJson<InodeRecord>(encoded), viaJson(record));
    }
    assert.ok((encodeInode(directory)?.length ?? Infinity) * 4 < encodeJson(directory).length);
  });

  it('refuses what it cannot hold exactly, so such records are stored as JSON', () => {
    const unfit: InodeRecord[] = [
      { ...directory, size: -1 },
      { ...directory, changeId: 1.5 },
      { ...directory, parentId: 2 ** 53 },
      { ...directory, atimeNs: '-5' },
      { ...directory, atimeNs: '05' },
      { ...directory, atimeNs: '' },
      { ...directory, aggregate: { ...directory.aggregate, extra: 1 } as InodeRecord['aggregate'] },
      { ...directory, type: 'fifo' as InodeRecord['type'] },
    ];
    for (const record of unfit) {
      assert.equal(encodeInode(record), undefined, JSON.stringify(record));
      const stored = encodeRecord(inodeKey(2, 1), record);
      assert.deepStrictEqual(decodeJson<InodeRecord>(stored), viaJson(record));
    }
  });

  it('round-trips directory entries, closed ones too, and refuses what it cannot hold exactly', () => {
    const entries: DirentRecord[] = [
      { id: 2 ** 53 - 1, generation: 4_000_000_000, type: 'file' },
      { id: 7, generation: 1, type: 'directory', diedEpoch: 12 },
      { id: 8, generation: 0, type: 'symlink', diedEpoch: undefined },
    ];
    for (const entry of entries) {
      const encoded = encodeDirent(entry);
      assert.ok(encoded !== undefined && encoded.length * 2 < encodeJson(entry).length);
      assert.equal(encoded[0], COMPACT_DIRENT_TAG);
      assert.deepStrictEqual(decodeDirent(encoded), JSON.parse(JSON.stringify(entry)));
    }
    const unfit = [{ id: -1, generation: 1, type: 'file' }, { id: 1, generation: 1, type: 'file', later: true }, { id: 1, generation: 1, type: 'pipe' }] as unknown as DirentRecord[];
    for (const entry of unfit) {
      assert.equal(encodeDirent(entry), undefined, JSON.stringify(entry));
      assert.deepStrictEqual(decodeJson(encodeRecord(direntKey(1, 'a', 1), entry)), entry);
    }
  });

  it('stores inodes and entries compact and every other record as JSON; reads the JSON of older databases', () => {
    assert.equal(encodeRecord(inodeKey(2, 1), directory)[0], COMPACT_INODE_TAG);
    const dirent: DirentRecord = { id: 2, generation: 1, type: 'file' };
    assert.equal(encodeRecord(direntKey(1, 'a', 1), dirent)[0], COMPACT_DIRENT_TAG);
    const segment = { slices: [], coveredBytes: 0 };
    assert.deepStrictEqual(encodeRecord(segmentKey(2, 0, 1), segment), encodeJson(segment));
    assert.deepStrictEqual(decodeJson<InodeRecord>(encodeJson(directory)), viaJson(directory));
    assert.deepStrictEqual(decodeJson<DirentRecord>(encodeJson(dirent)), dirent);
  });

  it('opens a format 1 store whose records are all JSON, reads it unchanged and marks it format 2; refuses a newer format', async () => {
    const metadata = new MemoryMetadataStore();
    const first = await openCoreFixture({ metadata });
    const root = await first.fs.root(first.root);
    const dir = await first.fs.mkdir(first.root, root, 'd', { mode: 0o750 });
    const file = await first.fs.create(first.root, dir.handle, 'f', { mode: 0o640 });
    const dirAttributes = await first.fs.getattr(first.root, dir.handle);
    await first.fs.close();
    // What an Enclave before the compact forms stored: JSON everywhere, format 1.
    await metadata.write(async (tx) => {
      for (const type of [RecordType.inode, RecordType.dirent]) {
        const entries = await tx.scan({ start: typePrefix(type), end: prefixEnd(typePrefix(type)), limit: 1_000 });
        for (const entry of entries) tx.put(entry.key, encodeJson(decodeJson(entry.value)));
      }
      tx.put(metaKey('formatVersion'), encodeJson(1));
    });
    const second = await openCoreFixture({ metadata });
    const found = await second.fs.lookup(second.root, dir.handle, 'f');
    assert.deepStrictEqual(found.attributes, file.attributes);
    assert.deepStrictEqual((await second.fs.lookup(second.root, root, 'd')).attributes, dirAttributes);
    assert.equal(decodeJson<number>((await metadata.read((tx) => tx.get(metaKey('formatVersion')))) as Uint8Array), 2);
    assert.deepEqual((await checkConsistency(metadata, second.chunks)).problems, []);
    await second.fs.close();
    await metadata.write(async (tx) => tx.put(metaKey('formatVersion'), encodeJson(3)));
    await assert.rejects(openCoreFixture({ metadata }), /newer Enclave/);
    await metadata.close();
  });
});
