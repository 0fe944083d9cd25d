/**
 * MetadataStore in memory, for tests and throw-away instances. Nothing is durable: a write is
 * "durable" once applied to the map, which is all this backend's storage promises.
 *
 * Isolation: write transactions run one at a time and buffer their changes in an overlay that
 * their own reads consult first; on success the overlay is applied in one synchronous step. Read
 * transactions hold a shared gate for their whole life, and applying a commit waits until no read
 * transaction is open (new readers queue behind a waiting commit, so writers do not starve). Read
 * transactions are short by contract (they await only their own methods), so the wait is short.
 */
import { checkKey, checkScanOptions, checkValue } from '../limits.js';
import {
  MetadataStoreError,
  type Entry,
  type CommitListener,
  type Key,
  type MetadataStore,
  type ReadTransaction,
  type ScanOptions,
  type Value,
  type WriteTransaction,
} from '../metadata-store.js';
import { compareKeys } from '../tuple.js';
import { SortedEntries } from './sorted-entries.js';

export class MemoryMetadataStore implements MetadataStore {
  private readonly entries = new SortedEntries();
  private readonly gate = new CommitGate();
  private writeTail: Promise<void> = Promise.resolve();
  private readonly readsInFlight = new Set<Promise<unknown>>();
  private closed = false;
  private sequence = 0;
  private readonly commitListeners = new Set<CommitListener>();

  onCommitted(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MetadataStoreError('metadata store is closed'));
    const run = this.runRead(fn);
    const settled = run.then(noop, noop);
    this.readsInFlight.add(settled);
    void settled.then(() => this.readsInFlight.delete(settled));
    return run;
  }

  write<T>(fn: (tx: WriteTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MetadataStoreError('metadata store is closed'));
    const run = this.writeTail.then(() => this.runWrite(fn));
    this.writeTail = run.then(noop, noop);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writeTail;
    await Promise.all([...this.readsInFlight]);
  }

  private async runRead<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
    await this.gate.enterRead();
    const tx = new MemoryReadTransaction(this.entries, this.sequence);
    try {
      return await fn(tx);
    } finally {
      tx.finish();
      this.gate.leaveRead();
    }
  }

  private async runWrite<T>(fn: (tx: WriteTransaction) => Promise<T>): Promise<T> {
    const tx = new MemoryWriteTransaction(this.entries);
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      tx.finish();
      tx.rolledBack();
      throw error;
    }
    tx.finish();
    await this.gate.commit(() => {
      tx.applyTo(this.entries);
      this.sequence++;
      const keys = tx.changedKeys();
      const values = tx.changedValues();
      for (const listener of this.commitListeners) listener(keys, this.sequence, values);
    });
    return result;
  }
}

function noop(): void {}

function copy(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}

function copyEntry(entry: Entry): Entry {
  return { key: copy(entry.key), value: copy(entry.value) };
}

/** Readers share the gate; a commit waits for the readers inside to leave and holds new ones back. */
class CommitGate {
  private readers = 0;
  private readersGone: (() => void) | undefined;
  private commitDone: Promise<void> | undefined;

  async enterRead(): Promise<void> {
    while (this.commitDone !== undefined) await this.commitDone;
    this.readers++;
  }

  leaveRead(): void {
    this.readers--;
    if (this.readers === 0 && this.readersGone !== undefined) {
      const wake = this.readersGone;
      this.readersGone = undefined;
      wake();
    }
  }

  /** Callers are serialised by the write queue, so at most one commit waits at a time. */
  async commit(apply: () => void): Promise<void> {
    let done!: () => void;
    this.commitDone = new Promise((resolve) => (done = resolve));
    try {
      if (this.readers > 0) await new Promise<void>((resolve) => (this.readersGone = resolve));
      apply();
    } finally {
      this.commitDone = undefined;
      done();
    }
  }
}

class MemoryReadTransaction implements ReadTransaction {
  protected finished = false;

