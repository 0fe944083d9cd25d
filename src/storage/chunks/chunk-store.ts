/**
 * ChunkStore: a write-once blob store for file data. Chunks are immutable: a chunk is written
 * once under an id chosen by the caller, read any number of times, and deleted once nothing
 * references it (core's garbage collector decides that). Layers (encryption, caching,
 * instrumentation) take a ChunkStore and return a ChunkStore.
 *
 * Contract (checked by chunk-store.contract.ts against every backend and layer):
 * - `put` resolves once the chunk is durable; a put of an id that already exists rejects with
 *   ChunkStoreError code 'exists' and leaves the stored chunk unchanged. A put that fails or is
 *   interrupted (crash) leaves either nothing or the whole chunk under that id, never a torn one.
 * - `get` of a missing chunk rejects with code 'not-found'; a range beyond the end is clipped.
 * - Neither keeps a reference to the caller's buffers once its promise settles: `put`'s `data`,
 *   and `get`'s `into` (a buffer the store may read the bytes into, returning a view of its start;
 *   a store may ignore it and return a buffer of its own). So a layer can reuse them.
 * - `delete` is idempotent: deleting a missing chunk succeeds.
 * - `list` pages through ids in ascending order, after `after`, at most `limit` at a time.
 */

/** 32 lowercase hex characters; see chunk-id.ts. */
export type ChunkId = string;

export const CHUNK_BYTES_MAX = 8 * 1024 * 1024;
export const LIST_LIMIT_MAX = 10_000;

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

export interface ChunkCapacity {
  readonly totalBytes: number;
  readonly freeBytes: number;
}

export interface GetOptions {
  /** Where the bytes may be read to, if it is large enough (see the contract above). */
  readonly into?: Uint8Array;
}

export interface ChunkStore {
  put(id: ChunkId, data: Uint8Array): Promise<void>;
  get(id: ChunkId, range?: ByteRange, options?: GetOptions): Promise<Uint8Array>;
  delete(id: ChunkId): Promise<void>;
  list(options: { after?: ChunkId; limit: number }): Promise<ChunkId[]>;
  capacity(): Promise<ChunkCapacity>;
  close(): Promise<void>;
  /**
   * Optional: nothing references these chunks any more and their owner will delete them soon
   * (core's collector waits first, for reads planned before, which plan again if a chunk is gone).
   * A caching layer may hold off copying them, or drop them early: a get then rejects
   * 'not-found', as after the delete. Called only for chunks that are never referenced again.
   * Layers pass it on.
   */
  expectDelete?(ids: readonly ChunkId[]): void;
}

export type ChunkStoreErrorCode = 'exists' | 'not-found' | 'corrupt' | 'invalid' | 'unavailable';

export class ChunkStoreError extends Error {
  readonly code: ChunkStoreErrorCode;

  constructor(code: ChunkStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChunkStoreError';
    this.code = code;
  }
}
