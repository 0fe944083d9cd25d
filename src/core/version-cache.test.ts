import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReadTransaction } from '../storage/metadata/metadata-store.js';
import { SqliteMetadataStore } from '../storage/metadata/sqlite/sqlite-metadata-store.js';
import { decodeJson, encodeJson, inodeKey, inodePrefix, type InodeRecord } from './records.js';
import { VersionCache } from './version-cache.js';
import { readVersion } from './versions.js';

const record = (size: number) => ({ size }) as unknown as InodeRecord;

describe('version cache', () => {
  let directory = '';
  let store: SqliteMetadataStore;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'enclave-version-cache-'));
    store = await SqliteMetadataStore.open({ path: join(directory, 'metadata.db') });
  });
  after(async () => {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  });

  const write = (id: number, born: number, size: number) => store.write(async (tx) => tx.put(inodeKey(id, born), encodeJson(record(size))));
  const sizeIn = async (tx: ReadTransaction, id: number) => (await readVersion<InodeRecord>(tx, inodePrefix(id)))?.record.size;
  /**
   * A read transaction that fixes its snapshot at once and reads `id` through the cache only when
   * released (so commits can land in between).
   */
  const heldRead = async (cache: VersionCache, id: number): Promise<{ release: () => void; result: Promise<number | undefined> }> => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let began!: () => void;
    const begun = new Promise<void>((resolve) => (began = resolve));
    const result = store.read(async (tx) => {
      began();
      await held;
      return sizeIn(cache.reading(tx), id);
    });
    await begun;
    return { release, result };
  };
  /** Counts the scans that reach the store. */
  const counting = (tx: ReadTransaction, counter: { scans: number }): ReadTransaction => ({
    sequence: tx.sequence,
    get: (key) => tx.get(key),
    scan: (options) => {
      counter.scans++;
      return tx.scan(options);
    },
  });

  it('serves a live version read from memory until a commit changes the record', async () => {
    const cache = VersionCache.for(store) as VersionCache;
    try {
      await write(10, 1, 100);
      const counter = { scans: 0 };
      const read = () => store.read((tx) => sizeIn(cache.reading(counting(tx, counter)), 10));
      assert.equal(await read(), 100);
      assert.equal(await read(), 100);
      assert.equal(counter.scans, 1, 'the second read came from the cache');
      await write(10, 1, 200);
      assert.equal(await read(), 200, 'a commit replaces the entry with a mark');
      assert.equal(counter.scans, 2);
      // Snapshot-epoch reads and other scans are never served from the cache.
      await store.read(async (tx) => readVersion(cache.reading(counting(tx, counter)), inodePrefix(10), 1));
      assert.equal(counter.scans, 3);
    } finally {
      cache.close();
    }
  });

  it('a read that began before a commit does not fill the cache with what the commit replaced', async () => {
    const cache = VersionCache.for(store) as VersionCache;
    try {
      await write(20, 1, 1);
      // Reader A fixes its snapshot, waits while a commit lands, then reads (the old value).
      const { release, result: stale } = await heldRead(cache, 20);
      await write(20, 1, 2);
      release();
      assert.equal(await stale, 1, 'A reads its own snapshot');
      const counter = { scans: 0 };
      assert.equal(await store.read((tx) => sizeIn(cache.reading(counting(tx, counter)), 20)), 2, 'a later reader sees the commit');
      assert.equal(counter.scans, 1, 'not served from a stale fill');
      assert.equal(await store.read((tx) => sizeIn(cache.reading(counting(tx, counter)), 20)), 2);
      assert.equal(counter.scans, 1, 'now cached');
    } finally {
      cache.close();
    }
  });

  it('an entry filled by a newer read is not served to an older read', async () => {
    const cache = VersionCache.for(store) as VersionCache;
    try {
      await write(30, 1, 1);
      const { release, result: old } = await heldRead(cache, 30);
      await write(30, 1, 2);
      assert.equal(await store.read((tx) => sizeIn(cache.reading(tx), 30)), 2, 'a newer reader fills');
      release();
      assert.equal(await old, 1, 'the older reader still reads its snapshot');
    } finally {
      cache.close();
    }
  });

  it('when full it empties, and reads older than the newest commit may not fill afterwards', async () => {
    const cache = VersionCache.for(store, { slotsMax: 2 }) as VersionCache;
    try {
      await write(40, 1, 1);
      const { release, result: stale } = await heldRead(cache, 40);
      await write(40, 1, 2); // marks 40
      // Other records fill the cache past its bound: it empties, forgetting the mark on 40.
      for (const id of [41, 42, 43]) await write(id, 1, id);
      for (const id of [41, 42, 43]) await store.read((tx) => sizeIn(cache.reading(tx), id));
      release();
      assert.equal(await stale, 1);
      const counter = { scans: 0 };
      assert.equal(await store.read((tx) => sizeIn(cache.reading(counting(tx, counter)), 40)), 2, 'the stale read did not fill');
      assert.ok(cache.size <= 2);
    } finally {
      cache.close();
    }
  });

  describe('write-through (with the live epoch)', () => {
    const live = 3;
    const through = () => VersionCache.for(store, { liveEpoch: () => live }) as VersionCache;
    const read = (cache: VersionCache, id: number, counter: { scans: number }) => store.read((tx) => sizeIn(cache.reading(counting(tx, counter)), id));

    it('a commit that leaves a version born in the live epoch fills its slot: read back without a scan', async () => {
      const cache = through();
      try {
        await write(60, 3, 5);
        const counter = { scans: 0 };
        assert.equal(await read(cache, 60, counter), 5);
        assert.equal(counter.scans, 0, 'served from the commit');
        await write(60, 3, 6);
        assert.equal(await read(cache, 60, counter), 6, 'the next commit replaces it');
        assert.equal(counter.scans, 0);
      } finally {
        cache.close();
      }
    });

    it('a version born before the live epoch only marks (the epoch moved on: an older key need not be the newest)', async () => {
      const cache = through();
      try {
        await write(61, 2, 7);
        const counter = { scans: 0 };
        assert.equal(await read(cache, 61, counter), 7);
        assert.equal(counter.scans, 1, 'read from the store');
      } finally {
        cache.close();
      }
    });

    it('the newest key of the commit decides: a new version and the closed old one (writeVersion kept)', async () => {
      const cache = through();
      try {
        await write(62, 2, 1);
        await store.write(async (tx) => {
          tx.put(inodeKey(62, 3), encodeJson(record(2)));
          tx.put(inodeKey(62, 2), encodeJson({ ...record(1), diedEpoch: 3 }));
        });
        const counter = { scans: 0 };
        assert.equal(await read(cache, 62, counter), 2);
        assert.equal(counter.scans, 0);
      } finally {
        cache.close();
      }
    });

    it('a deleted newest version marks: the read finds what is left', async () => {
      const cache = through();
      try {
        await write(63, 2, 1);
        await write(63, 3, 2);
        await store.write(async (tx) => tx.delete(inodeKey(63, 3)));
        const counter = { scans: 0 };
        assert.equal(await read(cache, 63, counter), 1, 'the older version, from the store');
        assert.equal(counter.scans, 1);
        // Put and deleted in one commit (two transactions of one batch, or one): still a mark.
        await store.write(async (tx) => {
          tx.put(inodeKey(63, 3), encodeJson(record(9)));
          tx.delete(inodeKey(63, 3));
        });
        assert.equal(await read(cache, 63, counter), 1);
        assert.equal(counter.scans, 2);
      } finally {
        cache.close();
      }
    });

    it('a read that began before the commit still reads its own snapshot', async () => {
      const cache = through();
      try {
        await write(64, 3, 1);
        const { release, result: old } = await heldRead(cache, 64);
        await write(64, 3, 2);
        release();
        assert.equal(await old, 1);
        assert.equal(await store.read((tx) => sizeIn(cache.reading(tx), 64)), 2);
      } finally {
        cache.close();
      }
    });
  });

  it('write transactions never use it', async () => {
    const cache = VersionCache.for(store) as VersionCache;
    try {
      await write(50, 1, 1);
      await store.read((tx) => sizeIn(cache.reading(tx), 50));
      const seen = await store.write(async (tx) => {
        tx.put(inodeKey(50, 1), encodeJson(record(9)));
        return sizeIn(cache.reading(tx), 50);
      });
      assert.equal(seen, 9, 'its own uncommitted change, not the cached entry');
      assert.equal(decodeJson<{ size: number }>((await store.read((tx) => tx.get(inodeKey(50, 1)))) as Uint8Array).size, 9);
    } finally {
      cache.close();
    }
  });
});
