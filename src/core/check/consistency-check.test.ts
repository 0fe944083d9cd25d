import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkRefKey, encodeJson, inodeKey, ROOT_ID, type InodeRecord } from '../records.js';
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
      const rootRecord: InodeRecord = JSON.parse(Buffer.from((await tx.get(inodeKey(ROOT_ID, 1))) as Uint8Array).toString());
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
});
