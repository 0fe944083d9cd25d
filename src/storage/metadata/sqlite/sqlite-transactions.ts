/**
 * Transaction handles over one SQLite connection. A write transaction executes its puts and
 * deletes at once inside its savepoint, so its own reads see them through SQLite itself. Keys and
 * values are bound as the caller's Uint8Arrays (better-sqlite3 binds any byte view, offset
 * included, and SQLite copies bound blobs), with no Buffer made for each; small ones through a
 * scratch copy (`bindable`).
 */
import { checkKey, checkScanOptions, checkValue } from '../limits.js';
import { MetadataStoreError, type Entry, type Key, type ReadTransaction, type ScanOptions, type Value, type WriteTransaction } from '../metadata-store.js';
import { compareKeys } from '../tuple.js';
import { fromBuffer, guard, type Statements, type WriterStatements } from './sqlite-connection.js';

/**
 * V8 keeps a typed array of at most 64 bytes on its own heap (most keys), and binding one hands
 * native code its `.buffer`, which first moves it off the heap: a malloc and an ArrayBuffer per
 * bound key, about 14 per S3 PUT of a small object. Such arrays are bound through a copy in one of
 * two scratch buffers instead; SQLite copies bound blobs and every statement runs synchronously,
 * so the scratch is free again when `run`/`get`/`all` returns. Larger arrays live off the heap
 * from the start and are bound as they are.
 */
const ON_HEAP_BYTES_MAX = 64;
const scratch = [Buffer.allocUnsafeSlow(ON_HEAP_BYTES_MAX), Buffer.allocUnsafeSlow(ON_HEAP_BYTES_MAX)] as const;

function bindable(bytes: Uint8Array, slot: 0 | 1): Uint8Array {
  if (bytes.byteLength > ON_HEAP_BYTES_MAX) return bytes;
  const target = scratch[slot];
  target.set(bytes);
  return target.subarray(0, bytes.byteLength);
}

export class SqliteReadTransaction implements ReadTransaction {
  private finished = false;

  constructor(
    private readonly statements: Statements,
    readonly sequence?: number,
  ) {}

  /** Called by the store when the transaction's function has settled; later use throws. */
  finish(): void {
    this.finished = true;
  }

  async get(key: Key): Promise<Value | undefined> {
    this.checkOpen();
    checkKey(key);
    const value = guard('get', () => this.statements.get.get(bindable(key, 0)));
    return value === undefined ? undefined : fromBuffer(value);
  }

  async scan(options: ScanOptions): Promise<Entry[]> {
    this.checkOpen();
    checkScanOptions(options);
    if (options.limit === 0 || compareKeys(options.start, options.end) >= 0) return [];
    const statement = options.reverse === true ? this.statements.scanReverse : this.statements.scanForward;
    if (options.limit === 1) {
      // One row (every versioned point read): get() skips building a result array.
      const row = guard('scan', () => statement.get(bindable(options.start, 0), bindable(options.end, 1), 1));
      return row === undefined ? [] : [{ key: fromBuffer(row[0]), value: fromBuffer(row[1]) }];
    }
    const rows = guard('scan', () => statement.all(bindable(options.start, 0), bindable(options.end, 1), options.limit));
    return rows.map(([key, value]) => ({ key: fromBuffer(key), value: fromBuffer(value) }));
  }

  protected checkOpen(): void {
    if (this.finished) throw new MetadataStoreError('transaction is finished; it cannot be used after its function returned');
  }
}

export class SqliteWriteTransaction extends SqliteReadTransaction implements WriteTransaction {
  private readonly rollbackCallbacks: Array<() => void> = [];
  /** Every key put or deleted, for the store's commit listeners (owned copies). */
  readonly written: Key[] = [];
  /** Beside each written key, the value put (an owned copy) or undefined for a delete. */
  readonly writtenValues: Array<Value | undefined> = [];

  constructor(private readonly writer: WriterStatements) {
    super(writer);
  }

  onRollback(callback: () => void): void {
    this.rollbackCallbacks.push(callback);
  }

  /** Runs the rollback callbacks once; the store calls it when the changes are discarded. */
  rolledBack(): void {
    for (const callback of this.rollbackCallbacks.splice(0)) callback();
  }

  put(key: Key, value: Value): void {
    this.checkOpen();
    checkKey(key);
    checkValue(value);
    guard('put', () => this.writer.put.run(bindable(key, 0), bindable(value, 1)));
    this.written.push(Uint8Array.prototype.slice.call(key));
    this.writtenValues.push(Uint8Array.prototype.slice.call(value));
  }

  delete(key: Key): void {
    this.checkOpen();
    checkKey(key);
    guard('delete', () => this.writer.delete.run(bindable(key, 0)));
    this.written.push(Uint8Array.prototype.slice.call(key));
    this.writtenValues.push(undefined);
  }
}
