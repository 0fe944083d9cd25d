import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsError } from '../../../core/errors.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import { contextFor, ROOT, silentLogger } from '../../../core/testing/core-fixture.test-support.js';
import { contiguousRuns, FILE_BYTES_MAX, RUN_BYTES_LENT_MAX, WriteGatherer } from './write-gatherer.js';

const node: NodeHandle = { id: 7, generation: 1 };

/** A FileSystem stand-in that records writes (the gatherer only calls `write`). */
function recorder(fail?: FsError): { fs: FileSystem; writes: Array<{ offset: number; length: number; first: number }> } {
  const writes: Array<{ offset: number; length: number; first: number }> = [];
  const fs = {
    write: async (_ctx: unknown, _node: NodeHandle, request: { offset: number; data: Uint8Array }) => {
      if (fail !== undefined) throw fail;
      writes.push({ offset: request.offset, length: request.data.length, first: request.data[0] ?? -1 });
      return { bytesWritten: request.data.length, attributes: {} };
    },
  } as unknown as FileSystem;
  return { fs, writes };
}

describe('NFS write gathering', () => {
  it('joins consecutive contiguous writes and keeps the arrival order of overlaps', () => {
    const runs = contiguousRuns([
      { offset: 0, data: new Uint8Array(4).fill(1) },
      { offset: 4, data: new Uint8Array(4).fill(2) },
      { offset: 2, data: new Uint8Array(2).fill(3) },
      { offset: 4, data: new Uint8Array(1).fill(4) },
    ]);
    assert.deepEqual(runs.map((run) => [run.offset, [...run.data]]), [[0, [1, 1, 1, 1, 2, 2, 2, 2]], [2, [3, 3, 4]]]);
  });

  it('gathers only after a direct write, writes out at flush, and reports a failure once, at COMMIT', async () => {
    const gatherer = new WriteGatherer(silentLogger);
    const ctx = contextFor(ROOT);
    assert.equal(gatherer.mayGather(node), false);
    gatherer.warm(node);
    assert.equal(gatherer.mayGather(node), true);
    const { fs, writes } = recorder();
    const buffer = new Uint8Array(1024).fill(5);
    await gatherer.add(fs, ctx, node, 0, buffer);
    buffer.fill(9); // the caller reuses its buffer: the gathered copy must not change
    await gatherer.add(fs, ctx, node, 1024, new Uint8Array(1024).fill(6));
    assert.equal(gatherer.pendingEnd(node), 2048);
    assert.deepEqual(writes, []);
    await gatherer.flush(node, { report: true });
    assert.deepEqual(writes, [{ offset: 0, length: 2048, first: 5 }]);
    assert.equal(gatherer.hasPending, false);

    const failing = recorder(new FsError('QuotaExceeded', 'over quota'));
    await gatherer.add(failing.fs, ctx, node, 0, new Uint8Array(10));
    await gatherer.flushAll();
    assert.equal(gatherer.mayGather(node), false, 'after a failure the next write goes to core and is refused there');
    await assert.rejects(gatherer.flush(node, { report: true }), (error) => error instanceof FsError && error.code === 'QuotaExceeded');
    await gatherer.flush(node, { report: true });
  });

  it('writes a full run in the background while the next gathers, and a flush waits for it', async () => {
    const gatherer = new WriteGatherer(silentLogger);
    const ctx = contextFor(ROOT);
    gatherer.warm(node);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writes: number[] = [];
    const fs = {
      write: async (_ctx: unknown, _node: NodeHandle, request: { offset: number; data: Uint8Array }) => {
        await released;
        writes.push(request.offset);
        return { bytesWritten: request.data.length, attributes: {} };
      },
    } as unknown as FileSystem;
    const half = FILE_BYTES_MAX / 2;
    await gatherer.add(fs, ctx, node, 0, new Uint8Array(half));
    await gatherer.add(fs, ctx, node, half, new Uint8Array(half));
    // The run is being written (and held up): the WRITE that filled it was answered anyway.
    await gatherer.add(fs, ctx, node, FILE_BYTES_MAX, new Uint8Array(16));
    assert.equal(gatherer.hasPending, true);
    const flushed = gatherer.flush(node, { report: true });
    release();
    await flushed;
    assert.deepEqual(writes, [0, FILE_BYTES_MAX], 'in arrival order, the full run first');
    assert.equal(gatherer.hasPending, false);
  });

  it('copies large writes into a reused run as they come, and gives the run back once written', async () => {
    const gatherer = new WriteGatherer(silentLogger);
    const ctx = contextFor(ROOT);
    gatherer.warm(node);
    const seen: Array<{ offset: number; bytes: number[] }> = [];
    const fs = {
      write: async (_ctx: unknown, _node: NodeHandle, request: { offset: number; data: Uint8Array }) => {
        seen.push({ offset: request.offset, bytes: [request.data.length, request.data[0] ?? -1, request.data[128 * 1024] ?? -1, request.data.at(-1) ?? -1] });
        return { bytesWritten: request.data.length, attributes: {} };
      },
    } as unknown as FileSystem;
    // The RPC layer reuses a request's buffer once the WRITE is answered: the same one each time here.
    const request = new Uint8Array(128 * 1024);
    await gatherer.add(fs, ctx, node, 0, request.fill(1));
    await gatherer.add(fs, ctx, node, request.length, request.fill(2));
    await gatherer.add(fs, ctx, node, 2 * request.length, request.subarray(0, 10).fill(3));
    request.fill(9);
    assert.equal(gatherer.runBytesInUse, FILE_BYTES_MAX, 'one run holds all three');
    await gatherer.flush(node, { report: true });
    assert.deepEqual(seen, [{ offset: 0, bytes: [2 * 128 * 1024 + 10, 1, 2, 3] }], 'one core write, with the bytes as they were sent');
    assert.equal(gatherer.runBytesInUse, 0);
  });

  it('lends at most RUN_BYTES_LENT_MAX of runs; beyond, writes are copied to their size', async () => {
    const gatherer = new WriteGatherer(silentLogger);
    const ctx = contextFor(ROOT);
    const written: Array<{ id: number; first: number }> = [];
    const fs = {
      write: async (_ctx: unknown, target: NodeHandle, request: { offset: number; data: Uint8Array }) => {
        written.push({ id: target.id, first: request.data[0] ?? -1 });
        return { bytesWritten: request.data.length, attributes: {} };
      },
    } as unknown as FileSystem;
    const files = RUN_BYTES_LENT_MAX / FILE_BYTES_MAX + 2;
    const data = new Uint8Array(64 * 1024);
    for (let id = 100; id < 100 + files; id += 1) {
      const file = { id, generation: 1 };
      gatherer.warm(file);
      await gatherer.add(fs, ctx, file, 0, data.fill(id));
      assert.ok(gatherer.runBytesInUse <= RUN_BYTES_LENT_MAX);
    }
    assert.equal(gatherer.runBytesInUse, RUN_BYTES_LENT_MAX);
    await gatherer.flushAll();
    assert.equal(gatherer.runBytesInUse, 0, 'given back, failures or not');
    assert.deepEqual(written.map((write) => write.first), written.map((write) => write.id % 256), 'each file got its own bytes');
    assert.equal(written.length, files);
  });

  it('gives the runs back when core refuses the write', async () => {
    const gatherer = new WriteGatherer(silentLogger);
    gatherer.warm(node);
    const { fs } = recorder(new FsError('QuotaExceeded', 'over quota'));
    await gatherer.add(fs, contextFor(ROOT), node, 0, new Uint8Array(64 * 1024));
    assert.equal(gatherer.runBytesInUse, FILE_BYTES_MAX);
    await assert.rejects(gatherer.flush(node, { report: true }), (error) => error instanceof FsError && error.code === 'QuotaExceeded');
    assert.equal(gatherer.runBytesInUse, 0);
  });
});
