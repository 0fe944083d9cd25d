/**
 * MetadataStore: a narrow, ordered, transactional key-value store. Keys and values are bytes;
 * keys sort bytewise (memcmp). Every file-system rule lives in core; a backend only stores.
 *
 * Contract (checked by metadata-store.contract.ts against every backend):
 * - `write(fn)` runs `fn` atomically and in isolation from other write transactions: write
 *   transactions are serialisable (backends may simply run them one at a time). If `fn` throws or
 *   rejects, none of its changes are applied and the promise rejects with the same error.
 *   The promise resolves only once the changes are durable (they survive kill -9 or power loss,
 *   within what the backend's storage promises). Backends may group several transactions into one
 *   durable commit (group commit); each still succeeds or fails as a whole.
 * - Inside a write transaction, reads see the transaction's own earlier puts and deletes.
 * - `read(fn)` sees committed data only (never another transaction's uncommitted changes), and
 *   every read inside one read transaction sees the same committed state (snapshot).
 * - `fn` must only await the transaction's own methods: no I/O of its own, no timers. A
 *   transaction that awaits anything else holds up every other writer.
 * - `scan` returns at most `limit` entries (required, at most SCAN_LIMIT_MAX), in key order, or
 *   reverse key order when `reverse` is set; the range is [start, end). Nothing loads a whole
 *   table.
 * - Returned byte arrays belong to the caller; the store never mutates them afterwards, and it
 *   copies what it is given, so the caller may reuse its buffers.
 */

export type Key = Uint8Array;
export type Value = Uint8Array;

export const SCAN_LIMIT_MAX = 10_000;
export const KEY_BYTES_MAX = 4_096;
export const VALUE_BYTES_MAX = 16 * 1024 * 1024;

export interface ScanOptions {
  /** Inclusive lower bound. */
  readonly start: Key;
  /** Exclusive upper bound. */
  readonly end: Key;
  readonly limit: number;
  readonly reverse?: boolean;
}

export interface Entry {
  readonly key: Key;
  readonly value: Value;
}

export interface ReadTransaction {
  get(key: Key): Promise<Value | undefined>;
  scan(options: ScanOptions): Promise<Entry[]>;
  /**
   * For a read transaction of a store that reports commits (`onCommitted`): how many commits its
   * snapshot includes, exactly. Undefined for write transactions (they also see their own and
   * their batch's uncommitted changes).
   */
  readonly sequence?: number;
}

export interface WriteTransaction extends ReadTransaction {
  put(key: Key, value: Value): void;
  delete(key: Key): void;
  /**
   * Registers `callback` to run if this transaction's changes are discarded: its function failed,
   * or the group commit it joined failed. Callbacks run synchronously before any later write
   * transaction starts, so in-memory state derived from uncommitted writes (caches, id
   * reservations) is dropped in time. Never called for a transaction that committed.
   */
  onRollback(callback: () => void): void;
}

export type CommitListener = (keys: readonly Key[], sequence: number, values: readonly (Value | undefined)[]) => void;

export interface MetadataStore {
  read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` after each commit, synchronously and before any read transaction can see
   * it, with every key the commit wrote (put or deleted), the commit's sequence number (the
   * `sequence` of read transactions that see it), and beside each key the value it was put with
   * (undefined: deleted). A key may appear more than once; its last appearance is what the commit
   * left. Keys and values are the store's own copies, shared by all listeners: read-only. For
   * caches of committed reads. Returns the function that stops listening.
   */
  onCommitted?(listener: CommitListener): () => void;
  write<T>(fn: (tx: WriteTransaction) => Promise<T>): Promise<T>;
  /** Waits for in-flight transactions, then releases resources. Later calls reject. */
  close(): Promise<void>;
}

/** Thrown by a store that is closed, or whose storage failed; core maps it to `Unavailable`. */
export class MetadataStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataStoreError';
  }
}