  constructor(
    protected readonly entries: SortedEntries,
    readonly sequence?: number,
  ) {}

  finish(): void {
    this.finished = true;
  }

  async get(key: Key): Promise<Value | undefined> {
    this.checkOpen();
    checkKey(key);
    const value = this.lookup(key);
    return value === undefined ? undefined : copy(value);
  }

  async scan(options: ScanOptions): Promise<Entry[]> {
    this.checkOpen();
    checkScanOptions(options);
    const out: Entry[] = [];
    if (options.limit === 0 || compareKeys(options.start, options.end) >= 0) return out;
    for (const entry of this.range(options)) {
      out.push(copyEntry(entry));
      if (out.length >= options.limit) break;
    }
    return out;
  }

  protected lookup(key: Key): Value | undefined {
    return this.entries.get(key);
  }

  protected range(options: ScanOptions): Iterable<Entry> {
    return this.entries.range(options.start, options.end, options.reverse === true);
  }

  protected checkOpen(): void {
    if (this.finished) throw new MetadataStoreError('transaction is finished; it cannot be used after its function returned');
  }
}

/** A pending change: a value to store, or `undefined` for a delete. */
interface Change {
  readonly key: Key;
  readonly value: Value | undefined;
}

class MemoryWriteTransaction extends MemoryReadTransaction implements WriteTransaction {
  /** Keyed by hex so that equal byte strings meet; holds private copies of the caller's bytes. */
  private readonly changes = new Map<string, Change>();
  private readonly rollbackCallbacks: Array<() => void> = [];

  onRollback(callback: () => void): void {
    this.rollbackCallbacks.push(callback);
  }

  rolledBack(): void {
    for (const callback of this.rollbackCallbacks.splice(0)) callback();
  }

  put(key: Key, value: Value): void {
    this.checkOpen();
    checkKey(key);
    checkValue(value);
    const owned = copy(key);
    this.changes.set(Buffer.from(owned).toString('hex'), { key: owned, value: copy(value) });
  }

  delete(key: Key): void {
    this.checkOpen();
    checkKey(key);
    const owned = copy(key);
    this.changes.set(Buffer.from(owned).toString('hex'), { key: owned, value: undefined });
  }

  changedKeys(): Key[] {
    return [...this.changes.values()].map((change) => change.key);
  }

  /** Beside each of changedKeys(), the value put or undefined (deleted). */
  changedValues(): Array<Value | undefined> {
    return [...this.changes.values()].map((change) => change.value);
  }

  applyTo(entries: SortedEntries): void {
    for (const change of this.changes.values()) {
      if (change.value === undefined) entries.delete(change.key);
      else entries.set(change.key, change.value);
    }
  }

  protected override lookup(key: Key): Value | undefined {
    const change = this.changes.get(Buffer.from(key).toString('hex'));
    return change === undefined ? super.lookup(key) : change.value;
  }

  /** Merges the committed range with this transaction's changes in the range, in scan order. */
  protected override *range(options: ScanOptions): Iterable<Entry> {
    const reverse = options.reverse === true;
    const direction = reverse ? -1 : 1;
    const pending = [...this.changes.values()]
      .filter((change) => compareKeys(change.key, options.start) >= 0 && compareKeys(change.key, options.end) < 0)
      .sort((left, right) => direction * compareKeys(left.key, right.key));
    let next = 0;
    for (const committed of super.range(options)) {
      for (; next < pending.length; next++) {
        const change = pending[next] as Change;
        const order = direction * compareKeys(change.key, committed.key);
        if (order > 0) break;
        if (change.value !== undefined) yield { key: change.key, value: change.value };
        if (order === 0) break;
      }
      const shadow = pending[next];
      if (shadow !== undefined && compareKeys(shadow.key, committed.key) === 0) {
        next++;
        continue;
      }
      yield committed;
    }
    for (; next < pending.length; next++) {
      const change = pending[next] as Change;
      if (change.value !== undefined) yield { key: change.key, value: change.value };
    }
  }
}
