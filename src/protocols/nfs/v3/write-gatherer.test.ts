import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsError } from '../../../core/errors.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import { contextFor, ROOT, silentLogger } from '../../../core/testing/core-fixture.test-support.js';
import { contiguousRuns, FILE_BYTES_MAX, WriteGatherer } from './write-gatherer.js';

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
});
