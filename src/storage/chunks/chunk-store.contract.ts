import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { newChunkId } from './chunk-id.js';
import { CHUNK_BYTES_MAX, ChunkStoreError } from './chunk-store.js';
import type { ChunkId, ChunkStore, ChunkStoreErrorCode } from './chunk-store.js';
import { LAYER_OVERHEAD_BYTES_MAX } from './chunk-checks.js';

export interface OpenedChunkStore {
  readonly store: ChunkStore;
  cleanup(): Promise<void>;
}

/** Rejects with a ChunkStoreError of `code`, and nothing else. */
export async function rejectsWithCode(promise: Promise<unknown>, code: ChunkStoreErrorCode): Promise<ChunkStoreError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ChunkStoreError, `expected ChunkStoreError '${code}', got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ChunkStoreError '${code}', but it resolved`);
}

/** Distinct ids whose creation times increase, so their order is known. */
function idsInOrder(count: number, startMs = 1_700_000_000_000): ChunkId[] {
  return Array.from({ length: count }, (_, index) => newChunkId(startMs + index));
}

function bytes(length: number, seed = 1): Uint8Array {
  const data = new Uint8Array(length);
  for (let index = 0; index < length; index += 1) data[index] = (index * 31 + seed * 7) & 0xff;
  return data;
}

const INVALID_IDS = ['', '../../../../etc/passwd', '0123456789ABCDEF0123456789ABCDEF', '0123456789abcdef0123456789abcde', '0123456789abcdef0123456789abcdef0', '01/3456789abcdef0123456789abcdef', '0123456789abcdef\u00000123456789abcde'];

/**
 * The ChunkStore contract (chunk-store.ts), registered as node:test cases. Every backend and
 * layer runs it; `open` returns an empty store and cleans it up. Each case opens its own store,
 * so cases are independent.
 */
