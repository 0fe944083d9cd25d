import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Keyring } from '../keys/keyring.js';
import { LocalKeyFileProvider } from '../keys/local-key-file.js';
import { newChunkId } from '../storage/chunks/chunk-id.js';
import type { ChunkStore } from '../storage/chunks/chunk-store.js';
import { EncryptedChunkStore } from '../storage/chunks/layers/encrypted-chunk-store.js';
import { WriteCacheChunkStore } from '../storage/chunks/layers/write-cache.js';
import { LocalChunkStore } from '../storage/chunks/local/local-chunk-store.js';
import { openChunkStore, writeCacheGeometry } from './chunk-stores.js';

/** The local folder, except that puts never finish: whatever reaches the cache stays only there. */
function stalledTier(local: LocalChunkStore): ChunkStore {
  return {
    put: () => new Promise<void>(() => undefined),
    get: (id, range) => local.get(id, range),
    delete: (id) => local.delete(id),
    list: (options) => local.list(options),
    capacity: () => local.capacity(),
    close: () => local.close(),
  };
}

describe('writeCacheGeometry', () => {
  it('cuts the default 2 GiB into 64 segments of 32 MiB, a small cache into 8, and caps the count at 256', () => {
    const mib = 1_048_576;
    assert.deepEqual(writeCacheGeometry(2048 * mib), { segmentBytes: 32 * mib, segmentCount: 64 });
    assert.deepEqual(writeCacheGeometry(16 * mib), { segmentBytes: 2 * mib, segmentCount: 8 });
    assert.deepEqual(writeCacheGeometry(1 * mib), { segmentBytes: 1 * mib, segmentCount: 2 });
    assert.deepEqual(writeCacheGeometry(8192 * mib), { segmentBytes: 32 * mib, segmentCount: 256 });
    assert.deepEqual(writeCacheGeometry(65_536 * mib), { segmentBytes: 256 * mib, segmentCount: 256 });
    const odd = writeCacheGeometry(10_000 * mib);
    assert.ok(odd.segmentCount <= 256 && odd.segmentBytes * odd.segmentCount <= 10_000 * mib, JSON.stringify(odd));
  });
});

describe('openChunkStore', () => {
  it('with the write cache turned off, still replays what an earlier run left in it, and writes new chunks straight to the folder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-chunk-stores-'));
    const logger = pino({ level: 'silent' });
    const folders = { chunksDir: join(root, 'chunks'), writeCacheDir: join(root, 'write-cache') };
    const provider = await LocalKeyFileProvider.open({ file: join(root, 'kek'), create: true });
    const keyring = await Keyring.open({ dir: join(root, 'keys'), provider, create: true });
    try {
      // An earlier run with the cache on dies while a chunk is acknowledged but not yet copied.
      const earlier = new EncryptedChunkStore({
        inner: await WriteCacheChunkStore.open({ dir: folders.writeCacheDir, tier: stalledTier(await LocalChunkStore.open({ root: folders.chunksDir })), segmentBytes: 1_048_576, segmentCount: 2 }),
        keyring,
      });
      const kept = newChunkId(Date.now());
      const data = randomBytes(10_000);
      await earlier.put(kept, data);

      const store = await openChunkStore({ folders, keyring, writeCacheBytes: 0, logger });
      assert.deepEqual(Buffer.from(await store.get(kept)), data, 'served from the cache it found');
      const fresh = newChunkId(Date.now() + 1);
      await store.put(fresh, randomBytes(100));
      const folder = await LocalChunkStore.open({ root: folders.chunksDir });
      assert.ok((await folder.get(fresh)).byteLength > 100, 'a new chunk is in the folder as soon as its put resolves');
      await store.close();
      assert.ok((await folder.get(kept)).byteLength > 10_000, 'the left-behind chunk was copied into the folder');
      const again = await openChunkStore({ folders, keyring, writeCacheBytes: 0, logger });
      assert.deepEqual(Buffer.from(await again.get(kept)), data);
      await again.close();
    } finally {
      await keyring.close();
      await provider.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
