import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConsistency } from '../check/consistency-check.js';
import { isFsError } from '../errors.js';
import { prefixEnd, RecordType, typePrefix } from '../records.js';
import { allChunkIds, BOB, contextFor, openCoreFixture, type CoreFixture } from '../testing/core-fixture.test-support.js';

const MiB = 1024 * 1024;

/** Every data byte stored: chunks in the chunk store plus small chunks inline in the metadata. */
async function storedDataBytes(fx: CoreFixture): Promise<number> {
  let total = 0;
  for (const id of await allChunkIds(fx.chunks)) total += (await fx.chunks.get(id)).length;
  const prefix = typePrefix(RecordType.inlineData);
  const inline = await fx.metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 10_000 }));
  for (const entry of inline) total += entry.value.length;
  return total;
}

const fill = (size: number, value: number): Uint8Array => new Uint8Array(size).fill(value);

describe('snapshot space accounting', () => {
  it('reports exclusive and total bytes, and deleting a snapshot frees exactly its exclusive bytes', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const dir = (await fx.fs.mkdir(fx.root, root, 'd')).handle;
      const file = (await fx.fs.create(fx.root, dir, 'f')).handle;
      await fx.fs.write(fx.root, file, { offset: 0, data: fill(3 * MiB, 1) });
      const untouched = (await fx.fs.create(fx.root, dir, 'untouched')).handle;
      await fx.fs.write(fx.root, untouched, { offset: 0, data: fill(2 * MiB, 9) });

      const s1 = await fx.fs.createSnapshot(fx.root, dir, { name: 's1' });
      assert.deepEqual(await fx.fs.snapshotSpace(fx.root, s1.id), { exclusiveBytes: 0 }, 'a new snapshot takes no space');
      assert.equal(await fx.fs.snapshotsTotalBytes(fx.root), 0);

      await fx.fs.write(fx.root, file, { offset: 0, data: fill(MiB, 2) }); // chunk 0 now held by s1 alone
      const s2 = await fx.fs.createSnapshot(fx.root, dir, { name: 's2' });
      await fx.fs.write(fx.root, file, { offset: MiB, data: fill(MiB, 3) }); // chunk 1 held by s1 and s2
      await fx.fs.write(fx.root, file, { offset: 2 * MiB + 10, data: fill(1000, 4) }); // a small inline overwrite; chunk 2 stays live
      await fx.fs.write(fx.root, file, { offset: 2 * MiB + 10, data: fill(2000, 5) }); // replaces the inline slice (same epoch)
      await fx.fs.remove(fx.root, dir, 'f'); // what s2 saw of segment 0 (written after s1) is now s2's alone
      await fx.fs.maintenance.collectGarbage(); // a removed file's segments end in the background

      assert.deepEqual(await fx.fs.snapshotSpace(fx.root, s1.id), { exclusiveBytes: MiB });
      assert.deepEqual(await fx.fs.snapshotSpace(fx.root, s2.id), { exclusiveBytes: MiB });
      assert.equal(await fx.fs.snapshotsTotalBytes(fx.root), 4 * MiB, 'chunks 0, 1, 2 of the original and the rewritten segment 0');
      const stats = await fx.fs.statfs(fx.root);
      assert.equal(stats.snapshotBytes, 4 * MiB, 'statfs reports snapshot usage apart');
      assert.equal(stats.usedBytes, 2 * MiB, 'usedBytes counts live data only');

      const beforeDelete = await storedDataBytes(fx);
      await fx.fs.deleteSnapshot(fx.root, s1.id);
      await fx.fs.maintenance.collectGarbage();
      assert.equal(beforeDelete - (await storedDataBytes(fx)), MiB, 'deleting s1 freed exactly its exclusive bytes');

      // With s1 gone, s2 alone holds the whole removed file.
      const s2Exclusive = (await fx.fs.snapshotSpace(fx.root, s2.id)).exclusiveBytes;
      assert.equal(s2Exclusive, 3 * MiB);
      assert.equal(await fx.fs.snapshotsTotalBytes(fx.root), 3 * MiB);
      const beforeSecond = await storedDataBytes(fx);
      await fx.fs.deleteSnapshot(fx.root, s2.id);
      await fx.fs.maintenance.collectGarbage();
      assert.equal(beforeSecond - (await storedDataBytes(fx)), s2Exclusive);
      assert.equal(await storedDataBytes(fx), 2 * MiB, 'only the live file is left');
      assert.equal(await fx.fs.snapshotsTotalBytes(fx.root), 0);

      const report = await checkConsistency(fx.metadata, fx.chunks, { settled: true });
      assert.deepEqual(report.problems, []);
      assert.equal(report.keptVersions, 0);
      assert.equal(report.unreferencedChunks, 0);
    } finally {
      await fx.close();
    }
  });

  it('counts chunks shared with the live tree (a restore) as not exclusive', async () => {
    const fx = await openCoreFixture();
    try {
      const root = await fx.fs.root(fx.root);
      const dir = (await fx.fs.mkdir(fx.root, root, 'd')).handle;
      const file = (await fx.fs.create(fx.root, dir, 'f')).handle;
      await fx.fs.write(fx.root, file, { offset: 0, data: fill(MiB, 1) });
      const snapshot = await fx.fs.createSnapshot(fx.root, dir, { name: 's' });
      await fx.fs.write(fx.root, file, { offset: 0, data: fill(MiB, 2) });
      assert.equal((await fx.fs.snapshotSpace(fx.root, snapshot.id)).exclusiveBytes, MiB);
      // Restore the old bytes into a new live file: the chunk is shared, nothing would be freed.
      const snapshotDir = await fx.fs.snapshotRoot(fx.root, snapshot.id);
      const old = await fx.fs.lookup(fx.root, snapshotDir, 'f');
      const restored = (await fx.fs.create(fx.root, dir, 'restored')).handle;
      await fx.fs.copyRange(fx.root, { source: old.handle, sourceOffset: 0, target: restored, targetOffset: 0, length: MiB });
      assert.equal((await fx.fs.snapshotSpace(fx.root, snapshot.id)).exclusiveBytes, 0);
      await assert.rejects(fx.fs.snapshotSpace(contextFor(BOB), snapshot.id), (error: unknown) => isFsError(error, 'PermissionDenied'));
    } finally {
      await fx.close();
    }
  });
});
