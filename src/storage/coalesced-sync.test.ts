import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoalescedSync } from './coalesced-sync.js';

describe('coalesced sync', () => {
  it('serves everyone who asked during a sync with one more sync that begins after it, and says when idle', async () => {
    const started: Array<() => void> = [];
    let idle = 0;
    const sync = new CoalescedSync(
      () => new Promise<void>((resolve) => started.push(resolve)),
      () => (idle += 1),
    );
    const order: string[] = [];
    const first = sync.request().then(() => order.push('first'));
    const second = sync.request().then(() => order.push('second'));
    const third = sync.request().then(() => order.push('third'));
    assert.equal(started.length, 1, 'the later callers wait for the next sync, not this one');
    started[0]?.();
    await first;
    assert.deepEqual(order, ['first']);
    assert.equal(started.length, 2, 'one sync for both waiting callers');
    started[1]?.();
    await Promise.all([second, third]);
    assert.deepEqual(order, ['first', 'second', 'third']);
    assert.equal(idle, 1);
  });

  it('rejects the callers of a failed sync, and the next request syncs again', async () => {
    let calls = 0;
    const sync = new CoalescedSync(async () => {
      calls += 1;
      if (calls === 1) throw new Error('EIO');
    });
    await assert.rejects(sync.request(), /EIO/);
    await sync.request();
    assert.equal(calls, 2);
  });
});
