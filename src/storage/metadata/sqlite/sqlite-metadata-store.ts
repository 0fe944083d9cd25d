/**
 * MetadataStore over SQLite (better-sqlite3-multiple-ciphers), its pages encrypted at rest
 * (AEGIS-256, or SQLCipher 4 for databases made before; decision 0002).
 *
 * Writes (docs/decisions/0001): one writer connection in WAL mode. Write transactions queue and
 * run one at a time, grouped into batches: the store opens one SQLite transaction (BEGIN
 * IMMEDIATE), runs each queued transaction inside a savepoint (a failing one is rolled back to its
 * savepoint and rejected with its own error, the others are kept), and commits when the queue is
 * empty or the batch holds `batchMax` transactions. The COMMIT writes the WAL without an fsync
 * (synchronous=NORMAL); the batch's promises resolve only after an fdatasync of the WAL that
 * began after the COMMIT (wal-sync.ts), run off the event loop and shared by every batch that
 * committed meanwhile. If the COMMIT fails, every transaction of the batch rejects; if the fsync
 * fails, the store stops accepting writes (what reached the disk is unknown).
 *
 * Reads: a small pool of read-only connections. WAL lets them read while the writer writes, and
 * they only ever see committed data, never the open batch. A read transaction holds one
 * connection inside BEGIN from start to end, so all its reads see one snapshot across awaits.
 */
import type { Logger } from 'pino';
import { MetadataStoreError, type CommitListener, type MetadataStore, type ReadTransaction, type WriteTransaction } from '../metadata-store.js';
import {
  ENCRYPTION_KEY_BYTES,
  Statements,
  WriterStatements,
  guard,
  openConnection,
  openWriter,
  type Connection,
  type ConnectionOptions,
  type PageCipher,
} from './sqlite-connection.js';
import { SqliteReadTransaction, SqliteWriteTransaction } from './sqlite-transactions.js';
import { WalSync } from './wal-sync.js';
import type { FileHandle } from 'node:fs/promises';

export interface SqliteMetadataStoreOptions {
  readonly path: string;
  /** 32 bytes from the keyring (docs/decisions/0002); without it the database is plaintext. */
  readonly encryptionKey?: Uint8Array;
  readonly logger?: Logger;
  /** Write transactions per durable commit, at most. */
  readonly batchMax?: number;
  /** Write transactions waiting, at most; beyond it `write` rejects with MetadataStoreError. */
  readonly writeQueueMax?: number;
  /** Read connections, at most; read transactions beyond it wait for a free one. */
  readonly readConnectionsMax?: number;
  readonly busyTimeoutMs?: number;
  /** How the WAL file is made durable (tests delay it); fdatasync by default. */
  readonly datasync?: (handle: FileHandle) => Promise<void>;
}

export const SQLITE_DEFAULTS = {
  batchMax: 256,
  writeQueueMax: 100_000,
  readConnectionsMax: 4,
  busyTimeoutMs: 5_000,
} as const;

type WriteJob =
  | {
      readonly kind: 'transaction';
      readonly fn: (tx: WriteTransaction) => Promise<unknown>;
      readonly resolve: (value: unknown) => void;
      readonly reject: (error: unknown) => void;
    }
  | { readonly kind: 'checkpoint'; readonly resolve: (value: unknown) => void; readonly reject: (error: unknown) => void };

/** A transaction of the open batch that succeeded and waits for the batch's COMMIT. */
interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly result: unknown;
  readonly tx: SqliteWriteTransaction;
}

/**
 * A transaction of the open batch that failed with its own error after earlier transactions of
 * the batch wrote: it may have failed because of what they wrote ("exists"), so its caller hears
 * of it only once that is durable (and, if the batch fails, hears the batch's failure instead).
 * Otherwise a caller could be told "exists" and then not find the entry in a read.
 */
interface Refused {
  readonly reject: (error: unknown) => void;
  readonly error: unknown;
}

interface Reader {
  readonly connection: Connection;
  readonly statements: Statements;
}

