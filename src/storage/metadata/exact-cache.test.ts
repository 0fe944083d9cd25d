import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExactCache } from './exact-cache.js';

/** A promise and its resolver, to hold a load or a write open while the test interleaves others. */
function gate<T>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe('ExactCache', () => {
  it('loads once, serves from memory, and does not keep misses', async () => {
    const cache = new ExactCache<string, string>({ entriesMax: 4 });
    let loads = 0;
    const load = async () => (loads++, 'value');
    assert.equal(await cache.get('a', load), 'value');
    assert.equal(await cache.get('a', load), 'value');
    assert.equal(loads, 1);
    let misses = 0;
    assert.equal(await cache.get('unknown', async () => (misses++, undefined)), undefined);
    assert.equal(await cache.get('unknown', async () => (misses++, undefined)), undefined);
    assert.equal(misses, 2, 'an unknown key reads every time');
    assert.equal(cache.size, 1);
  });

  it('is bounded, dropping the least recently used entry', async () => {
    const cache = new ExactCache<string, number>({ entriesMax: 2 });
    await cache.get('a', async () => 1);
    await cache.get('b', async () => 2);
    await cache.get('a', async () => assert.fail('a is cached'));
    await cache.get('c', async () => 3);
    assert.equal(cache.size, 2);
    assert.equal(await cache.get('a', async () => assert.fail('a was used last, b goes first')), 1);
    assert.equal(await cache.get('b', async () => 20), 20, 'b was dropped and is read again');
  });

  it('a mutation drops the entries it names, before and after the write, even when the write fails', async () => {
    const cache = new ExactCache<string, number>({ entriesMax: 8 });
    await cache.get('a', async () => 1);
    await cache.get('b', async () => 2);
    await cache.mutate(['a'], async () => {
      assert.equal(await cache.get('a', async () => 10), 10, 'not served from memory while it is being written');
    });
    assert.equal(await cache.get('a', async () => 11), 11, 'what was read during the write is not kept');
    assert.equal(await cache.get('b', async () => assert.fail('b is untouched')), 2);
    await assert.rejects(cache.mutate(['a'], async () => Promise.reject(new Error('rolled back'))), /rolled back/);
    assert.equal(await cache.get('a', async () => 12), 12);
    await cache.mutate('all', async () => undefined);
    assert.equal(cache.size, 0);
  });

  it('a fill that began before a mutation is not stored, even if it ends after the mutation did', async () => {
    const cache = new ExactCache<string, string>({ entriesMax: 8 });
    const read = gate<string>();
    // The fill reads the record as it was before the revocation...
    const fill = cache.get('key', () => read.promise);
    // ...the revocation commits and resolves meanwhile...
    await cache.mutate(['key'], async () => undefined);
    // ...and then the stale read lands.
    read.open('revoked secret');
    assert.equal(await fill, 'revoked secret', 'the racing request itself may still see the old record');
    assert.equal(await cache.get('key', async () => undefined), undefined, 'but it is not stored for the next one');
  });

  it('a fill that began during a mutation is not stored, whichever ends first', async () => {
    const cache = new ExactCache<string, string>({ entriesMax: 8 });
    const write = gate<void>();
    const mutation = cache.mutate(['key'], () => write.promise);
    assert.equal(await cache.get('key', async () => 'old'), 'old');
    write.open();
    await mutation;
    assert.equal(await cache.get('key', async () => 'new'), 'new', 'the fill that ended during the write was dropped after it');

    const write2 = gate<void>();
    const read = gate<string>();
    const mutation2 = cache.mutate(['key'], () => write2.promise);
    const fill = cache.get('key', () => read.promise);
    write2.open();
    await mutation2;
    read.open('old');
    await fill;
    assert.equal(await cache.get('key', async () => 'newer'), 'newer', 'the fill that ended after the write was not stored');
  });

  it('a mutation of another key also voids fills in flight (one generation per cache)', async () => {
    const cache = new ExactCache<string, string>({ entriesMax: 8 });
    const read = gate<string>();
    const fill = cache.get('a', () => read.promise);
    await cache.mutate(['b'], async () => undefined);
    read.open('value');
    await fill;
    let loads = 0;
    await cache.get('a', async () => (loads++, 'value'));
    assert.equal(loads, 1);
  });
});
