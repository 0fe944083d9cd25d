import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SINGLE_THREADED_GC_CORES_MAX, singleThreadedGcHint } from './serve.js';

describe('singleThreadedGcHint', () => {
  it('advises --single-threaded-gc on a small machine that runs without it', () => {
    const hint = singleThreadedGcHint(2, ['--import', 'tsx']);
    assert.match(hint ?? '', /--single-threaded-gc on 2 cores.*decision 0007/);
  });

  it('says nothing when the flag is given, or on a machine with more cores', () => {
    assert.equal(singleThreadedGcHint(2, ['--single-threaded-gc']), undefined);
    assert.equal(singleThreadedGcHint(SINGLE_THREADED_GC_CORES_MAX + 1, []), undefined);
    assert.notEqual(singleThreadedGcHint(SINGLE_THREADED_GC_CORES_MAX, []), undefined);
  });
});
