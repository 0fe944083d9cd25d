import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, mkdir, open, opendir, readdir, stat, statfs, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { checkChunkId, checkChunkSize, checkListOptions, checkRange, clipRange, STORED_CHUNK_BYTES_MAX, targetFor } from '../chunk-checks.js';
import { isChunkId } from '../chunk-id.js';
import { ChunkStoreError } from '../chunk-store.js';
import type { ByteRange, ChunkCapacity, ChunkId, ChunkStore, GetOptions } from '../chunk-store.js';
import { CoalescedSync } from '../../coalesced-sync.js';

export interface LocalChunkStoreOptions {
  /** The folder that holds the chunks; created if missing. Nothing else should write below it. */
  readonly root: string;
  readonly logger?: Logger;
  /** Wall time, for deciding which temp files are crash leftovers. */
  readonly nowMs?: () => number;
  /** Temp files older than this at open are leftovers of a crashed put and are removed. */
  readonly staleTempAgeMs?: number;
}

const TEMP_PREFIX = '.tmp-';
const TOP_PATTERN = /^[0-9a-f]{6}$/;
const LEAF_PATTERN = /^[0-9a-f]{2}$/;
const STALE_TEMP_AGE_MS_DEFAULT = 60_000;
const CHUNK_FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;

/**
 * A ChunkStore in a local folder: `<root>/<id[0..6]>/<id[6..8]>/<id>`. Ids begin with their
 * creation time in milliseconds (chunk-id.ts), so a top directory holds about 4.7 hours of chunks
 * and a leaf about 65 seconds: files spread as they are written. Because ids sort by their hex
 * text, the directories sort the same way, so `list` walks one leaf directory at a time in order.
 *
 * Durability: put writes a temp file beside the target, fsyncs it, hard-links it to the final
 * name (link fails with EEXIST instead of replacing, which gives 'exists' atomically), removes the
 * temp name and fsyncs the directory (one fsync shared by the puts linked while the previous one
 * ran). A crash leaves either no chunk or the whole chunk, plus at worst a temp file that the next
 * open removes.
 */
export class LocalChunkStore implements ChunkStore {
  readonly #root: string;
  /** Directories known to exist and to be durably linked into their parent, by path. */
  readonly #readyDirectories = new Map<string, Promise<void>>();
  /** Directory fsyncs in progress, by path: concurrent puts into one leaf share them. */
  readonly #directorySyncs = new Map<string, CoalescedSync>();
  #closed = false;

  private constructor(root: string) {
    this.#root = root;
  }

  static async open(options: LocalChunkStoreOptions): Promise<LocalChunkStore> {
    await mkdir(options.root, { recursive: true, mode: DIRECTORY_MODE });
    const store = new LocalChunkStore(options.root);
    const nowMs = options.nowMs ?? Date.now;
    const removed = await store.#removeStaleTempFiles(nowMs() - (options.staleTempAgeMs ?? STALE_TEMP_AGE_MS_DEFAULT));
    if (removed > 0) options.logger?.info({ root: options.root, removed }, 'removed temp files left by interrupted chunk writes');
    return store;
  }

  async put(id: ChunkId, data: Uint8Array): Promise<void> {
    this.#checkOpen();
    checkChunkId(id);
    checkChunkSize(id, data.byteLength, STORED_CHUNK_BYTES_MAX);
    const directory = this.#directoryOf(id);
    const target = join(directory, id);
    try {
      await this.#ensureDirectory(directory);
      const temp = join(directory, `${TEMP_PREFIX}${id}-${randomBytes(6).toString('hex')}`);
      try {
        await writeDurably(temp, data);
        await link(temp, target);
      } finally {
        // The temp name is removed on success and failure alike; a failure to remove it must not
        // hide the put's own outcome, and a leftover is swept at the next open.
        await unlink(temp).catch(() => undefined);
      }
      await this.#syncDirectory(directory);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') throw new ChunkStoreError('exists', `chunk ${id} already exists`);
      throw asChunkStoreError(error, `put chunk ${id}`);
    }
  }

  async get(id: ChunkId, range?: ByteRange, options?: GetOptions): Promise<Uint8Array> {
    this.#checkOpen();
    checkChunkId(id);
    checkRange(range);
    let handle: FileHandle;
    try {
      handle = await open(join(this.#directoryOf(id), id), fsConstants.O_RDONLY);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new ChunkStoreError('not-found', `chunk ${id} not found`);
      throw asChunkStoreError(error, `open chunk ${id}`);
    }
    try {
      // A range that fits the caller's buffer needs no stat: reads stop at the end of the file,
      // which is the clipping the contract asks for (put links a chunk in only once it is whole).
      // Otherwise the size bounds what is allocated.
      const into = options?.into;
      const unsized = range !== undefined && into !== undefined && into.byteLength >= range.length;
      const { start, end } = unsized ? { start: range.offset, end: range.offset + range.length } : clipRange((await handle.stat()).size, range);
      const buffer = targetFor(end - start, into);
      let filled = 0;
      while (filled < buffer.byteLength) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.byteLength - filled, start + filled);
        if (bytesRead === 0) {
          if (!unsized) throw new ChunkStoreError('corrupt', `chunk ${id} ended at ${start + filled} bytes, before its size`);
          break;
        }
        filled += bytesRead;
      }
      return filled === buffer.byteLength ? buffer : buffer.subarray(0, filled);
    } catch (error) {
      throw asChunkStoreError(error, `read chunk ${id}`);
    } finally {
      await handle.close();
    }
  }