export class SqliteMetadataStore implements MetadataStore {
  /** The page cipher of the database (decision 0002), or undefined when it is not encrypted. */
  readonly pageCipher: PageCipher | undefined;
  private readonly writer: Connection;
  private readonly writerStatements: WriterStatements;
  private readonly readerOptions: ConnectionOptions;
  private readonly readers: Reader[] = [];
  private readonly idleReaders: Reader[] = [];
  private readonly readerWaiters: Array<(reader: Reader) => void> = [];
  private readonly queue: WriteJob[] = [];
  private readonly logger: Logger | undefined;
  private readonly batchMax: number;
  private readonly writeQueueMax: number;
  private readonly readConnectionsMax: number;
  private pumping: Promise<void> | undefined;
  private readsInFlight = 0;
  private readsDrained: (() => void) | undefined;
  private closed = false;
  private readonly walSync: WalSync;
  /** Set when an fsync of the WAL failed: nothing more is written (decision 0001). */
  private syncFailure: MetadataStoreError | undefined;
  private readonly acknowledging = new Set<Promise<void>>();
  /** Commits so far: a read transaction's `sequence` is this at its snapshot. */
  private sequence = 0;
  private readonly commitListeners = new Set<CommitListener>();
  /** Wakes an open batch that waits for more work while the previous batch's WAL sync runs. */
  private wake: (() => void) | undefined;

  /** Opens (creating if needed) the database; throws MetadataStoreError if it cannot, e.g. a wrong key. */
  constructor(options: SqliteMetadataStoreOptions) {
    this.batchMax = positiveInteger('batchMax', options.batchMax ?? SQLITE_DEFAULTS.batchMax);
    this.writeQueueMax = positiveInteger('writeQueueMax', options.writeQueueMax ?? SQLITE_DEFAULTS.writeQueueMax);
    this.readConnectionsMax = positiveInteger('readConnectionsMax', options.readConnectionsMax ?? SQLITE_DEFAULTS.readConnectionsMax);
    const busyTimeoutMs = positiveInteger('busyTimeoutMs', options.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs);
    if (options.encryptionKey !== undefined && options.encryptionKey.length !== ENCRYPTION_KEY_BYTES) {
      throw new RangeError(`encryptionKey must be ${ENCRYPTION_KEY_BYTES} bytes, got ${options.encryptionKey.length}`);
    }
    this.logger = options.logger;
    const connectionOptions = { path: options.path, encryptionKey: options.encryptionKey, busyTimeoutMs };
    const opened = openWriter(connectionOptions);
    this.writer = opened.connection;
    this.pageCipher = opened.cipher;
    this.walSync = new WalSync(`${options.path}-wal`, options.datasync);
    try {
      this.writerStatements = new WriterStatements(this.writer);
      this.readerOptions = { ...connectionOptions, readonly: true, ...(opened.cipher === undefined ? {} : { cipher: opened.cipher }) };
      this.idleReaders.push(this.openReader());
    } catch (error) {
      this.writer.close();
      throw error;
    }
    this.logger?.info({ path: options.path, encrypted: options.encryptionKey !== undefined, cipher: opened.cipher ?? 'none' }, 'metadata database open');
  }

  static async open(options: SqliteMetadataStoreOptions): Promise<SqliteMetadataStore> {
    return new SqliteMetadataStore(options);
  }

