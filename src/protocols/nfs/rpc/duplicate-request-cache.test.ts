import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuplicateRequestCache } from './duplicate-request-cache.js';

describe('duplicate-request cache', () => {
  const key = (xid: number, args = Uint8Array.of(1)) => DuplicateRequestCache.key({ address: '10.0.0.1', xid, program: 100003, version: 3, procedure: 12, args });

  it('runs a call once, drops a duplicate while it runs, then replays the reply', () => {
    const cache = new DuplicateRequestCache({ entriesMax: 10, bytesMax: 1000 });
    assert.equal(cache.begin(key(1)), 'new');
    assert.equal(cache.begin(key(1)), 'running');
    cache.finish(key(1), Uint8Array.of(9));
    assert.deepEqual(cache.begin(key(1)), Uint8Array.of(9));
    assert.equal(cache.begin(key(1, Uint8Array.of(2))), 'new', 'a reused xid with other arguments is a new call');
  });

  it('stays within its entry and byte bounds, oldest first', () => {
    const cache = new DuplicateRequestCache({ entriesMax: 3, bytesMax: 10 });
    for (let xid = 0; xid < 10; xid += 1) {
      cache.begin(key(xid));
      cache.finish(key(xid), new Uint8Array(4));
    }
    assert.ok(cache.size <= 2);
    assert.equal(cache.begin(key(0)), 'new');
  });
});
