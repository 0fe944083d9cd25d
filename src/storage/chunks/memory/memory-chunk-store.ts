import { checkChunkId, checkChunkSize, checkListOptions, clipRange, STORED_CHUNK_BYTES_MAX } from '../chunk-checks.js';
import { ChunkStoreError } from '../chunk-store.js';
import type { ByteRange, ChunkCapacity, ChunkId, ChunkStore } from '../chunk-store.js';

export interface MemoryChunkStoreOptions {
  /** Total bytes the store holds; a put that would exceed it rejects with 'unavailable'. */
  readonly capacityBytes: number;
}

/**
 * A ChunkStore in process memory, for tests and as the reference the contract suite is written
 * against. Stores and returns copies, so no caller can change a stored chunk through a buffer it
 * still holds. Nothing survives close.
 */
export class MemoryChunkStore implements ChunkStore {
  readonly #capacityBytes: number;
  readonly #chunks = new Map<ChunkId, Uint8Array>();
  /** Ids in ascending order, so list pages by binary search instead of sorting every call. */
  readonly #sortedIds: ChunkId[] = [];
  #usedBytes = 0;
  #closed = false;

  constructor(options: MemoryChunkStoreOptions) {
    if (!Number.isSafeInteger(options.capacityBytes) || options.capacityBytes < 0) {
      throw new RangeError(`capacityBytes must be a non-negative integer, got ${options.capacityBytes}`);
    }
    this.#capacityBytes = options.capacityBytes;
  }

  async put(id: ChunkId, data: Uint8Array): Promise<void> {
    this.#checkOpen();
    checkChunkId(id);
    checkChunkSize(id, data.byteLength, STORED_CHUNK_BYTES_MAX);
    if (this.#chunks.has(id)) throw new ChunkStoreError('exists', `chunk ${id} already exists`);
    if (this.#usedBytes + data.byteLength > this.#capacityBytes) {
      throw new ChunkStoreError('unavailable', `no space for chunk ${id}: ${this.#usedBytes} of ${this.#capacityBytes} bytes used`);
    }
    this.#chunks.set(id, new Uint8Array(data));
    this.#sortedIds.splice(this.#indexAfter(id), 0, id);
    this.#usedBytes += data.byteLength;
  }

  async get(id: ChunkId, range?: ByteRange): Promise<Uint8Array> {
    this.#checkOpen();
    checkChunkId(id);
    const data = this.#chunks.get(id);
    if (data === undefined) {
      clipRange(0, range);
      throw new ChunkStoreError('not-found', `chunk ${id} not found`);
    }
    const { start, end } = clipRange(data.byteLength, range);
    return data.slice(start, end);
  }

  async delete(id: ChunkId): Promise<void> {
    this.#checkOpen();
    checkChunkId(id);
    const data = this.#chunks.get(id);
    if (data === undefined) return;
    this.#chunks.delete(id);
    this.#sortedIds.splice(this.#indexAfter(id) - 1, 1);
    this.#usedBytes -= data.byteLength;
  }

  async list(options: { after?: ChunkId; limit: number }): Promise<ChunkId[]> {
    this.#checkOpen();
    checkListOptions(options);
    const start = options.after === undefined ? 0 : this.#indexAfter(options.after);
    return this.#sortedIds.slice(start, start + options.limit);
  }

  async capacity(): Promise<ChunkCapacity> {
    this.#checkOpen();
    return { totalBytes: this.#capacityBytes, freeBytes: this.#capacityBytes - this.#usedBytes };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#chunks.clear();
    this.#sortedIds.length = 0;
    this.#usedBytes = 0;
  }

  /** The index of the first id greater than `id`. */
  #indexAfter(id: ChunkId): number {
    let low = 0;
    let high = this.#sortedIds.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#sortedIds[middle] as ChunkId) <= id) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ChunkStoreError('unavailable', 'memory chunk store is closed');
  }
}
