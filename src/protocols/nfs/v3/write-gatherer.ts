import type { Logger } from 'pino';
import type { OpContext } from '../../../core/context.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import { BufferPool } from '../../../storage/chunks/buffer-pool.js';

/**
 * Write gathering for UNSTABLE writes (RFC 1813 §3.3.7, §3.3.21): the server may answer an
 * UNSTABLE WRITE before the data is on stable storage, as long as COMMIT makes it so and the
 * write verifier changes when uncommitted data can have been lost (it is random per server start).
 * Writes after the first of a file (which goes to core directly, so permissions and quotas refuse
 * it at WRITE) are held here and written to core in large runs: at COMMIT, when the file has
 * FILE_BYTES_MAX pending, when the server holds TOTAL_BYTES_MAX, after FLUSH_AFTER_MS, and before
 * any other procedure touches the file. Consecutive contiguous writes become one core write, and
 * writes are applied in arrival order, so an overlap resolves as the client sent it. A file's
 * full run is written out in the background while the next gathers; anything that waits for the
 * file (COMMIT, another procedure, `flush`) waits for that too.
 *
 * What other protocols read of a file with writes pending is its state before them, until the
 * flush (at most FLUSH_AFTER_MS later): NFS's close-to-open consistency, which clients expect.
 * A flush that fails (quota, permission changed meanwhile) is reported at the next COMMIT.
 *
 * Data is copied as it arrives (the RPC layer reuses a request's buffer once it is answered):
 * a large write starts a run in a reused FILE_BYTES_MAX buffer and the contiguous writes after it
 * are appended there, so a sequential stream is written to core with no further copy and no
 * fresh allocation (each fresh ArrayBuffer counts toward V8's external-memory trigger for a full
 * collection). Smaller writes, and large ones once RUN_BYTES_LENT_MAX is in use, are copied to
 * buffers of their own size.
 */
export const FILE_BYTES_MAX = 16 * 1024 * 1024;
export const TOTAL_BYTES_MAX = 256 * 1024 * 1024;
export const FLUSH_AFTER_MS = 1_000;
/** A write at least this large starts a run in a reused buffer (see `add`). */
const RUN_BYTES_MIN = 64 * 1024;
/** Reused run buffers lent at once, over every file: beyond this, writes are copied exactly. */
export const RUN_BYTES_LENT_MAX = 4 * FILE_BYTES_MAX;

interface PendingWrite {
  readonly offset: number;
  data: Uint8Array;
  /** The reused buffer `data` is the start of, given back once the write is in core. */
  readonly run?: Uint8Array;
}

interface Pending {
  readonly fs: FileSystem;
  ctx: OpContext;
  readonly node: NodeHandle;
  writes: PendingWrite[];
  bytes: number;
  /** Largest end offset of a pending write: the size the file will have (at least). */
  end: number;
  timer: NodeJS.Timeout | undefined;
  flushing: Promise<void> | undefined;
  error: unknown;
}

function keyOf(node: NodeHandle): string {
  return `${node.id}:${node.generation}`;
}

export class WriteGatherer {
  private readonly files = new Map<string, Pending>();
  /** Files that took a direct write already: later UNSTABLE writes may be gathered. */
  private readonly warmed = new Set<string>();
  private totalBytes = 0;
  /** FILE_BYTES_MAX buffers for runs; two stay idle for the next sequential stream. */
  private readonly runs = new BufferPool(2 * FILE_BYTES_MAX);
  private runBytesLent = 0;

  constructor(private readonly logger: Logger) {}

  /** Whether an UNSTABLE write to this node may be gathered (a direct write checked it first). */
  mayGather(node: NodeHandle): boolean {
    return node.snapshot === undefined && this.warmed.has(keyOf(node));
  }

  /** Remembers that a direct write to this node succeeded (bounded: forgotten when many). */
  warm(node: NodeHandle): void {
    if (this.warmed.size >= 100_000) this.warmed.clear();
    this.warmed.add(keyOf(node));
  }

  /** The end of the pending writes of a node, for the size in WRITE's post-op attributes. */
  pendingEnd(node: NodeHandle): number | undefined {
    return this.files.get(keyOf(node))?.end;
  }

  async add(fs: FileSystem, ctx: OpContext, node: NodeHandle, offset: number, data: Uint8Array): Promise<void> {
    const key = keyOf(node);
    let pending = this.files.get(key);
    if (pending === undefined) {
      pending = { fs, ctx, node, writes: [], bytes: 0, end: 0, timer: undefined, flushing: undefined, error: undefined };
      this.files.set(key, pending);
    }
    pending.ctx = ctx;
    this.keep(pending.writes, offset, data);
    pending.bytes += data.length;
    pending.end = Math.max(pending.end, offset + data.length);
    this.totalBytes += data.length;
    pending.timer ??= setTimeout(() => void this.flush(node, { report: false }), FLUSH_AFTER_MS);
    if (pending.bytes >= FILE_BYTES_MAX) {
      // The full run is written while the client sends the next one; a second full run waits for
      // it (back-pressure: at most two runs of a file in memory).
      while (pending.flushing !== undefined) await pending.flushing;
      if (pending.writes.length > 0) this.beginWriteOut(pending);
    }
    if (this.totalBytes >= TOTAL_BYTES_MAX) await this.flushAll();
  }

