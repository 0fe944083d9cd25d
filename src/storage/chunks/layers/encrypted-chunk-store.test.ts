import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Keyring } from '../../../keys/keyring.js';
import { kekFilePath, LocalKeyFileProvider } from '../../../keys/local-key-file.js';
import { newChunkId } from '../chunk-id.js';
import { chunkStoreContract, rejectsWithCode } from '../chunk-store.contract.js';
import type { ChunkId, ChunkStore } from '../chunk-store.js';
import { LocalChunkStore } from '../local/local-chunk-store.js';
import { MemoryChunkStore } from '../memory/memory-chunk-store.js';
import { EncryptedChunkStore } from './encrypted-chunk-store.js';
import { FRAME_BYTES, HEADER_BYTES, sealedBytes, TAG_BYTES } from './encrypted-chunk-format.js';

const CAPACITY_BYTES = 64 * 1024 * 1024;

interface Fixture {
  readonly root: string;
  readonly keyring: Keyring;
  readonly inner: MemoryChunkStore;
  readonly store: EncryptedChunkStore;
  cleanup(): Promise<void>;
}

async function openKeyring(root: string): Promise<Keyring> {
  const provider = await LocalKeyFileProvider.open({ file: kekFilePath(root), create: true });
  return Keyring.open({ dir: join(root, 'keys'), provider, create: true });
}

