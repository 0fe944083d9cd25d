import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpiringCache } from './expiring-cache.js';

describe('expiring cache', () => {
  it('answers a fresh entry synchronously and forgets it at its TTL', async () => {
    const clock = { now: 0 };
    const cache = new ExpiringCache<string, number | undefined>({ entriesMax: 10, nowMs: () => clock.now });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return undefined;
    };
    assert.equal(await cache.get('unknown', load, () => 1_000), undefined);
    assert.equal(cache.get('unknown', load, () => 1_000), undefined, 'a cached undefined is an answer, not a miss');
    assert.deepEqual(cache.peek('unknown'), { value: undefined, expiresAtMs: 1_000 });
    clock.now = 1_000;
    assert.equal(cache.peek('unknown'), undefined);
    assert.ok(cache.get('unknown', load, () => 1_000) instanceof Promise);
    assert.equal(loads, 2);
  });

  it('shares one load among concurrent misses, and keeps nothing when the load fails or the TTL is 0', async () => {
    const cache = new ExpiringCache<string, number>({ entriesMax: 10, nowMs: () => 0 });
    let loads = 0;
    const failing = async (): Promise<number> => {
      loads += 1;
      throw new Error('store closed');
    };
    const results = await Promise.allSettled([cache.get('k', failing, () => 1_000), cache.get('k', failing, () => 1_000)]);
    assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected']);
    assert.equal(loads, 1);
    assert.equal(cache.isLoading('k'), false);
    assert.equal(cache.peek('k'), undefined);
    assert.equal(await cache.get('k', async () => 5, () => 0), 5);
    assert.equal(cache.peek('k'), undefined);
  });

  it('holds at most entriesMax entries, dropping the one stored longest ago', () => {
    const cache = new ExpiringCache<number, number>({ entriesMax: 3, nowMs: () => 0 });
    for (let key = 1; key <= 5; key++) cache.set(key, key * 10, 1_000);
    assert.equal(cache.size, 3);
    assert.equal(cache.peek(2), undefined);
    assert.equal(cache.peek(3)?.value, 30);
    assert.equal(cache.peek(5)?.value, 50);
  });
});