  /**
   * Writes the node's pending data to core. With `report` (COMMIT), a failure of this or an
   * earlier flush is thrown, once; without, it is kept for the next COMMIT of the file.
   */
  async flush(node: NodeHandle, options: { report: boolean }): Promise<void> {
    const key = keyOf(node);
    const pending = this.files.get(key);
    if (pending === undefined) return;
    while (pending.flushing !== undefined) await pending.flushing;
    if (pending.writes.length > 0) await this.beginWriteOut(pending);
    if (pending.writes.length > 0 || pending.flushing !== undefined) return;
    if (pending.error === undefined || options.report) this.files.delete(key);
    if (pending.error !== undefined && options.report) throw pending.error;
  }

  /** Flushes everything (before any other procedure, and at close); failures wait for COMMIT. */
  async flushAll(): Promise<void> {
    for (const pending of [...this.files.values()]) await this.flush(pending.node, { report: false });
  }

  /** Whether any file has writes not yet in core (gathered, or being written out). */
  get hasPending(): boolean {
    for (const pending of this.files.values()) if (pending.writes.length > 0 || pending.flushing !== undefined) return true;
    return false;
  }

  /** Copies `data` into the file's pending writes: appended to the open run, or on its own. */
  private keep(writes: PendingWrite[], offset: number, data: Uint8Array): void {
    const last = writes.at(-1);
    if (last?.run !== undefined && last.offset + last.data.byteLength === offset && last.data.byteLength + data.byteLength <= last.run.byteLength) {
      last.run.set(data, last.data.byteLength);
      last.data = last.run.subarray(0, last.data.byteLength + data.byteLength);
      return;
    }
    if (data.byteLength >= RUN_BYTES_MIN && this.runBytesLent + FILE_BYTES_MAX <= RUN_BYTES_LENT_MAX) {
      const run = this.runs.take(FILE_BYTES_MAX) as Uint8Array;
      this.runBytesLent += run.byteLength;
      run.set(data, 0);
      writes.push({ offset, data: run.subarray(0, data.byteLength), run });
      return;
    }
    writes.push({ offset, data: Uint8Array.prototype.slice.call(data) });
  }

  /** Starts writing the file's pending writes to core; the caller made sure none is running. */
  private beginWriteOut(pending: Pending): Promise<void> {
    const flushing = this.writeOut(pending).finally(() => {
      pending.flushing = undefined;
    });
    pending.flushing = flushing;
    return flushing;
  }

  private async writeOut(pending: Pending): Promise<void> {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = undefined;
    const writes = pending.writes;
    pending.writes = [];
    this.totalBytes -= pending.bytes;
    pending.bytes = 0;
    try {
      for (const run of contiguousRuns(writes)) await pending.fs.write(pending.ctx, pending.node, run);
    } catch (error) {
      pending.error ??= error;
      // The next write to this file goes to core directly again, so it is refused at WRITE.
      this.warmed.delete(keyOf(pending.node));
      this.logger.warn({ err: error, node: pending.node.id }, 'gathered NFS writes failed; the next COMMIT reports it');
    } finally {
      // Core keeps no reference to a write's data once the write settles.
      for (const write of writes) {
        if (write.run === undefined) continue;
        this.runBytesLent -= write.run.byteLength;
        this.runs.give(write.run);
      }
    }
  }

  /** Run buffers lent (for tests). */
  get runBytesInUse(): number {
    return this.runBytesLent;
  }
}

/**
 * Consecutive writes where each starts where the previous ended, joined up to FILE_BYTES_MAX. A
 * write in a reused run buffer is a run already, and is not joined to its neighbours.
 */
export function contiguousRuns(writes: ReadonlyArray<{ offset: number; data: Uint8Array; run?: Uint8Array }>): Array<{ offset: number; data: Uint8Array }> {
  const runs: Array<{ offset: number; parts: Uint8Array[]; length: number; reused: boolean }> = [];
  for (const write of writes) {
    const last = runs.at(-1);
    const reused = write.run !== undefined;
    if (last !== undefined && !reused && !last.reused && last.offset + last.length === write.offset && last.length + write.data.length <= FILE_BYTES_MAX) {
      last.parts.push(write.data);
      last.length += write.data.length;
    } else {
      runs.push({ offset: write.offset, parts: [write.data], length: write.data.length, reused });
    }
  }
  return runs.map((run) => ({ offset: run.offset, data: run.parts.length === 1 ? (run.parts[0] as Uint8Array) : Buffer.concat(run.parts) }));
}
