/**
 * Recently written and read inline chunks (small files' bytes, stored in the metadata store under
 * their chunk id), bounded by bytes, least recently used first out. Exact without invalidation:
 * a chunk id is drawn at random for one write and its bytes never change, so any cached bytes are
 * the bytes of that id. An id is only ever asked for by a read whose transaction saw the commit
 * that referenced it, so filling when the writing transaction stages it (before its commit) is
 * safe; bytes of a transaction that failed are never asked for and age out.
 */
export class InlineCache {
  readonly #entries = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(readonly bytesMax: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** The bytes of `chunkId`, shared: callers copy out of them and never change them. */
  get(chunkId: string): Uint8Array | undefined {
    const bytes = this.#entries.get(chunkId);
    if (bytes !== undefined) {
      this.#entries.delete(chunkId);
      this.#entries.set(chunkId, bytes);
    }
    return bytes;
  }

  /** Remembers `bytes` (owned by the cache from now on) as the bytes of `chunkId`. */
  set(chunkId: string, bytes: Uint8Array): void {
    if (bytes.length > this.bytesMax) return;
    const previous = this.#entries.get(chunkId);
    if (previous !== undefined) {
      this.#entries.delete(chunkId);
      this.#bytes -= previous.length;
    }
    while (this.#bytes + bytes.length > this.bytesMax) {
      const [oldestId, oldest] = this.#entries.entries().next().value as [string, Uint8Array];
      this.#entries.delete(oldestId);
      this.#bytes -= oldest.length;
    }
    this.#entries.set(chunkId, bytes);
    this.#bytes += bytes.length;
  }

  /** Forgets `chunkId` (its chunk was reclaimed): frees the memory early; never needed for correctness. */
  delete(chunkId: string): void {
    const bytes = this.#entries.get(chunkId);
    if (bytes === undefined) return;
    this.#entries.delete(chunkId);
    this.#bytes -= bytes.length;
  }
}
