/**
 * Reusable buffers for chunk bytes on their way to and from a store.
 *
 * Every ArrayBuffer Node allocates counts as V8 "external memory", and each 64 MiB of it allocated
 * since the last full collection starts another one (a constant in V8, not a flag). Sealing or
 * opening a 1 MiB read or write allocated three such buffers, so a stream of large reads or writes
 * ran a full mark of the heap every ~60 ms, about a third of the event loop's time (measured with
 * --trace-gc on a 1 GiB NFS read). A sealed buffer lives only between the inner store's read and
 * the opening of its frames (or between sealing and the inner put), and a chunk the write cache
 * copies only between its read and the tier's put: the layer takes a buffer from here and gives
 * it back when that step settles (stores keep no reference to callers' buffers: chunk-store.ts).
 *
 * In the server's stack (encryption over the write cache) only sealed bytes (header, ciphertext,
 * tags) pass through these buffers: a bug that let one escape would show ciphertext, never
 * another file's plaintext.
 */

/** Smallest pooled size; smaller requests are cheap to allocate and are not pooled. */
export const POOLED_BYTES_MIN = 64 * 1024;
/** Largest pooled size: a whole sealed chunk fits (CHUNK_BYTES_MAX plus its framing, rounded up). */
export const POOLED_BYTES_MAX = 16 * 1024 * 1024;
/** Idle buffers kept, in bytes over all sizes; a buffer given back beyond that is dropped. */
export const POOL_IDLE_BYTES_MAX = 32 * 1024 * 1024;

export class BufferPool {
  readonly #idle = new Map<number, Uint8Array[]>();
  readonly #lent = new WeakSet<Uint8Array>();
  #idleBytes = 0;

  constructor(private readonly idleBytesMax = POOL_IDLE_BYTES_MAX) {}

  /**
   * A buffer of at least `bytes` (holding what it held when given back: callers overwrite what
   * they use), or undefined when `bytes` is outside the pooled sizes: then the caller allocates.
   */
  take(bytes: number): Uint8Array | undefined {
    if (bytes < POOLED_BYTES_MIN || bytes > POOLED_BYTES_MAX) return undefined;
    const size = sizeClass(bytes);
    const reused = this.#idle.get(size)?.pop();
    if (reused !== undefined) this.#idleBytes -= size;
    const buffer = reused ?? new Uint8Array(new ArrayBuffer(size));
    this.#lent.add(buffer);
    return buffer;
  }

  /** Gives back a buffer `take` returned, once nothing reads or writes it any more. */
  give(buffer: Uint8Array | undefined): void {
    if (buffer === undefined || !this.#lent.delete(buffer)) return;
    if (this.#idleBytes + buffer.byteLength > this.idleBytesMax) return;
    const idle = this.#idle.get(buffer.byteLength);
    if (idle === undefined) this.#idle.set(buffer.byteLength, [buffer]);
    else idle.push(buffer);
    this.#idleBytes += buffer.byteLength;
  }

  /** Bytes held idle, for tests and metrics. */
  get idleBytes(): number {
    return this.#idleBytes;
  }
}

/** The power of two at or above `bytes`. */
function sizeClass(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes));
}
