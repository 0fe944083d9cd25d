import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InlineCache } from './inline-cache.js';

const bytes = (length: number, fill = 1) => new Uint8Array(length).fill(fill);

describe('inline cache', () => {
  it('answers what was set, and nothing for an unknown id', () => {
    const cache = new InlineCache(1024);
    cache.set('a', bytes(10, 7));
    assert.deepEqual(cache.get('a'), bytes(10, 7));
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.bytes, 10);
  });

  it('stays within its byte bound by dropping the least recently used first', () => {
    const cache = new InlineCache(300);
    cache.set('a', bytes(100));
    cache.set('b', bytes(100));
    cache.set('c', bytes(100));
    assert.ok(cache.get('a') !== undefined, 'a is now the most recently used');
    cache.set('d', bytes(100));
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.ok(cache.get('a') !== undefined && cache.get('c') !== undefined && cache.get('d') !== undefined);
    assert.equal(cache.bytes, 300);
    cache.set('e', bytes(250));
    assert.equal(cache.bytes, 250);
    assert.equal(cache.get('a'), undefined);
  });

  it('ignores a value larger than its bound, counts a re-set once, and forgets on delete', () => {
    const cache = new InlineCache(100);
    cache.set('big', bytes(101));
    assert.equal(cache.get('big'), undefined);
    cache.set('a', bytes(40));
    cache.set('a', bytes(60));
    assert.equal(cache.bytes, 60);
    cache.delete('a');
    cache.delete('missing');
    assert.equal(cache.bytes, 0);
    assert.equal(cache.get('a'), undefined);
  });
});