  /** Idempotent. Not fsynced: a delete lost in a crash leaves an orphan the collector finds again. */
  async delete(id: ChunkId): Promise<void> {
    this.#checkOpen();
    checkChunkId(id);
    try {
      await unlink(join(this.#directoryOf(id), id));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw asChunkStoreError(error, `delete chunk ${id}`);
    }
  }

  async list(options: { after?: ChunkId; limit: number }): Promise<ChunkId[]> {
    this.#checkOpen();
    checkListOptions(options);
    const after = options.after ?? '';
    const ids: ChunkId[] = [];
    try {
      for (const top of await sortedNames(this.#root, TOP_PATTERN)) {
        if (top < after.slice(0, 6)) continue;
        for (const middle of await sortedNames(join(this.#root, top), LEAF_PATTERN)) {
          const prefix = top + middle;
          if (prefix < after.slice(0, 8)) continue;
          // Only one leaf directory's names are held at a time.
          for (const name of await sortedNames(join(this.#root, top, middle))) {
            if (!isChunkId(name) || !name.startsWith(prefix) || name <= after) continue;
            ids.push(name);
            if (ids.length === options.limit) return ids;
          }
        }
      }
    } catch (error) {
      throw asChunkStoreError(error, 'list chunks');
    }
    return ids;
  }

  async capacity(): Promise<ChunkCapacity> {
    this.#checkOpen();
    try {
      const stats = await statfs(this.#root);
      return { totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize };
    } catch (error) {
      throw asChunkStoreError(error, 'read capacity');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Resolves once an fsync of `directory` that began after this call is done (coalesced-sync.ts). */
  #syncDirectory(directory: string): Promise<void> {
    let sync = this.#directorySyncs.get(directory);
    if (sync === undefined) {
      sync = new CoalescedSync(
        () => fsyncDirectory(directory),
        () => this.#directorySyncs.delete(directory),
      );
      this.#directorySyncs.set(directory, sync);
    }
    return sync.request();
  }

  #directoryOf(id: ChunkId): string {
    return join(this.#root, id.slice(0, 6), id.slice(6, 8));
  }

  /**
   * Creates the fan-out directories of a leaf and fsyncs each parent, once per process: a chunk is
   * durable only if every directory on its path is. Concurrent puts share one pending promise.
   */
  #ensureDirectory(leaf: string): Promise<void> {
    const pending = this.#readyDirectories.get(leaf);
    if (pending !== undefined) return pending;
    const ready = (async () => {
      const top = join(leaf, '..');
      for (const [directory, parent] of [[top, this.#root], [leaf, top]] as const) {
        await mkdir(directory, { mode: DIRECTORY_MODE }).catch((error: unknown) => {
          if (errorCode(error) !== 'EEXIST') throw error;
        });
        // Fsynced even when it already existed: a crash before an earlier process's fsync could
        // have left the entry unsynced.
        await fsyncDirectory(parent);
      }
    })();
    this.#readyDirectories.set(leaf, ready);
    ready.catch(() => this.#readyDirectories.delete(leaf));
    return ready;
  }

  async #removeStaleTempFiles(cutoffMs: number): Promise<number> {
    let removed = 0;
    for (const top of await sortedNames(this.#root, TOP_PATTERN)) {
      for (const middle of await sortedNames(join(this.#root, top), LEAF_PATTERN)) {
        const directory = join(this.#root, top, middle);
        // Streamed rather than read whole: the sweep needs no order.
        for await (const entry of await opendir(directory)) {
          if (!entry.name.startsWith(TEMP_PREFIX)) continue;
          const path = join(directory, entry.name);
          const stats = await stat(path).catch(() => undefined);
          if (stats === undefined || stats.mtimeMs >= cutoffMs) continue;
          await unlink(path).catch((error: unknown) => {
            if (errorCode(error) !== 'ENOENT') throw error;
          });
          removed += 1;
        }
      }
    }
    return removed;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ChunkStoreError('unavailable', `local chunk store ${this.#root} is closed`);
  }
}

async function writeDurably(path: string, data: Uint8Array): Promise<void> {
  const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, CHUNK_FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Names in a directory, sorted, optionally filtered; a directory that vanished is empty. */
async function sortedNames(directory: string, pattern?: RegExp): Promise<string[]> {
  try {
    const names = await readdir(directory);
    return (pattern === undefined ? names : names.filter((name) => pattern.test(name))).sort();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** File-system failures other than the expected ones mean the store cannot serve: 'unavailable'. */
function asChunkStoreError(error: unknown, action: string): ChunkStoreError {
  if (error instanceof ChunkStoreError) return error;
  return new ChunkStoreError('unavailable', `could not ${action}: ${errorCode(error) ?? String(error)}`, { cause: error });
}
