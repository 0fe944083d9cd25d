import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FILE_HANDLE_BYTES, FileHandleCodec } from './file-handle.js';

describe('NFS file handles', () => {
  const codec = new FileHandleCodec(randomBytes(32));

  it('round-trip export, node, generation and snapshot within 64 bytes', () => {
    const handle = codec.encode(7, { id: 2 ** 40 + 3, generation: 9, snapshot: 4 });
    assert.ok(handle.byteLength <= 64);
    assert.deepEqual(codec.decode(handle), { exportId: 7, node: { id: 2 ** 40 + 3, generation: 9, snapshot: 4 } });
    assert.deepEqual(codec.decode(codec.encode(1, { id: 5, generation: 1 })), { exportId: 1, node: { id: 5, generation: 1 } });
  });

  it('keep the live tree, a .snapshot directory (snapshot 0) and snapshot ids up to 2^32 apart', () => {
    for (const snapshot of [undefined, 0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40]) {
      const node = snapshot === undefined ? { id: 9, generation: 2 } : { id: 9, generation: 2, snapshot };
      assert.deepEqual(codec.decode(codec.encode(3, node)), { exportId: 3, node });
    }
    assert.notDeepEqual(codec.encode(3, { id: 9, generation: 2 }), codec.encode(3, { id: 9, generation: 2, snapshot: 0 }));
  });

  it('encode a node to the same bytes whether remembered or computed, past the cache bound too', () => {
    const key = randomBytes(32);
    const remembering = new FileHandleCodec(key);
    const nodes = Array.from({ length: 20_000 }, (_, index) => ({ id: index + 1, generation: index % 3 }));
    const first = nodes.map((node) => Uint8Array.from(remembering.encode(2, node)));
    for (const index of [0, 1, 9_999, 16_383, 16_384, 19_999]) {
      const node = nodes[index] as { id: number; generation: number };
      const fresh = Uint8Array.from(new FileHandleCodec(key).encode(2, node));
      assert.deepEqual(Uint8Array.from(remembering.encode(2, node)), fresh);
      assert.deepEqual(first[index], fresh);
      assert.deepEqual(new FileHandleCodec(key).decode(fresh), { exportId: 2, node });
    }
    assert.notDeepEqual(remembering.encode(2, { id: 1, generation: 0 }), remembering.encode(3, { id: 1, generation: 0 }));
    assert.notDeepEqual(remembering.encode(2, { id: 1, generation: 0 }), remembering.encode(2, { id: 1, generation: 0, snapshot: 0 }));
  });

  it('refuses every single-bit change, other sizes and another instance key', () => {
    const handle = codec.encode(7, { id: 42, generation: 1 });
    for (let bit = 0; bit < FILE_HANDLE_BYTES * 8; bit += 1) {
      const altered = Uint8Array.from(handle);
      altered[bit >> 3] = (altered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      assert.equal(codec.decode(altered), undefined, `bit ${bit}`);
    }
    assert.equal(codec.decode(handle.subarray(0, 49)), undefined);
    assert.equal(new FileHandleCodec(randomBytes(32)).decode(handle), undefined);
  });
});
