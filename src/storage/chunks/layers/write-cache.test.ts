import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newChunkId } from '../chunk-id.js';
import { chunkStoreContract, rejectsWithCode } from '../chunk-store.contract.js';
import { ChunkStoreError } from '../chunk-store.js';
import type { ByteRange, ChunkCapacity, ChunkId, ChunkStore } from '../chunk-store.js';
import { LocalChunkStore } from '../local/local-chunk-store.js';
import { DiskActivity } from '../../disk-activity.js';
import { WriteCacheChunkStore } from './write-cache.js';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './write-cache-format.js';

const KIB = 1024;
/** A segment that holds exactly three records of 10,000 bytes. */
const THREE_RECORDS = SEGMENT_HEADER_BYTES + 3 * (RECORD_HEADER_BYTES + 10_000);

async function temporaryRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'enclave-write-cache-'));
}

/** Small segments, so that the contract's chunks fill, seal and reuse them, and the largest bypass them. */
chunkStoreContract('write cache over local (256 KiB segments)', async () => {
  const root = await temporaryRoot();
  const store = await WriteCacheChunkStore.open({
    dir: join(root, 'cache'),
    tier: await LocalChunkStore.open({ root: join(root, 'chunks') }),
    segmentBytes: 256 * KIB,
    segmentCount: 3,
    cachedPutsMax: 1_000,
  });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

/** The defaults, in two small segments: puts that find no room go straight to the tier, mixed with cached ones. */
chunkStoreContract('write cache over local (default put routing)', async () => {
  const root = await temporaryRoot();
  const store = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier: await LocalChunkStore.open({ root: join(root, 'chunks') }), segmentBytes: 1024 * KIB, segmentCount: 2 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

/** A tier whose puts wait until the gate opens, or fail while `failing` is set. */
class GatedTier implements ChunkStore {
  #open: Promise<void>;
  #release: () => void = () => undefined;
  failing = 0;
  puts = 0;

  constructor(readonly inner: ChunkStore, openAtStart = false) {
    this.#open = openAtStart ? Promise.resolve() : new Promise((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#release();
    this.#open = Promise.resolve();
  }

  async put(id: ChunkId, data: Uint8Array): Promise<void> {
    await this.#open;
    if (this.failing > 0) {
      this.failing -= 1;
      throw new ChunkStoreError('unavailable', 'the tier is down');
    }
    this.puts += 1;
    return this.inner.put(id, data);
  }

  get(id: ChunkId, range?: ByteRange): Promise<Uint8Array> {
    return this.inner.get(id, range);
  }

  delete(id: ChunkId): Promise<void> {
    return this.inner.delete(id);
  }

  list(options: { after?: ChunkId; limit: number }): Promise<ChunkId[]> {
    return this.inner.list(options);
  }

  capacity(): Promise<ChunkCapacity> {
    return this.inner.capacity();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms for up to 10 s. */
async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await sleep(10);
  }
}

async function withRoot(test: (root: string) => Promise<void>): Promise<void> {
  const root = await temporaryRoot();
  try {
    await test(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function openCache(root: string, tier: ChunkStore, segmentBytes = 64 * KIB, segmentCount = 3): Promise<WriteCacheChunkStore> {
  // Every put through the cache, however many run at once (one test checks cachedPutsMax).
  return WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes, segmentCount, cachedPutsMax: 1_000 });
}

describe('WriteCacheChunkStore', () => {
  it('acknowledges a put before the tier has it, serves it from the cache, and copies it to the tier', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const cache = await openCache(root, tier);
      const id = newChunkId(Date.now());
      const data = randomBytes(5_000);
      await cache.put(id, data);
      await rejectsWithCode(local.get(id), 'not-found');
      assert.deepEqual(Buffer.from(await cache.get(id)), data);
      assert.deepEqual(Buffer.from(await cache.get(id, { offset: 4_990, length: 100 })), data.subarray(4_990));
      assert.deepEqual(await cache.list({ limit: 10 }), [id]);
      assert.equal(cache.stats().backlogChunks, 1);
      tier.release();
      await cache.drain();
      assert.deepEqual(Buffer.from(await local.get(id)), data);
      assert.equal(cache.stats().backlogChunks, 0);
      assert.deepEqual(Buffer.from(await cache.get(id)), data);
      await cache.close();
    });
  });

  it('replays acknowledged chunks after a crash (the process never closed the cache)', async () => {
    await withRoot(async (root) => {
      const first = await openCache(root, new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') })), 64 * KIB, 4);
      const chunks = new Map<ChunkId, Buffer>();
      // Enough to fill and seal more than one segment; puts run concurrently.
      await Promise.all(
        Array.from({ length: 20 }, async (_, index) => {
          const id = newChunkId(Date.now() + index);
          const data = randomBytes(7_000 + index);
          chunks.set(id, data);
          await first.put(id, data);
        }),
      );
      // "Crash": a second process opens the same folders while the first never copied anything.
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const second = await openCache(root, tier, 64 * KIB, 4);
      assert.equal(second.stats().backlogChunks, chunks.size);
      for (const [id, data] of chunks) assert.deepEqual(Buffer.from(await second.get(id)), data);
      assert.deepEqual(await second.list({ limit: 100 }), [...chunks.keys()].sort());
      tier.release();
      await second.drain();
      for (const [id, data] of chunks) assert.deepEqual(Buffer.from(await local.get(id)), data);
      await second.close();
      // Retired segments are not replayed again.
      const third = await openCache(root, new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') })), 64 * KIB, 4);
      assert.equal(third.stats().backlogChunks, 0);
      await third.close();
    });
  });

  it('replays segments numbered past 999 (segment-1000 and up)', async () => {
    await withRoot(async (root) => {
      const first = await openCache(root, new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') })), 64 * KIB, 2);
      const id = newChunkId(Date.now());
      const data = randomBytes(5_000);
      await first.put(id, data);
      // "Crash", then the segment holding the chunk turns out to be number 1000 (a cache of over
      // a thousand segments, as an earlier geometry allowed).
      await rename(join(root, 'cache', 'segment-000'), join(root, 'cache', 'segment-1000'));
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const second = await openCache(root, tier, 64 * KIB, 2);
      assert.equal(second.stats().backlogChunks, 1);
      assert.deepEqual(Buffer.from(await second.get(id)), data);
      tier.release();
      await second.drain();
      assert.deepEqual(Buffer.from(await local.get(id)), data);
      await second.close();
    });
  });

  it('a torn last record is dropped at replay; the records before it survive', async () => {
    await withRoot(async (root) => {
      const first = await openCache(root, new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') })), 256 * KIB, 2);
      const kept = newChunkId(Date.now());
      const torn = newChunkId(Date.now() + 1);
      await first.put(kept, randomBytes(3_000));
      await first.put(torn, randomBytes(3_000));
      // Cut the second record's data short, as a crash in the middle of its write would.
      const segment = join(root, 'cache', 'segment-000');
      const handle = await open(segment, 'r+');
      const recordEnd = SEGMENT_HEADER_BYTES + 2 * (RECORD_HEADER_BYTES + 3_000);
      await handle.write(Buffer.alloc(100, 0xee), 0, 100, recordEnd - 100);
      await handle.close();
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const second = await openCache(root, new GatedTier(local, true), 256 * KIB, 2);
      assert.equal(second.stats().backlogChunks, 1);
      await rejectsWithCode(second.get(torn), 'not-found');
      await second.drain();
      assert.equal((await local.get(kept)).byteLength, 3_000);
      await rejectsWithCode(local.get(torn), 'not-found');
      await second.close();
    });
  });

  it('records of an earlier use of a segment are never replayed as part of a later one', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const first = await openCache(root, new GatedTier(local, true), 64 * KIB, 2);
      // Fill both segments several times over; each is copied, retired and reused.
      for (let index = 0; index < 60; index += 1) await first.put(newChunkId(Date.now() + index), randomBytes(6_000));
      await first.drain();
      const recent = newChunkId(Date.now() + 1_000);
      const gate = new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') }));
      await first.close();
      const second = await openCache(root, gate, 64 * KIB, 2);
      await second.put(recent, randomBytes(100));
      // Crash now: only `recent` is not in the tier; the old records after it in its segment
      // belong to an earlier generation.
      const third = await openCache(root, new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') })), 64 * KIB, 2);
      assert.equal(third.stats().backlogChunks, 1);
      assert.equal((await third.get(recent)).byteLength, 100);
    });
  });

  it('deleting a chunk that is only in the cache removes it everywhere, copy or not', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const cache = await openCache(root, tier);
      const id = newChunkId(Date.now());
      await cache.put(id, randomBytes(1_000));
      await cache.delete(id);
      await rejectsWithCode(cache.get(id), 'not-found');
      assert.deepEqual(await cache.list({ limit: 10 }), []);
      tier.release();
      await cache.drain();
      await rejectsWithCode(local.get(id), 'not-found');
      // The id can be put again, and this time it stays.
      await cache.put(id, randomBytes(10));
      await cache.drain();
      assert.equal((await local.get(id)).byteLength, 10);
      await cache.close();
    });
  });

  it('when no segment has room, puts go straight to the tier, and all land once it takes them', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes: THREE_RECORDS, segmentCount: 2, cachedPutsMax: 100 });
      const ids = Array.from({ length: 12 }, (_, index) => newChunkId(Date.now() + index));
      let acknowledged = 0;
      const puts = ids.map((id) => cache.put(id, randomBytes(10_000)).then(() => (acknowledged += 1)));
      await waitFor(() => acknowledged === 6);
      // Two segments hold 6 of them; the other 6 wait for the (closed) tier itself.
      assert.equal(cache.stats().backlogChunks, 6);
      assert.equal(tier.puts, 0);
      tier.release();
      await Promise.all(puts);
      await cache.drain();
      for (const id of ids) assert.equal((await local.get(id)).byteLength, 10_000);
      await cache.close();
    });
  });

  it('deleting chunks that are only in the cache frees their segments at once, with no copy', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes: THREE_RECORDS, segmentCount: 4, cachedPutsMax: 100, copyQuietMs: 3_600_000 });
      const first = Array.from({ length: 9 }, (_, index) => newChunkId(Date.now() + index));
      for (const id of first) await cache.put(id, randomBytes(10_000));
      // Three of the four segments are full, no copy has started, and the tier has nothing.
      const deletes = first.map((id) => cache.delete(id));
      assert.equal(cache.stats().backlogChunks, 0);
      assert.equal(cache.stats().backlogBytes, 0);
      // Twelve more fit only because the deleted ones' segments were freed.
      const second = Array.from({ length: 12 }, (_, index) => newChunkId(Date.now() + 100 + index));
      for (const id of second) await cache.put(id, randomBytes(10_000));
      assert.equal(cache.stats().backlogChunks, 12);
      assert.equal(tier.puts, 0, 'the new chunks went into the freed segments, not to the tier');
      tier.release();
      await Promise.all(deletes);
      await cache.drain();
      assert.equal(tier.puts, 12, 'only the live chunks were copied');
      for (const id of first) await rejectsWithCode(cache.get(id), 'not-found');
      for (const id of second) assert.equal((await local.get(id)).byteLength, 10_000);
      await cache.close();
    });
  });

  it('puts beyond cachedPutsMax in flight go straight to the tier', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local);
      const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes: 256 * KIB, segmentCount: 2, cachedPutsMax: 2 });
      let acknowledged = 0;
      const puts = Array.from({ length: 5 }, (_, index) => cache.put(newChunkId(Date.now() + index), randomBytes(1_000)).then(() => (acknowledged += 1)));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The first two went through the cache; the other three wait for the (closed) tier.
      assert.equal(acknowledged, 2);
      assert.equal(cache.stats().backlogChunks, 2);
      tier.release();
      await Promise.all(puts);
      await cache.drain();
      assert.equal(tier.puts, 5);
      await cache.close();
    });
  });

  it('retries copies while the tier fails, without losing or reordering anything', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local, true);
      tier.failing = 2;
      const cache = await openCache(root, tier);
      const ids = [newChunkId(Date.now()), newChunkId(Date.now() + 1)];
      for (const id of ids) await cache.put(id, randomBytes(500));
      for (const id of ids) assert.equal((await cache.get(id)).byteLength, 500);
      await cache.drain();
      assert.equal(tier.failing, 0);
      for (const id of ids) assert.equal((await local.get(id)).byteLength, 500);
      await cache.close();
    });
  });

  it('open zero-fills every segment to full size before the first put, and only when it takes puts', async () => {
    await withRoot(async (root) => {
      const sizes = async (): Promise<number[]> => Promise.all((await readdir(join(root, 'cache'))).sort().map(async (name) => (await stat(join(root, 'cache', name))).size));
      const tier = await LocalChunkStore.open({ root: join(root, 'chunks') });
      // Routing every put to the tier (the server's mode with the cache off): nothing is filled.
      const off = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes: 128 * KIB, segmentCount: 3, cachedPutsMax: 0 });
      assert.deepEqual(await sizes(), [0, 0, 0]);
      await off.close();
      const cache = await openCache(root, await LocalChunkStore.open({ root: join(root, 'chunks') }), 128 * KIB, 3);
      assert.deepEqual(await sizes(), [128 * KIB, 128 * KIB, 128 * KIB]);
      await cache.put(newChunkId(Date.now()), randomBytes(1_000));
      await cache.close();
      assert.deepEqual(await sizes(), [128 * KIB, 128 * KIB, 128 * KIB]);
    });
  });

  /**
   * Puts one chunk into a cache that copies after 1 s of quiet, runs `busy` every 50 ms for
   * 600 ms, checks the chunk is still only in the cache, then that it reaches the tier once quiet.
   */
  async function copyHeldBackWhile(root: string, busy: (cache: WriteCacheChunkStore, id: ChunkId) => Promise<void> | void, activity?: DiskActivity): Promise<void> {
    const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
    const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier: local, segmentBytes: 64 * KIB, segmentCount: 4, copyQuietMs: 1_000, ...(activity === undefined ? {} : { activity }) });
    const id = newChunkId(Date.now());
    await cache.put(id, randomBytes(2_000));
    for (let round = 0; round < 12; round += 1) {
      await busy(cache, id);
      await sleep(50);
    }
    await rejectsWithCode(local.get(id), 'not-found');
    assert.equal(cache.stats().backlogChunks, 1);
    await waitFor(() => cache.stats().backlogChunks === 0);
    assert.equal((await local.get(id)).byteLength, 2_000);
    await cache.close();
  }

  it('copies to the tier wait while puts and gets keep coming, and start once the cache is quiet', async () => {
    // Gets every 50 ms: never 1 s quiet, so the chunk stays in the cache only.
    await withRoot((root) => copyHeldBackWhile(root, async (cache, id) => assert.equal((await cache.get(id)).byteLength, 2_000)));
  });

  it('foreground work reported by another store (metadata commits) holds the copies back too', async () => {
    // The cache itself sees nothing more; the other store reports work every 50 ms.
    const activity = new DiskActivity();
    await withRoot((root) => copyHeldBackWhile(root, () => activity.note(), activity));
  });

  it('a busy cache still copies a chunk once it has waited copyAgeMs, and copies at once when few segments are ready', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const aged = await WriteCacheChunkStore.open({ dir: join(root, 'aged'), tier: local, segmentBytes: 64 * KIB, segmentCount: 4, copyQuietMs: 3_600_000, copyAgeMs: 200 });
      const first = newChunkId(Date.now());
      await aged.put(first, randomBytes(2_000));
      await waitFor(() => aged.stats().backlogChunks === 0);
      assert.equal((await local.get(first)).byteLength, 2_000);
      await aged.close();

      const tier = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const full = await WriteCacheChunkStore.open({ dir: join(root, 'full'), tier, segmentBytes: THREE_RECORDS, segmentCount: 4, copyQuietMs: 3_600_000, copyAgeMs: 3_600_000, cachedPutsMax: 100 });
      // 10,000-byte chunks, 3 to a segment: the 10th put takes the last ready segment, leaving
      // fewer than a quarter ready, and the copies start while the cache is anything but quiet.
      const ids = Array.from({ length: 10 }, (_, index) => newChunkId(Date.now() + index));
      for (const id of ids.slice(0, 9)) await full.put(id, randomBytes(10_000));
      assert.equal(full.stats().backlogChunks, 9);
      await full.put(ids[9] as ChunkId, randomBytes(10_000));
      await waitFor(async () => (await tier.list({ limit: 100 })).filter((id) => ids.includes(id)).length >= 9);
      await full.close();
    });
  });

  it('chunks expected to be deleted wait to be copied: deleted meanwhile, they never reach the tier; otherwise they are copied once the hold ends', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const tier = new GatedTier(local, true);
      // Copies start 200 ms after the last put; without a hold every chunk would be copied then.
      const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes: 64 * KIB, segmentCount: 4, copyQuietMs: 200, expectDeleteHoldMs: 700 });
      const [doomed, kept, late] = [0, 1, 2].map((index) => newChunkId(Date.now() + index)) as [ChunkId, ChunkId, ChunkId];
      for (const id of [doomed, kept, late]) await cache.put(id, randomBytes(3_000));
      cache.expectDelete([doomed, late, newChunkId(Date.now() + 9)]);
      await waitFor(async () => (await local.list({ limit: 10 })).includes(kept));
      await sleep(100);
      assert.deepEqual(await local.list({ limit: 10 }), [kept], 'the held chunks stay in the cache only');
      assert.equal((await cache.get(doomed)).byteLength, 3_000, 'a held chunk still reads');
      await cache.delete(doomed);
      await rejectsWithCode(cache.get(doomed), 'not-found');
      // The hold on `late` ends (no delete came): it is copied after all; `doomed` never was.
      // The copied file shows in the tier a moment before the cache has settled the copy's accounting.
      await waitFor(async () => (await local.list({ limit: 10 })).includes(late) && cache.stats().backlogChunks === 0);
      assert.equal(tier.puts, 2);
      await rejectsWithCode(local.get(doomed), 'not-found');
      await cache.close();
    });
  });

  it('when few segments are ready, chunks held for an expected delete are dropped instead of copied', async () => {
    await withRoot(async (root) => {
      const tier = await LocalChunkStore.open({ root: join(root, 'chunks') });
      // Copies only under pressure; holds that never end by themselves.
      const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier, segmentBytes: THREE_RECORDS, segmentCount: 4, copyQuietMs: 3_600_000, copyAgeMs: 3_600_000, cachedPutsMax: 100, expectDeleteHoldMs: 3_600_000 });
      const ids = Array.from({ length: 10 }, (_, index) => newChunkId(Date.now() + index));
      for (const id of ids.slice(0, 9)) await cache.put(id, randomBytes(10_000));
      const doomed = ids.slice(0, 6);
      cache.expectDelete(doomed);
      // The 10th put takes the last ready segment: pressure.
      await cache.put(ids[9] as ChunkId, randomBytes(10_000));
      await waitFor(async () => (await tier.list({ limit: 100 })).length >= 4);
      await sleep(50);
      assert.deepEqual(await tier.list({ limit: 100 }), ids.slice(6).sort(), 'only the live chunks were copied');
      // Dropping the first segment's three ended the pressure; the next three stay held.
      for (const id of doomed.slice(0, 3)) await rejectsWithCode(cache.get(id), 'not-found');
      for (const id of doomed.slice(3)) assert.equal((await cache.get(id)).byteLength, 10_000);
      assert.equal(cache.stats().backlogChunks, 3);
      assert.deepEqual(await cache.list({ limit: 100 }), ids.slice(3).sort());
      // The owner's deletes come later: nothing to do for the dropped, the held go.
      for (const id of doomed) await cache.delete(id);
      assert.equal(cache.stats().backlogChunks, 0);
      for (const id of ids.slice(6)) assert.equal((await cache.get(id)).byteLength, 10_000);
      await cache.close();
    });
  });

  it('drain and close copy held chunks without waiting for their hold to end', async () => {
    await withRoot(async (root) => {
      const local = await LocalChunkStore.open({ root: join(root, 'chunks') });
      const cache = await WriteCacheChunkStore.open({ dir: join(root, 'cache'), tier: local, segmentBytes: 64 * KIB, segmentCount: 4, copyQuietMs: 100, expectDeleteHoldMs: 3_600_000 });
      const ids = [0, 1].map((index) => newChunkId(Date.now() + index));
      for (const id of ids) await cache.put(id, randomBytes(2_000));
      cache.expectDelete(ids);
      await sleep(300);
      assert.equal(cache.stats().backlogChunks, 2, 'quiet, but held');
      await cache.drain();
      assert.equal(cache.stats().backlogChunks, 0);
      assert.deepEqual(await local.list({ limit: 10 }), [...ids].sort());
      const third = newChunkId(Date.now() + 5);
      await cache.put(third, randomBytes(2_000));
      cache.expectDelete([third]);
      await cache.close();
      const reopened = await LocalChunkStore.open({ root: join(root, 'chunks') });
      assert.equal((await reopened.get(third)).byteLength, 2_000, 'close copied the held chunk');
      await reopened.close();
    });
  });

  it('refuses puts after close', async () => {
    await withRoot(async (root) => {
      const cache = await openCache(root, new GatedTier(await LocalChunkStore.open({ root: join(root, 'chunks') }), true));
      await cache.close();
      await rejectsWithCode(cache.put(newChunkId(Date.now()), new Uint8Array(1)), 'unavailable');
    });
  });
});
