import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool, POOLED_BYTES_MAX, POOLED_BYTES_MIN } from './buffer-pool.js';

describe('BufferPool', () => {
  it('lends a power-of-two buffer at least as large as asked, and not small or huge ones', () => {
    const pool = new BufferPool();
    assert.equal(pool.take(POOLED_BYTES_MIN - 1), undefined);
    assert.equal(pool.take(POOLED_BYTES_MAX + 1), undefined);
    assert.equal(pool.take(POOLED_BYTES_MIN)?.byteLength, POOLED_BYTES_MIN);
    assert.equal(pool.take(1_048_576 + 272)?.byteLength, 2_097_152);
    assert.equal(pool.take(POOLED_BYTES_MAX)?.byteLength, POOLED_BYTES_MAX);
  });

  it('never lends one buffer twice at once, and lends a given-back one again', () => {
    const pool = new BufferPool();
    const first = pool.take(100_000);
    const second = pool.take(100_000);
    assert.ok(first !== undefined && second !== undefined);
    assert.notEqual(first.buffer, second.buffer);
    pool.give(first);
    assert.equal(pool.idleBytes, 131_072);
    assert.equal(pool.take(120_000), first);
    assert.equal(pool.idleBytes, 0);
    assert.notEqual(pool.take(120_000), first, 'lent again only after it is given back');
  });

  it('ignores buffers it did not lend, and a second give of the same one', () => {
    const pool = new BufferPool();
    pool.give(new Uint8Array(131_072));
    pool.give(undefined);
    assert.equal(pool.idleBytes, 0);
    const lent = pool.take(100_000);
    pool.give(lent);
    pool.give(lent);
    assert.equal(pool.idleBytes, 131_072);
    assert.equal(pool.take(100_000), lent);
    assert.notEqual(pool.take(100_000), lent, 'the double give did not put it in the pool twice');
  });

  it('keeps at most its idle limit', () => {
    const pool = new BufferPool(3 * 1_048_576);
    const lent = Array.from({ length: 5 }, () => pool.take(1_048_576));
    for (const buffer of lent) pool.give(buffer);
    assert.equal(pool.idleBytes, 3 * 1_048_576);
  });
});
