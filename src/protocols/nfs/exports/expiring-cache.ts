/**
 * A bounded map whose entries expire, for answers that are dear to get and fine to reuse for a
 * while: a client address's forward-confirmed names (DNS), a uid's groups (the identity store).
 * A fresh entry is answered synchronously, so a per-call check that hits costs no promise.
 * Concurrent misses for one key share one load. When full, the entry stored longest ago goes
 * first (Map insertion order). A load that rejects is not stored; its error reaches every waiter.
 */
export interface ExpiringCacheOptions {
  readonly entriesMax: number;
  readonly nowMs: () => number;
}

export class ExpiringCache<K, V> {
  private readonly entries = new Map<K, { readonly value: V; readonly expiresAtMs: number }>();
  private readonly loading = new Map<K, Promise<V>>();

  constructor(private readonly options: ExpiringCacheOptions) {
    if (!Number.isSafeInteger(options.entriesMax) || options.entriesMax < 1) throw new Error(`assertion failed: entriesMax ${options.entriesMax}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The stored value while it is fresh (wrapped, since a value may itself be undefined). */
  peek(key: K): { readonly value: V } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > this.options.nowMs()) return entry;
    this.entries.delete(key);
    return undefined;
  }

  /** True while a load for `key` is in flight (a `get` would join it). */
  isLoading(key: K): boolean {
    return this.loading.has(key);
  }

  /**
   * The fresh value, else the one load in flight for `key`, else a new `load()` whose value is
   * kept for `ttlMsOf(value)` milliseconds (0: not kept).
   */
  get(key: K, load: () => Promise<V>, ttlMsOf: (value: V) => number): V | Promise<V> {
    const fresh = this.peek(key);
    if (fresh !== undefined) return fresh.value;
    const pending = this.loading.get(key);
    if (pending !== undefined) return pending;
    const loaded = load().then(
      (value) => {
        this.loading.delete(key);
        this.set(key, value, ttlMsOf(value));
        return value;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  set(key: K, value: V, ttlMs: number): void {
    this.entries.delete(key);
    if (ttlMs <= 0) return;
    if (this.entries.size >= this.options.entriesMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAtMs: this.options.nowMs() + ttlMs });
  }
}
