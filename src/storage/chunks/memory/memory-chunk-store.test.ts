import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkStoreContract, rejectsWithCode } from '../chunk-store.contract.js';
import { newChunkId } from '../chunk-id.js';
import { MemoryChunkStore } from './memory-chunk-store.js';

const CAPACITY_BYTES = 64 * 1024 * 1024;

chunkStoreContract('memory', async () => {
  const store = new MemoryChunkStore({ capacityBytes: CAPACITY_BYTES });
  return { store, cleanup: () => store.close() };
});

describe('MemoryChunkStore', () => {
  it('a put beyond capacity rejects with unavailable and stores nothing', async () => {
    const store = new MemoryChunkStore({ capacityBytes: 100 });
    const first = newChunkId(1);
    const second = newChunkId(2);
    await store.put(first, new Uint8Array(60));
    await rejectsWithCode(store.put(second, new Uint8Array(41)), 'unavailable');
    await rejectsWithCode(store.get(second), 'not-found');
    assert.deepEqual(await store.capacity(), { totalBytes: 100, freeBytes: 40 });
    await store.delete(first);
    assert.deepEqual(await store.capacity(), { totalBytes: 100, freeBytes: 100 });
  });

  it('operations after close reject with unavailable', async () => {
    const store = new MemoryChunkStore({ capacityBytes: 100 });
    await store.close();
    await rejectsWithCode(store.get(newChunkId(1)), 'unavailable');
  });
});