  read<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MetadataStoreError('metadata store is closed'));
    this.readsInFlight++;
    return this.runRead(fn).finally(() => {
      this.readsInFlight--;
      if (this.readsInFlight === 0) this.readsDrained?.();
    });
  }

  onCommitted(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  write<T>(fn: (tx: WriteTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MetadataStoreError('metadata store is closed'));
    if (this.syncFailure !== undefined) return Promise.reject(this.syncFailure);
    if (this.queue.length >= this.writeQueueMax) {
      return Promise.reject(new MetadataStoreError(`metadata write queue is full (${this.writeQueueMax} waiting)`));
    }
    return new Promise<T>((resolve, reject) => {
      this.enqueue({ kind: 'transaction', fn, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /**
   * Copies the WAL into the database file and truncates the WAL (SQLite also checkpoints by
   * itself every 1000 pages). Runs between batches; fails if a read transaction holds old pages.
   */
  checkpoint(): Promise<void> {
    if (this.closed) return Promise.reject(new MetadataStoreError('metadata store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.enqueue({ kind: 'checkpoint', resolve: () => resolve(), reject });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pumping;
    await Promise.allSettled([...this.acknowledging]);
    await this.walSync.close();
    if (this.readsInFlight > 0) await new Promise<void>((resolve) => (this.readsDrained = resolve));
    for (const reader of this.readers) reader.connection.close();
    // Closing the last connection checkpoints the WAL into the database file and removes it.
    guard('closing', () => this.writer.close());
    this.logger?.info('metadata database closed');
  }

  private enqueue(job: WriteJob): void {
    this.queue.push(job);
    this.wake?.();
    this.pumping ??= this.pump();
  }

  /** Drains the queue. Clears `pumping` in the same step that finds the queue empty, so no job strands. */
  private async pump(): Promise<void> {
    try {
      // Lets the callers of this turn queue up before the first batch opens.
      await Promise.resolve();
      while (this.queue.length > 0) {
        const head = this.queue[0];
        if (head?.kind === 'checkpoint') {
          this.queue.shift();
          this.runCheckpoint(head);
        } else {
          await this.runBatch();
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }

  private runCheckpoint(job: WriteJob): void {
    try {
      const [result] = guard('checkpoint', () => this.writer.pragma('wal_checkpoint(TRUNCATE)')) as Array<{ busy: number }>;
      if (result !== undefined && result.busy !== 0) throw new MetadataStoreError('checkpoint blocked by a read transaction');
      job.resolve(undefined);
    } catch (error) {
      job.reject(error);
    }
  }

  /** One batch: BEGIN IMMEDIATE, each transaction in a savepoint, one COMMIT (one fsync). */
  private async runBatch(): Promise<void> {
    const statements = this.writerStatements;
    try {
      guard('begin', () => statements.begin.run());
    } catch (error) {
      const job = this.queue.shift();
      job?.reject(error);
      return;
    }
    const pending: Pending[] = [];
    const refused: Refused[] = [];
    try {
      let ran = 0;
      for (;;) {
        while (ran < this.batchMax && this.queue[0]?.kind === 'transaction') {
          const job = this.queue.shift() as Extract<WriteJob, { kind: 'transaction' }>;
          ran++;
          await this.runInSavepoint(job, pending, refused);
        }
        // While the previous batch's WAL sync runs, this batch could not be acknowledged anyway:
        // keep it open and let more transactions join, then commit once the sync is over (one
        // COMMIT, whose pages are written and encrypted once, for all of them).
        const syncing = this.walSync.inFlight();
        if (syncing === undefined || ran >= this.batchMax || this.queue[0]?.kind === 'checkpoint' || this.closed) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void syncing.then(resolve);
        });
        this.wake = undefined;
        if (this.queue[0]?.kind !== 'transaction') break;
      }
      guard('commit', () => statements.commit.run());
    } catch (error) {
      this.failBatch(pending, error, refused);
      return;
    }
    if (pending.length === 0) {
      for (const failed of refused) failed.reject(failed.error);
      return;
    }
    // Synchronously after the COMMIT, before any reader can begin on the new state.
    this.sequence++;
    if (this.commitListeners.size > 0) {
      const keys = pending.flatMap((done) => done.tx.written);
      const values = pending.flatMap((done) => done.tx.writtenValues);
      for (const listener of this.commitListeners) listener(keys, this.sequence, values);
    }
    // Acknowledged once the WAL is on stable storage; the next batch runs meanwhile.
    const acknowledged = this.walSync.durable().then(
      () => {
        for (const done of pending) done.resolve(done.result);
        for (const failed of refused) failed.reject(failed.error);
      },
      (error: unknown) => {
        this.syncFailure ??= new MetadataStoreError('fsync of the metadata WAL failed; the store accepts no more writes', { cause: error });
        this.logger?.fatal({ err: this.syncFailure }, 'metadata WAL fsync failed');
        for (const done of pending) done.reject(this.syncFailure);
        for (const failed of refused) failed.reject(this.syncFailure);
      },
    );
    this.acknowledging.add(acknowledged);
    void acknowledged.finally(() => this.acknowledging.delete(acknowledged));
  }

  /**
   * Runs one transaction in its savepoint. Its own failure rejects only it; a failure that leaves
   * the batch unusable (SQLite rolled everything back, or the savepoint cannot be undone) throws.
   */
  private async runInSavepoint(job: Extract<WriteJob, { kind: 'transaction' }>, pending: Pending[], refused: Refused[]): Promise<void> {
    const statements = this.writerStatements;
    guard('savepoint', () => statements.savepoint.run());
    const tx = new SqliteWriteTransaction(statements);
    let result: unknown;
    try {
      result = await job.fn(tx);
    } catch (error) {
      tx.finish();
      if (!this.writer.inTransaction) {
        // SQLite rolled back the whole batch; this transaction fails with its own error and the
        // rest of the batch with the batch's.
        tx.rolledBack();
        job.reject(error);
        this.assertBatchOpen(error);
      }
      guard('rollback to savepoint', () => {
        statements.rollbackToSavepoint.run();
        statements.release.run();
      });
      tx.rolledBack();
      // With nothing written before it in this batch, it saw only committed data.
      if (pending.length === 0) job.reject(error);
      else refused.push({ reject: job.reject, error });
      return;
    }
    tx.finish();
    pending.push({ resolve: job.resolve, reject: job.reject, result, tx });
    this.assertBatchOpen(undefined);
    guard('release savepoint', () => statements.release.run());
  }

  /** Some SQLite errors (disk full, I/O) roll back the whole transaction, and so the batch. */
  private assertBatchOpen(cause: unknown): void {
    if (!this.writer.inTransaction) throw new MetadataStoreError('metadata batch was rolled back by SQLite', { cause });
  }

  private failBatch(pending: Pending[], error: unknown, refused: Refused[] = []): void {
    const failure = error instanceof MetadataStoreError ? error : new MetadataStoreError('metadata batch failed', { cause: error });
    this.logger?.error({ err: failure, transactions: pending.length }, 'metadata batch failed; rolling back');
    if (this.writer.inTransaction) {
      try {
        this.writerStatements.rollback.run();
      } catch (rollbackError) {
        this.logger?.error({ err: rollbackError }, 'metadata batch rollback failed');
      }
    }
    for (const done of pending) done.tx.rolledBack();
    for (const done of pending) done.reject(failure);
    for (const failed of refused) failed.reject(failure);
  }

  private async runRead<T>(fn: (tx: ReadTransaction) => Promise<T>): Promise<T> {
    const reader = await this.acquireReader();
    try {
      // The snapshot is fixed and its sequence taken in one synchronous step: no COMMIT (also
      // synchronous, on this thread) can fall between them.
      const sequence = guard('begin read', () => {
        reader.statements.begin.run();
        // The first read fixes the snapshot now, not at the transaction's first get.
        reader.statements.fixSnapshot.get();
        return this.sequence;
      });
      const tx = new SqliteReadTransaction(reader.statements, sequence);
      try {
        return await fn(tx);
      } finally {
        tx.finish();
        guard('end read', () => {
          if (reader.connection.inTransaction) reader.statements.rollback.run();
        });
      }
    } finally {
      this.releaseReader(reader);
    }
  }

  private openReader(): Reader {
    const connection = openConnection(this.readerOptions);
    const reader = { connection, statements: new Statements(connection, { readonly: true }) };
    this.readers.push(reader);
    return reader;
  }

  private async acquireReader(): Promise<Reader> {
    const idle = this.idleReaders.pop();
    if (idle !== undefined) return idle;
    if (this.readers.length < this.readConnectionsMax) return this.openReader();
    return new Promise<Reader>((resolve) => this.readerWaiters.push(resolve));
  }

  private releaseReader(reader: Reader): void {
    const waiter = this.readerWaiters.shift();
    if (waiter !== undefined) waiter(reader);
    else this.idleReaders.push(reader);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

