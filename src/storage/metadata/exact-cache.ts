/**
 * A bounded in-memory cache of records read from the metadata store that is exact, not timed: a
 * reader never gets a record older than the last write that has resolved. It holds because every
 * writer of a cached record runs its write transaction through `mutate` of the one cache for that
 * record (one process; the class that owns the records owns the cache), and:
 *
 * - `mutate` drops the entries it names before the write starts and again once it settles
 *   (committed or not), so nothing read before the commit survives it;
 * - a fill (`get` on a miss) is stored only if no mutation began, ran or ended while it was
 *   reading: one generation counter, bumped at both ends of every mutation, plus the count of
 *   mutations in flight. A fill that read the old record just before a revocation committed can
 *   therefore never put it back after the revocation resolved.
 *
 * The generation is per cache, not per key: any mutation voids every fill in flight. Mutations
 * (revocations, membership changes, bucket changes) are rare next to reads, so this costs a few
 * extra reads and keeps no per-key state that would need bounding of its own.
 *
 * Only defined values are cached: misses for unknown keys (which a client chooses freely) always
 * read, and cannot evict the entries that matter. Values are handed out shared: callers must
 * treat them as immutable (owners freeze what they store).
 */
export class ExactCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #entriesMax: number;
  #generation = 0;
  #mutationsInFlight = 0;

  constructor(options: { entriesMax: number }) {
    if (!Number.isSafeInteger(options.entriesMax) || options.entriesMax < 1) throw new Error(`assertion failed: entriesMax ${options.entriesMax}`);
    this.#entriesMax = options.entriesMax;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached value of `key`, or `load()`'s answer (stored when defined and no mutation raced it). */
  async get(key: K, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      // Least recently used goes first: a Map iterates in insertion order, so re-insert on a hit.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const generation = this.#generation;
    const value = await load();
    if (value !== undefined && this.#mutationsInFlight === 0 && generation === this.#generation) {
      if (this.#entries.size >= this.#entriesMax) this.#entries.delete(this.#entries.keys().next().value as K);
      this.#entries.set(key, value);
    }
    return value;
  }

  /**
   * Runs `write` (a write transaction that changes the records of `keys`, or of keys not known
   * before it runs: 'all'), dropping those entries before it starts and again after it settles.
   * Answers and throws what `write` does.
   */
  async mutate<T>(keys: readonly K[] | 'all', write: () => Promise<T>): Promise<T> {
    this.#drop(keys);
    this.#mutationsInFlight++;
    try {
      return await write();
    } finally {
      this.#mutationsInFlight--;
      this.#drop(keys);
    }
  }

  #drop(keys: readonly K[] | 'all'): void {
    this.#generation++;
    if (keys === 'all') this.#entries.clear();
    else for (const key of keys) this.#entries.delete(key);
  }
}
