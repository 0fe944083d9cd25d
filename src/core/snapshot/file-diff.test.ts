import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFsError } from '../errors.js';
import { BOB, contextFor, openCoreFixture } from '../testing/core-fixture.test-support.js';

const MiB = 1024 * 1024;
const fill = (size: number, value: number): Uint8Array => new Uint8Array(size).fill(value);

describe('file changes since a snapshot (changed byte regions)', () => {
  it('reports the changed regions, merged across segments, between snapshots and against the live tree', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const dir = (await fx.fs.mkdir(fx.root, root, 'd')).handle;
      const file = (await fx.fs.create(fx.root, dir, 'f')).handle;
      const quiet = (await fx.fs.create(fx.root, dir, 'quiet')).handle;
      await fx.fs.write(fx.root, file, { offset: 0, data: fill(3 * MiB, 1) });
      await fx.fs.write(fx.root, quiet, { offset: 0, data: fill(1000, 1) });
      const s1 = await fx.fs.createSnapshot(fx.root, dir, { name: 's1' });

      await fx.fs.write(fx.root, file, { offset: 10, data: fill(100, 2) });
      await fx.fs.write(fx.root, file, { offset: 50, data: fill(100, 3) }); // overlaps: one region 10..150
      await fx.fs.write(fx.root, file, { offset: MiB - 10, data: fill(4096, 4) }); // crosses into segment 1
      await fx.fs.setattr(fx.root, file, { size: 4 * MiB }); // grows by a hole
      const expected = [
        { offset: 10, length: 140 },
        { offset: MiB - 10, length: 4096 },
        { offset: 3 * MiB, length: MiB, hole: true },
      ];
      assert.deepEqual((await fx.fs.fileChangesSince(fx.root, { file, older: s1.id, newer: 'live' })).regions, expected);
      assert.deepEqual((await fx.fs.fileChangesSince(fx.root, { file: quiet, older: s1.id, newer: 'live' })).regions, [], 'an unchanged file has no regions');

      const s2 = await fx.fs.createSnapshot(fx.root, dir, { name: 's2' });
      await fx.fs.write(fx.root, file, { offset: 2 * MiB + 5, data: fill(5, 5) });
      assert.deepEqual((await fx.fs.fileChangesSince(fx.root, { file, older: s1.id, newer: s2.id })).regions, expected, 'between two snapshots');
      assert.deepEqual((await fx.fs.fileChangesSince(fx.root, { file, older: s2.id, newer: 'live' })).regions, [{ offset: 2 * MiB + 5, length: 5 }]);
      // Paginated by segment: one changed segment per page.
      const first = await fx.fs.fileChangesSince(fx.root, { file, older: s1.id, newer: s2.id, limit: 1 });
      assert.deepEqual(first.regions, [{ offset: 10, length: 140 }, { offset: MiB - 10, length: 10 }]);
      assert.ok(first.cursor !== undefined);
      const second = await fx.fs.fileChangesSince(fx.root, { file, older: s1.id, newer: s2.id, limit: 1, cursor: first.cursor });
      assert.deepEqual(second.regions[0], { offset: MiB, length: 4086 });

      // Shrinking: the cut bytes changed.
      await fx.fs.setattr(fx.root, file, { size: MiB });
      const shrunk = (await fx.fs.fileChangesSince(fx.root, { file, older: s2.id, newer: 'live' })).regions;
      assert.deepEqual(shrunk, [{ offset: MiB, length: 3 * MiB, hole: true }]);

      // A file created after the older snapshot: all of it.
      const added = (await fx.fs.create(fx.root, dir, 'added')).handle;
      await fx.fs.write(fx.root, added, { offset: 0, data: fill(MiB + 7, 6) });
      assert.deepEqual((await fx.fs.fileChangesSince(fx.root, { file: added, older: s2.id, newer: 'live' })).regions, [{ offset: 0, length: MiB + 7 }]);

      await assert.rejects(fx.fs.fileChangesSince(contextFor(BOB), { file, older: s1.id, newer: 'live' }), (error: unknown) => isFsError(error, 'PermissionDenied'));
      await assert.rejects(fx.fs.fileChangesSince(fx.root, { file, older: s2.id, newer: s1.id }), (error: unknown) => isFsError(error, 'InvalidArgument'));
    } finally {
      await fx.close();
    }
  });
});
