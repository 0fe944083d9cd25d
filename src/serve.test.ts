import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEAP_GROWING_FLAG, nodeFlagsHint, SINGLE_THREADED_GC_CORES_MAX } from './serve.js';

describe('nodeFlagsHint', () => {
  it('advises both flags on a small machine that runs without them', () => {
    const hint = nodeFlagsHint(2, ['--import', 'tsx']);
    assert.match(hint ?? '', /without --single-threaded-gc --heap-growing-percent=300 on 2 cores.*decisions 0007 and 0009/);
  });

  it('advises only what is missing: the heap flag on any machine, the GC thread flag on small ones', () => {
    assert.match(nodeFlagsHint(2, ['--single-threaded-gc']) ?? '', /without --heap-growing-percent=300 on/);
    assert.match(nodeFlagsHint(2, [HEAP_GROWING_FLAG]) ?? '', /without --single-threaded-gc on/);
    assert.match(nodeFlagsHint(SINGLE_THREADED_GC_CORES_MAX + 1, []) ?? '', /without --heap-growing-percent=300 on/);
    assert.match(nodeFlagsHint(SINGLE_THREADED_GC_CORES_MAX, []) ?? '', /--single-threaded-gc/);
  });

  it('says nothing when the flags are given, or the heap flag with another value', () => {
    assert.equal(nodeFlagsHint(2, ['--single-threaded-gc', HEAP_GROWING_FLAG]), undefined);
    assert.equal(nodeFlagsHint(SINGLE_THREADED_GC_CORES_MAX + 1, ['--heap-growing-percent=150']), undefined);
  });
});
