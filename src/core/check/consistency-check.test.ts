import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeByRecordKey, chunkRefKey, decodeJson, encodeJson, inodeKey, ROOT_ID, segmentPrefix, snapshotKey, type InodeRecord } from '../records.js';
import { allChunkIds, openCoreFixture } from '../testing/core-fixture.test-support.js';
import { checkConsistency } from './consistency-check.js';

async function populated() {
  const fx = await openCoreFixture();
  const root = await fx.fs.root(fx.root);
  const dir = await fx.fs.mkdir(fx.root, root, 'd');
  const file = await fx.fs.create(fx.root, dir.handle, 'f');
  await fx.fs.write(fx.root, file.handle, { offset: 0, data: new Uint8Array(200_000).fill(1) });
  await fx.fs.write(fx.root, file.handle, { offset: 0, data: new Uint8Array(5_000).fill(2) });
  await fx.fs.link(fx.root, file.handle, root, 'hard');
  return fx;
}

describe('consistency check', () => {
  it('finds nothing wrong in a store the core wrote', async () => {
    const fx = await populated();
    const report = await checkConsistency(fx.metadata, fx.chunks);
    assert.deepEqual(report.problems, []);
    assert.equal(report.nodes, 3);
    assert.equal(report.referencedChunks, 2, 'one stored chunk and one inline chunk');
    await fx.close();
  });

  it('reports a wrong aggregate, a wrong reference count and a missing chunk', async () => {
    const fx = await populated();
    await fx.metadata.write(async (tx) => {
      const rootRecord = decodeJson<InodeRecord>((await tx.get(inodeKey(ROOT_ID, 1))) as Uint8Array);
      tx.put(inodeKey(ROOT_ID, 1), encodeJson({ ...rootRecord, aggregate: { ...rootRecord.aggregate, bytes: 1 } }));
    });
    const [chunkId] = await allChunkIds(fx.chunks);
    await fx.metadata.write(async (tx) => tx.put(chunkRefKey(chunkId as string), encodeJson(5)));
    await fx.chunks.delete(chunkId as string);
    const report = await checkConsistency(fx.metadata, fx.chunks);
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((text) => text.startsWith('directory 1 aggregate')), report.problems.join('\n'));
    assert.ok(report.problems.some((text) => text.includes('has reference count 5')), report.problems.join('\n'));
    assert.ok(report.problems.some((text) => text.includes('missing from the chunk store')), report.problems.join('\n'));
    await fx.close();
  });

  it('checks the snapshot side: kept versions need a snapshot and a logged death; stops at a deadline', async () => {
    const fx = await populated();
    const root = await fx.fs.root(fx.root);
    const dir = await fx.fs.lookup(fx.root, root, 'd');
    const file = await fx.fs.lookup(fx.root, dir.handle, 'f');
    const snapshot = await fx.fs.createSnapshot(fx.root, dir.handle, { name: 's' });
    await fx.fs.write(fx.root, file.handle, { offset: 0, data: new Uint8Array(300_000).fill(3) });
    const healthy = await checkConsistency(fx.metadata, fx.chunks);
    assert.deepEqual(healthy.problems, []);
    assert.equal(healthy.snapshots, 1);
    assert.ok(healthy.keptVersions >= 2, 'the old inode and segment versions are kept');
    assert.equal((await checkConsistency(fx.metadata, fx.chunks, { deadlineMs: 0, now: () => 1 })).complete, false);

    // Drop the change-log entry of the segment's death: reclaim could never find the version.
    await fx.metadata.write(async (tx) => tx.delete(changeByRecordKey(segmentPrefix(file.handle.id, 0), snapshot.id + 1)));
    const unlogged = await checkConsistency(fx.metadata, fx.chunks);
    assert.ok(unlogged.problems.some((text) => text.includes('no change-log entry')), unlogged.problems.join('\n'));
    // Remove the snapshot record behind core's back (no reclaim queued): its versions are orphans.
    await fx.metadata.write(async (tx) => tx.delete(snapshotKey(snapshot.id)));
    const orphaned = await checkConsistency(fx.metadata, fx.chunks);
    assert.ok(orphaned.problems.some((text) => text.includes('that no snapshot sees')), orphaned.problems.join('\n'));
    await fx.close();
  });
});
