import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFsError } from '../errors.js';
import { openCoreFixture } from '../testing/core-fixture.test-support.js';

const fill = (size: number, value: number): Uint8Array => new Uint8Array(size).fill(value);

/**
 * Issue 4 item 7: quotas and directory aggregates count live data only; what snapshots hold after
 * a delete or an overwrite is reported apart (statfs snapshotBytes, snapshotsTotalBytes).
 */
describe('live accounting with snapshots', () => {
  it('aggregates and quotas drop to live values after a delete and an overwrite, while snapshot usage is reported apart', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const data = (await fx.fs.mkdir(fx.root, root, 'data', { mode: 0o777 })).handle;
      await fx.fs.setQuota(fx.root, data, 1_000_000);
      const first = (await fx.fs.create(fx.root, data, 'first.bin')).handle;
      await fx.fs.write(fx.root, first, { offset: 0, data: fill(600_000, 1) });
      const second = (await fx.fs.create(fx.root, data, 'second.bin')).handle;
      await fx.fs.write(fx.root, second, { offset: 0, data: fill(200_000, 2) });
      assert.equal((await fx.fs.aggregates(fx.root, data)).bytes, 800_000);
      assert.equal((await fx.fs.getQuota(fx.root, data))?.usedBytes, 800_000);

      const snapshot = await fx.fs.createSnapshot(fx.root, data, { name: 'held' });
      await fx.fs.remove(fx.root, data, 'first.bin');
      await fx.fs.setattr(fx.root, second, { size: 0 });
      await fx.fs.write(fx.root, second, { offset: 0, data: fill(100_000, 3) });

      assert.deepEqual(await fx.fs.aggregates(fx.root, data), { bytes: 100_000, files: 1, directories: 0, symlinks: 0 });
      assert.equal((await fx.fs.getQuota(fx.root, data))?.usedBytes, 100_000);
      assert.equal((await fx.fs.statfs(fx.root, data)).usedBytes, 100_000, 'statfs under a quota shows the live usage');
      assert.equal((await fx.fs.statfs(fx.root)).usedBytes, 100_000, 'and so does the whole file system');
      // The snapshot still sees what it saw, in its own view.
      assert.equal((await fx.fs.aggregates(fx.root, await fx.fs.snapshotRoot(fx.root, snapshot.id))).bytes, 800_000);

      // The quota is enforced on live data: the 800,000 bytes the snapshot holds do not count.
      const third = (await fx.fs.create(fx.root, data, 'third.bin')).handle;
      await fx.fs.write(fx.root, third, { offset: 0, data: fill(850_000, 4) });
      assert.equal((await fx.fs.getQuota(fx.root, data))?.usedBytes, 950_000);
      await assert.rejects(fx.fs.write(fx.root, third, { offset: 850_000, data: fill(100_000, 5) }), (error: unknown) => isFsError(error, 'QuotaExceeded'));

      // Snapshot usage, separately: the deleted file and the overwritten data. A removed file's
      // segments end when the collector reaches it (space.ts), so let it run first.
      await fx.fs.maintenance.collectGarbage();
      assert.equal(await fx.fs.snapshotsTotalBytes(fx.root), 800_000);
      assert.deepEqual(await fx.fs.snapshotSpace(fx.root, snapshot.id), { exclusiveBytes: 800_000 });
      // statfs reports the last computed total, refreshed in the background (space.ts).
      let stats = await fx.fs.statfs(fx.root);
      for (let attempt = 0; attempt < 100 && stats.snapshotBytes !== 800_000; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        stats = await fx.fs.statfs(fx.root);
      }
      assert.equal(stats.snapshotBytes, 800_000);
      assert.equal(stats.usedBytes, 950_000, 'usedBytes stays the live data');
    } finally {
      await fx.close();
    }
  });
});