export function chunkStoreContract(name: string, open: () => Promise<OpenedChunkStore>): void {
  describe(`ChunkStore contract: ${name}`, () => {
    let opened: OpenedChunkStore[] = [];
    const fresh = async (): Promise<ChunkStore> => {
      const next = await open();
      opened.push(next);
      return next.store;
    };
    after(async () => {
      for (const entry of opened) await entry.cleanup();
      opened = [];
    });

    it('get returns exactly what put stored, for sizes around frame boundaries', async () => {
      const store = await fresh();
      const sizes = [0, 1, 4095, 65535, 65536, 65537, 131072, 200_003];
      const ids = idsInOrder(sizes.length);
      await Promise.all(sizes.map((size, index) => store.put(ids[index] as ChunkId, bytes(size, index))));
      for (const [index, size] of sizes.entries()) {
        assert.deepEqual(await store.get(ids[index] as ChunkId), bytes(size, index));
      }
    });

    it('a chunk of CHUNK_BYTES_MAX round-trips; a much larger one is invalid', async () => {
      const store = await fresh();
      const [id, tooBig] = idsInOrder(2) as [ChunkId, ChunkId];
      const data = randomBytes(CHUNK_BYTES_MAX);
      await store.put(id, data);
      assert.ok(Buffer.from(await store.get(id)).equals(data));
      await rejectsWithCode(store.put(tooBig, new Uint8Array(CHUNK_BYTES_MAX + LAYER_OVERHEAD_BYTES_MAX + 1)), 'invalid');
      await rejectsWithCode(store.get(tooBig), 'not-found');
    });

    it('put of an existing id rejects with exists and keeps the stored chunk', async () => {
      const store = await fresh();
      const [id] = idsInOrder(1) as [ChunkId];
      await store.put(id, bytes(100, 1));
      await rejectsWithCode(store.put(id, bytes(50, 2)), 'exists');
      assert.deepEqual(await store.get(id), bytes(100, 1));
    });

    it('get of a missing chunk rejects with not-found', async () => {
      const store = await fresh();
      const [id] = idsInOrder(1) as [ChunkId];
      await rejectsWithCode(store.get(id), 'not-found');
      await rejectsWithCode(store.get(id, { offset: 0, length: 10 }), 'not-found');
    });

    it('range get returns the bytes of the range, clipped at the end', async () => {
      const store = await fresh();
      const [id, empty] = idsInOrder(2) as [ChunkId, ChunkId];
      const data = bytes(200_000, 3);
      await store.put(id, data);
      await store.put(empty, new Uint8Array(0));
      const cases: [number, number][] = [[0, 10], [10, 0], [65530, 20], [65536, 65536], [1, 199_998], [199_990, 100], [200_000, 5], [500_000, 5], [0, Number.MAX_SAFE_INTEGER]];
      for (const [offset, length] of cases) {
        const expected = data.subarray(Math.min(offset, data.length), Math.min(data.length, offset + length));
        assert.deepEqual(await store.get(id, { offset, length }), expected, `range ${offset}+${length}`);
      }
      assert.equal((await store.get(empty, { offset: 0, length: 10 })).byteLength, 0);
      assert.equal((await store.get(empty, { offset: 5, length: 0 })).byteLength, 0);
    });

    it('a malformed range rejects with invalid', async () => {
      const store = await fresh();
      const [id] = idsInOrder(1) as [ChunkId];
      await store.put(id, bytes(10));
      for (const range of [{ offset: -1, length: 1 }, { offset: 0, length: -1 }, { offset: 0.5, length: 1 }, { offset: 0, length: Number.NaN }, { offset: 2 ** 60, length: 1 }]) {
        await rejectsWithCode(store.get(id, range), 'invalid');
      }
    });

    it('delete removes a chunk and is idempotent; the id can be put again', async () => {
      const store = await fresh();
      const [id, never] = idsInOrder(2) as [ChunkId, ChunkId];
      await store.put(id, bytes(10, 1));
      await store.delete(id);
      await rejectsWithCode(store.get(id), 'not-found');
      await store.delete(id);
      await store.delete(never);
      await store.put(id, bytes(20, 2));
      assert.deepEqual(await store.get(id), bytes(20, 2));
    });

    it('list pages through ids in ascending order after `after`, at most `limit` at a time', async () => {
      const store = await fresh();
      // Spread over several fan-out directories: times far apart change the leading hex digits.
      const ids = [
        ...idsInOrder(5, 0x0000_0000_0000),
        ...idsInOrder(5, 0x00ff_0000_0000),
        ...idsInOrder(5, 0x1234_5678_0000),
        ...idsInOrder(5, 0xffff_ffff_0000),
      ];
      // Put out of order, so a store that lists in put order fails.
      const shuffled = [...ids].reverse();
      await Promise.all(shuffled.map((id) => store.put(id, bytes(3))));
      const sorted = [...ids].sort();
      assert.deepEqual(await store.list({ limit: 100 }), sorted);
      const paged: ChunkId[] = [];
      let cursor: ChunkId | undefined;
      for (;;) {
        const page = await store.list({ limit: 3, ...(cursor === undefined ? {} : { after: cursor }) });
        assert.ok(page.length <= 3);
        if (page.length === 0) break;
        paged.push(...page);
        cursor = page[page.length - 1];
      }
      assert.deepEqual(paged, sorted);
      // `after` need not name a stored chunk.
      const between = newChunkId(0x1234_5678_0002, () => Buffer.alloc(10, 0xff));
      assert.deepEqual(await store.list({ after: between, limit: 100 }), sorted.filter((id) => id > between));
      assert.deepEqual(await store.list({ after: sorted[sorted.length - 1], limit: 5 }), []);
    });

    it('list of an empty store is empty; a bad limit or after is invalid', async () => {
      const store = await fresh();
      assert.deepEqual(await store.list({ limit: 10 }), []);
      for (const limit of [0, -1, 1.5, 10_001]) await rejectsWithCode(store.list({ limit }), 'invalid');
      await rejectsWithCode(store.list({ after: '../x', limit: 1 }), 'invalid');
    });

    it('many puts in parallel all land', async () => {
      const store = await fresh();
      const ids = idsInOrder(64);
      await Promise.all(ids.map((id, index) => store.put(id, bytes(1000 + index, index))));
      for (const [index, id] of ids.entries()) assert.deepEqual(await store.get(id), bytes(1000 + index, index));
      assert.deepEqual(await store.list({ limit: 100 }), [...ids].sort());
    });

    it('parallel puts of one id: exactly one wins, the rest reject with exists', async () => {
      const store = await fresh();
      const [id] = idsInOrder(1) as [ChunkId];
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, seed) => store.put(id, bytes(70_000, seed))));
      const winners = results.flatMap((result, seed) => (result.status === 'fulfilled' ? [seed] : []));
      assert.equal(winners.length, 1);
      for (const result of results) {
        if (result.status === 'rejected') {
          assert.ok(result.reason instanceof ChunkStoreError && result.reason.code === 'exists', String(result.reason));
        }
      }
      assert.deepEqual(await store.get(id), bytes(70_000, winners[0]));
    });

    it('invalid ids are rejected with invalid by every operation', async () => {
      const store = await fresh();
      for (const id of INVALID_IDS) {
        await rejectsWithCode(store.put(id, bytes(1)), 'invalid');
        await rejectsWithCode(store.get(id), 'invalid');
        await rejectsWithCode(store.delete(id), 'invalid');
      }
      assert.deepEqual(await store.list({ limit: 10 }), []);
    });

    it('stored chunks are copies: changing the buffer put or got changes nothing stored', async () => {
      const store = await fresh();
      const [id] = idsInOrder(1) as [ChunkId];
      const data = bytes(100, 4);
      await store.put(id, data);
      data.fill(0);
      const first = await store.get(id);
      assert.deepEqual(first, bytes(100, 4));
      first.fill(9);
      assert.deepEqual(await store.get(id), bytes(100, 4));
      const slice = await store.get(id, { offset: 10, length: 10 });
      slice.fill(9);
      assert.deepEqual(await store.get(id), bytes(100, 4));
    });

    it('get may read into the caller\'s buffer, and keeps nothing of it: reusing it changes nothing stored', async () => {
      const store = await fresh();
      const [id] = idsInOrder(1) as [ChunkId];
      const data = bytes(200_000, 6);
      await store.put(id, data);
      const into = new Uint8Array(300_000).fill(0xee);
      const got = await store.get(id, { offset: 1_000, length: 100_000 }, { into });
      assert.deepEqual(Uint8Array.from(got), data.subarray(1_000, 101_000));
      if (got.buffer === into.buffer) assert.equal(got.byteOffset, into.byteOffset, 'a view of into starts at its start');
      into.fill(0);
      assert.deepEqual(Uint8Array.from(await store.get(id, { offset: 1_000, length: 100_000 })), data.subarray(1_000, 101_000));
      assert.deepEqual(Uint8Array.from(await store.get(id)), data);
      assert.deepEqual(Uint8Array.from(await store.get(id, { offset: 150_000, length: 100_000 }, { into })), data.subarray(150_000), 'clipped at the end');
      assert.equal((await store.get(id, { offset: 250_000, length: 100_000 }, { into })).byteLength, 0, 'a range past the end is empty');
      const small = new Uint8Array(10).fill(0xee);
      assert.deepEqual(Uint8Array.from(await store.get(id, { offset: 0, length: 100 }, { into: small })), data.subarray(0, 100));
      assert.deepEqual(small, new Uint8Array(10).fill(0xee), 'a buffer too small is not written');
    });

    it('capacity reports total and free bytes', async () => {
      const store = await fresh();
      const { totalBytes, freeBytes } = await store.capacity();
      assert.ok(Number.isSafeInteger(totalBytes) && totalBytes > 0, `totalBytes ${totalBytes}`);
      assert.ok(Number.isSafeInteger(freeBytes) && freeBytes >= 0 && freeBytes <= totalBytes, `freeBytes ${freeBytes}`);
    });

    describe('behaves like a map under random operation sequences', () => {
      let store: ChunkStore;
      before(async () => {
        store = await fresh();
      });
      it('matches the reference model', async () => {
        const pool = idsInOrder(6);
        const operation = fc.oneof(
          fc.record({ kind: fc.constant('put' as const), id: fc.constantFrom(...pool), size: fc.nat(140_000), seed: fc.nat(255) }),
          fc.record({ kind: fc.constant('get' as const), id: fc.constantFrom(...pool), offset: fc.nat(150_000), length: fc.nat(150_000) }),
          fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...pool) }),
          fc.record({ kind: fc.constant('list' as const), after: fc.option(fc.constantFrom(...pool), { nil: undefined }), limit: fc.integer({ min: 1, max: 4 }) }),
        );
        await fc.assert(fc.asyncProperty(fc.array(operation, { maxLength: 25 }), async (operations) => {
          const model = new Map<ChunkId, Uint8Array>();
          for (const id of pool) await store.delete(id);
          for (const op of operations) {
            if (op.kind === 'put') {
              const data = bytes(op.size, op.seed);
              if (model.has(op.id)) await rejectsWithCode(store.put(op.id, data), 'exists');
              else {
                await store.put(op.id, data);
                model.set(op.id, data);
              }
            } else if (op.kind === 'get') {
              const expected = model.get(op.id);
              if (expected === undefined) await rejectsWithCode(store.get(op.id, op), 'not-found');
              else assert.deepEqual(await store.get(op.id, op), expected.subarray(Math.min(op.offset, expected.length), Math.min(expected.length, op.offset + op.length)));
            } else if (op.kind === 'delete') {
              await store.delete(op.id);
              model.delete(op.id);
            } else {
              const expected = [...model.keys()].sort().filter((id) => op.after === undefined || id > op.after).slice(0, op.limit);
              assert.deepEqual(await store.list({ limit: op.limit, ...(op.after === undefined ? {} : { after: op.after }) }), expected);
            }
          }
        }), { numRuns: 40 });
      });
    });
  });
}