async function fixture(): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), 'enclave-encrypted-'));
  const keyring = await openKeyring(root);
  const inner = new MemoryChunkStore({ capacityBytes: CAPACITY_BYTES });
  const store = new EncryptedChunkStore({ inner, keyring });
  return {
    root,
    keyring,
    inner,
    store,
    cleanup: async () => {
      await store.close();
      await keyring.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

chunkStoreContract('encrypted(memory)', async () => {
  const { store, cleanup } = await fixture();
  return { store, cleanup };
});

chunkStoreContract('encrypted(local)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'enclave-encrypted-local-'));
  const keyring = await openKeyring(root);
  const store = new EncryptedChunkStore({ inner: await LocalChunkStore.open({ root: join(root, 'chunks') }), keyring });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await keyring.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

/** Replaces the sealed bytes of `id` in `inner` with `sealed`. */
async function overwrite(inner: ChunkStore, id: ChunkId, sealed: Uint8Array): Promise<void> {
  await inner.delete(id);
  await inner.put(id, sealed);
}

describe('EncryptedChunkStore: pooled sealed buffers', () => {
  it('concurrent puts and range gets over a store that reads into them all return their own bytes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-encrypted-pool-'));
    const keyring = await openKeyring(root);
    const store = new EncryptedChunkStore({ inner: await LocalChunkStore.open({ root: join(root, 'chunks') }), keyring });
    try {
      const sizes = [70_000, 200_000, 1_048_576, 1_500_000, 3 * FRAME_BYTES, 900_000, 65_536, 2_000_000];
      const chunks = sizes.map((size, index) => ({ id: newChunkId(1_700_000_000_000 + index), data: randomBytes(size) }));
      await Promise.all(chunks.map(({ id, data }) => store.put(id, data)));
      const reads = Array.from({ length: 64 }, (_, index) => {
        const { id, data } = chunks[index % chunks.length] as (typeof chunks)[number];
        const offset = (index * 37_813) % data.byteLength;
        const length = Math.min(data.byteLength - offset, 65_536 + ((index * 104_729) % 900_000));
        return { id, expected: data.subarray(offset, offset + length), got: store.get(id, { offset, length }) };
      });
      for (const { id, expected, got } of reads) assert.ok(Buffer.from(await got).equals(expected), `range of ${id}`);
      // A read that fails gives its buffer back too; the next reads still see their own bytes.
      await rejectsWithCode(store.get(newChunkId(1_800_000_000_000), { offset: 0, length: 500_000 }), 'not-found');
      const [first, second] = await Promise.all([store.get(chunks[3]!.id, { offset: 0, length: 1_000_000 }), store.get(chunks[2]!.id, { offset: 0, length: 1_000_000 })]);
      assert.ok(Buffer.from(first).equals(chunks[3]!.data.subarray(0, 1_000_000)));
      assert.ok(Buffer.from(second).equals(chunks[2]!.data.subarray(0, 1_000_000)));
    } finally {
      await store.close();
      await keyring.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('EncryptedChunkStore', () => {
  const fixtures: Fixture[] = [];
  const fresh = async () => {
    const next = await fixture();
    fixtures.push(next);
    return next;
  };
  after(async () => {
    for (const entry of fixtures) await entry.cleanup();
  });

  const marker = Buffer.from('PLAINTEXT-MARKER-0123456789');
  const markedData = (frames: number) => {
    const data = Buffer.alloc(frames * FRAME_BYTES + 1000);
    for (let offset = 0; offset + marker.length <= data.length; offset += 4096) marker.copy(data, offset);
    return data;
  };

  it('the sealed chunk contains no plaintext marker and has the documented size', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    const data = markedData(3);
    await store.put(id, data);
    const sealed = Buffer.from(await inner.get(id));
    assert.equal(sealed.byteLength, sealedBytes(data.byteLength));
    assert.equal(sealed.byteLength, HEADER_BYTES + data.byteLength + 4 * TAG_BYTES);
    assert.equal(sealed.indexOf(marker), -1);
    assert.equal(sealed.indexOf(marker.subarray(0, 8)), -1);
  });

  it('two puts of the same bytes produce different ciphertexts', async () => {
    const { store, inner } = await fresh();
    const [first, second] = [newChunkId(1), newChunkId(2)];
    await store.put(first, markedData(1));
    await store.put(second, markedData(1));
    assert.notDeepEqual(await inner.get(first), await inner.get(second));
  });

  it('flipping any one byte of a sealed chunk makes get reject with corrupt naming the chunk', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    const data = markedData(2);
    await store.put(id, data);
    const sealed = Buffer.from(await inner.get(id));
    // Header fields, first frame, a tag, the last frame and its tag.
    for (const position of [0, 5, 9, 15, 30, HEADER_BYTES, HEADER_BYTES + FRAME_BYTES + 3, sealed.length - TAG_BYTES - 1, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[position] = (tampered[position] ?? 0) ^ 0x01;
      await overwrite(inner, id, tampered);
      const error = await rejectsWithCode(store.get(id), 'corrupt');
      assert.ok(error.message.includes(id), error.message);
    }
    await overwrite(inner, id, sealed);
    assert.deepEqual(Buffer.from(await store.get(id)), data);
  });

  it('range gets detect tampering in the frames they read', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    await store.put(id, markedData(3));
    const sealed = Buffer.from(await inner.get(id));
    const secondFrame = HEADER_BYTES + FRAME_BYTES + TAG_BYTES + 10;
    sealed[secondFrame] = (sealed[secondFrame] ?? 0) ^ 0x80;
    await overwrite(inner, id, sealed);
    await rejectsWithCode(store.get(id, { offset: FRAME_BYTES + 5, length: 10 }), 'corrupt');
    assert.equal((await store.get(id, { offset: 0, length: 10 })).byteLength, 10);
  });

  it('swapping the sealed bytes of two chunks makes both reject with corrupt', async () => {
    const { store, inner } = await fresh();
    const [first, second] = [newChunkId(1), newChunkId(2)];
    await store.put(first, markedData(1));
    await store.put(second, markedData(1));
    const [sealedFirst, sealedSecond] = [await inner.get(first), await inner.get(second)];
    await overwrite(inner, first, sealedSecond);
    await overwrite(inner, second, sealedFirst);
    await rejectsWithCode(store.get(first), 'corrupt');
    await rejectsWithCode(store.get(second, { offset: 0, length: 1 }), 'corrupt');
  });

  it('swapping two frames within a chunk is corrupt', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    await store.put(id, Buffer.alloc(3 * FRAME_BYTES, 7));
    const sealed = Buffer.from(await inner.get(id));
    const frame = FRAME_BYTES + TAG_BYTES;
    const first = Buffer.from(sealed.subarray(HEADER_BYTES, HEADER_BYTES + frame));
    sealed.copy(sealed, HEADER_BYTES, HEADER_BYTES + frame, HEADER_BYTES + 2 * frame);
    first.copy(sealed, HEADER_BYTES + frame);
    await overwrite(inner, id, sealed);
    await rejectsWithCode(store.get(id), 'corrupt');
  });

  it('truncating the last frame, or whole frames with a fixed-up length, is corrupt', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    const data = markedData(2);
    await store.put(id, data);
    const sealed = Buffer.from(await inner.get(id));
    await overwrite(inner, id, sealed.subarray(0, sealed.length - 1));
    await rejectsWithCode(store.get(id), 'corrupt');
    await rejectsWithCode(store.get(id, { offset: data.length - 5, length: 5 }), 'corrupt');
    // Drop the last frame and claim the chunk ends at a frame boundary: that frame is not last.
    const shortened = Buffer.from(sealed.subarray(0, HEADER_BYTES + 2 * (FRAME_BYTES + TAG_BYTES)));
    shortened.writeBigUInt64BE(BigInt(2 * FRAME_BYTES), 24);
    await overwrite(inner, id, shortened);
    await rejectsWithCode(store.get(id), 'corrupt');
    await rejectsWithCode(store.get(id, { offset: 0, length: 0 }), 'corrupt');
    await overwrite(inner, id, sealed.subarray(0, 10));
    await rejectsWithCode(store.get(id), 'corrupt');
  });

  it('an empty chunk is sealed as one empty frame and authenticated on read', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    await store.put(id, new Uint8Array(0));
    const sealed = Buffer.from(await inner.get(id));
    assert.equal(sealed.byteLength, HEADER_BYTES + TAG_BYTES);
    assert.equal((await store.get(id)).byteLength, 0);
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
    await overwrite(inner, id, sealed);
    await rejectsWithCode(store.get(id), 'corrupt');
    await rejectsWithCode(store.get(id, { offset: 0, length: 0 }), 'corrupt');
  });

  it('after rotating the data key, new chunks use the new version and old ones stay readable', async () => {
    const { store, keyring } = await fresh();
    const [old, young] = [newChunkId(1), newChunkId(2)];
    await store.put(old, markedData(1));
    assert.equal(await store.keyVersionOf(old), 1);
    assert.equal(await keyring.rotateDataKey(), 2);
    await store.put(young, markedData(1));
    assert.equal(await store.keyVersionOf(young), 2);
    assert.deepEqual(Buffer.from(await store.get(old)), markedData(1));
    assert.deepEqual(Buffer.from(await store.get(young)), markedData(1));
  });

  it('chunks stay readable after a KEK rewrap and reopening the keyring with the new KEK', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-encrypted-rewrap-'));
    try {
      const keyring = await openKeyring(root);
      const inner = new MemoryChunkStore({ capacityBytes: CAPACITY_BYTES });
      const id = newChunkId(1);
      await new EncryptedChunkStore({ inner, keyring }).put(id, markedData(1));
      const next = await LocalKeyFileProvider.open({ file: join(root, 'keys', 'kek-next'), create: true });
      await keyring.rewrap(next);
      await keyring.close();
      const reopened = await Keyring.open({ dir: join(root, 'keys'), provider: next, create: false });
      assert.deepEqual(Buffer.from(await new EncryptedChunkStore({ inner, keyring: reopened }).get(id)), markedData(1));
      await reopened.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a chunk sealed under a key version the keyring lacks is corrupt', async () => {
    const { store, inner } = await fresh();
    const id = newChunkId(1);
    await store.put(id, new Uint8Array(5));
    const sealed = Buffer.from(await inner.get(id));
    sealed.writeUInt32BE(99, 8);
    await overwrite(inner, id, sealed);
    await rejectsWithCode(store.get(id), 'corrupt');
  });

  it('a chunk sealed by another keyring is corrupt', async () => {
    const { store, inner } = await fresh();
    const other = await fresh();
    const id = newChunkId(1);
    await store.put(id, new Uint8Array(5));
    await other.inner.put(id, await inner.get(id));
    await rejectsWithCode(other.store.get(id), 'corrupt');
  });
});
