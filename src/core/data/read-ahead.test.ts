import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryChunkStore } from '../../storage/chunks/memory/memory-chunk-store.js';
import type { ByteRange, ChunkStore } from '../../storage/chunks/chunk-store.js';
import { openCoreFixture } from '../testing/core-fixture.test-support.js';
import { ReadAhead } from './read-ahead.js';
import { SEGMENT_BYTES } from './segments.js';

/** A memory chunk store that counts the ranges read from it. */
function countingStore(): { store: ChunkStore; gets: ByteRange[] } {
  const inner = new MemoryChunkStore({ capacityBytes: 1024 ** 3 });
  const gets: ByteRange[] = [];
  const store: ChunkStore = {
    put: (id, data) => inner.put(id, data),
    get: (id, range) => {
      gets.push(range ?? { offset: 0, length: -1 });
      return inner.get(id, range);
    },
    delete: (id) => inner.delete(id),
    list: (options) => inner.list(options),
    capacity: () => inner.capacity(),
    close: () => inner.close(),
  };
  return { store, gets };
}

/** Byte i of the file is (i * 7 + seed) mod 251, so any misplaced byte shows. */
function pattern(offset: number, length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index += 1) bytes[index] = ((offset + index) * 7 + seed) % 251;
  return bytes;
}

const CHUNK = '0123456789abcdef0123456789abcdef';

describe('read-ahead', () => {
  it('fetches ahead only for a read that continues the previous one (or starts at 0), up to the window and the size', () => {
    const readAhead = new ReadAhead(new MemoryChunkStore({ capacityBytes: 1024 }), { windowBytes: 100, bytesMax: 1_000, streamsMax: 4 });
    assert.deepEqual(readAhead.advance('f', 0, 10, 1_000), { offset: 10, length: 100 });
    assert.deepEqual(readAhead.advance('f', 10, 10, 1_000), { offset: 110, length: 10 }, 'only what is not fetched yet');
    assert.equal(readAhead.advance('f', 500, 10, 1_000), undefined, 'a jump is not sequential');
    assert.deepEqual(readAhead.advance('f', 510, 10, 1_000), { offset: 520, length: 100 });
    assert.equal(readAhead.advance('f', 520, 10, 560), undefined, 'nothing past the end of the file');
    assert.equal(readAhead.advance('g', 40, 10, 1_000), undefined, 'another file has its own position');
  });

  it('hands a fetched range to the read that asks for it once, and stays within its byte bound', async () => {
    const { store, gets } = countingStore();
    await store.put(CHUNK, pattern(0, 300));
    const readAhead = new ReadAhead(store, { windowBytes: 100, bytesMax: 150, streamsMax: 4 });
    readAhead.prefetch([{ chunkId: CHUNK, offset: 0, length: 100 }]);
    readAhead.prefetch([{ chunkId: CHUNK, offset: 100, length: 100 }]);
    assert.equal(readAhead.bytesHeld, 100, 'the oldest range was dropped to make room');
    assert.equal(await readAhead.take(CHUNK, { offset: 0, length: 100 }), undefined);
    const part = await readAhead.take(CHUNK, { offset: 120, length: 30 });
    assert.deepEqual(part, { bytes: pattern(120, 30), owned: false });
    const rest = await readAhead.take(CHUNK, { offset: 150, length: 50 });
    assert.deepEqual(rest?.bytes, pattern(150, 50));
    assert.equal(readAhead.bytesHeld, 0, 'read to its end, the range leaves the cache');
    assert.equal(gets.length, 2);
  });

  it('forgets a range whose fetch failed, so the read asks the store and sees the error itself', async () => {
    const readAhead = new ReadAhead(new MemoryChunkStore({ capacityBytes: 1024 }), { windowBytes: 100, bytesMax: 1_000, streamsMax: 4 });
    readAhead.prefetch([{ chunkId: CHUNK, offset: 0, length: 10 }]);
    assert.equal(await readAhead.take(CHUNK, { offset: 0, length: 10 }), undefined);
    assert.equal(readAhead.bytesHeld, 0);
  });

  it('reads a file in order with each segment fetched once, and never answers bytes a later write replaced', async () => {
    const { store, gets } = countingStore();
    const fx = await openCoreFixture({ chunks: store });
    try {
      const root = await fx.fs.root(fx.root);
      const { handle } = await fx.fs.create(fx.root, root, 'big', { mode: 0o644 });
      const segments = 8;
      for (let index = 0; index < segments; index += 1) await fx.fs.write(fx.root, handle, { offset: index * SEGMENT_BYTES, data: pattern(index * SEGMENT_BYTES, SEGMENT_BYTES) });
      gets.length = 0;
      // Segments 1..4 are fetched ahead by now; overwrite part of segment 3 before it is read.
      const first = await fx.fs.read(fx.root, handle, { offset: 0, length: SEGMENT_BYTES });
      assert.deepEqual(first.data, pattern(0, SEGMENT_BYTES));
      assert.equal(first.attributes?.size, segments * SEGMENT_BYTES, 'the read answers the attributes it saw');
      assert.equal(gets.length, 5, 'segments 1 to 4 are being fetched ahead');
      const changedAt = 3 * SEGMENT_BYTES + 1000;
      await fx.fs.write(fx.root, handle, { offset: changedAt, data: pattern(changedAt, 5000, 1) });
      for (let index = 1; index < segments; index += 1) {
        const { data, eof } = await fx.fs.read(fx.root, handle, { offset: index * SEGMENT_BYTES, length: SEGMENT_BYTES });
        const expected = pattern(index * SEGMENT_BYTES, SEGMENT_BYTES);
        if (index === 3) expected.set(pattern(changedAt, 5000, 1), 1000);
        assert.deepEqual(data, expected, `segment ${index}`);
        assert.equal(eof, index === segments - 1);
      }
      const wholeSegmentGets = gets.filter((range) => range.length === SEGMENT_BYTES).length;
      assert.equal(wholeSegmentGets, segments, 'each segment was read from the store once');
    } finally {
      await fx.close();
    }
  });

  it('answers correct bytes at any offset and length, sequential or not', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const { handle } = await fx.fs.create(fx.root, root, 'odd', { mode: 0o644 });
      const size = 3 * SEGMENT_BYTES + 12_345;
      await fx.fs.write(fx.root, handle, { offset: 0, data: pattern(0, size) });
      const reads = [
        [0, 70_000],
        [70_000, 1_000_000],
        [1_070_000, 1_048_576],
        [2_118_576, 2_000_000],
        [5, 3],
        [SEGMENT_BYTES - 1, 2],
        [size - 10, 100],
      ] as const;
      for (const [offset, length] of reads) {
        const { data } = await fx.fs.read(fx.root, handle, { offset, length });
        assert.deepEqual(data, pattern(offset, Math.max(0, Math.min(length, size - offset))), `read at ${offset}`);
      }
    } finally {
      await fx.close();
    }
  });
});
