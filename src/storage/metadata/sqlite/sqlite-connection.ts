/**
 * Opening one SQLite connection to the metadata database, encrypted or not, with the settings the
 * store's durability and isolation depend on, and the prepared statements it uses.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { MetadataStoreError } from '../metadata-store.js';

export type Connection = Database.Database;

export const ENCRYPTION_KEY_BYTES = 32;

/** Runs one SQLite call; any failure of SQLite becomes a MetadataStoreError naming the step. */
export function guard<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof MetadataStoreError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new MetadataStoreError(`metadata database: ${what} failed: ${detail}`, { cause: error });
  }
}

/**
 * The page cipher of an encrypted database (decision 0002): AEGIS-256 for databases made since
 * 2026-11-28, SQLCipher 4 for older ones, which keep opening as they are.
 */
export type PageCipher = 'aegis' | 'sqlcipher';
export const NEW_DATABASE_CIPHER: PageCipher = 'aegis';

export interface ConnectionOptions {
  readonly path: string;
  readonly encryptionKey: Uint8Array | undefined;
  readonly readonly: boolean;
  readonly busyTimeoutMs: number;
  /** The cipher to key with; without it, an existing database is tried with each (openWriter). */
  readonly cipher?: PageCipher;
}

/**
 * Opens and keys a connection and proves the key by reading the schema. The writer also sets WAL
 * and synchronous=NORMAL with the store's own WAL fsync (docs/decisions/0001) and creates the table; readers only read.
 */
export function openConnection(options: ConnectionOptions): Connection {
  const connection = guard(`opening ${options.path}`, () =>
    new Database(options.path, { readonly: options.readonly, fileMustExist: options.readonly }),
  );
  try {
    configure(connection, options);
    return connection;
  } catch (error) {
    connection.close();
    throw error;
  }
}

/**
 * Opens the writer connection and tells which cipher the database uses. Each cipher is tried in
 * turn, AEGIS-256 first: a new (empty) database opens with it at once, and an older SQLCipher one
 * fails that first read (exactly as a wrong key does, before anything is written) and opens with
 * the next.
 */
export function openWriter(options: Omit<ConnectionOptions, 'readonly' | 'cipher'>): { connection: Connection; cipher: PageCipher | undefined } {
  if (options.encryptionKey === undefined) return { connection: openConnection({ ...options, readonly: false }), cipher: undefined };
  let failure: unknown;
  for (const cipher of [NEW_DATABASE_CIPHER, 'sqlcipher'] as const) {
    try {
      return { connection: openConnection({ ...options, readonly: false, cipher }), cipher };
    } catch (error) {
      if (!(error instanceof NotADatabaseError)) throw error;
      failure = error;
    }
  }
  throw failure;
}

/** The first read failed with SQLITE_NOTADB: a wrong key, a wrong cipher, or not a database. */
export class NotADatabaseError extends MetadataStoreError {}

function configure(connection: Connection, options: ConnectionOptions): void {
  const { encryptionKey } = options;
  if (encryptionKey !== undefined) {
    // docs/decisions/0002: keyed with the raw 256-bit key (the x'' form skips the passphrase KDF:
    // the key is already uniformly random, from the keyring). AEGIS-256 (an AEAD per page) for
    // new databases; the SQLCipher 4 format for databases made before.
    const hexKey = Buffer.from(encryptionKey).toString('hex');
    const cipher = options.cipher ?? NEW_DATABASE_CIPHER;
    guard('setting the cipher', () => {
      if (cipher === 'aegis') {
        connection.pragma(`cipher='aegis'`);
        connection.pragma(`algorithm='aegis-256'`);
      } else {
        connection.pragma(`cipher='sqlcipher'`);
        connection.pragma('legacy=4');
      }
      connection.pragma(`key="x'${hexKey}'"`);
    });
  }
  try {
    connection.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB') {
      const why = encryptionKey === undefined ? 'it is encrypted and no key was given, or it is' : 'the encryption key is wrong, or it is';
      throw new NotADatabaseError(`cannot open metadata database ${options.path}: ${why} not a metadata database`, { cause: error });
    }
    throw guard('reading the schema', () => {
      throw error;
    });
  }
  guard('configuring the connection', () => {
    connection.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    // Temporary tables and sort spills stay in memory: temp files are not encrypted.
    connection.pragma('temp_store = MEMORY');
    // Decrypted pages are cached per connection: a larger cache means fewer pages decrypted again.
    connection.pragma(`cache_size = -${options.readonly ? READER_CACHE_KIB : WRITER_CACHE_KIB}`);
    if (options.readonly) return;
    const mode = connection.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    // NORMAL: a COMMIT writes the WAL without an fsync; the store fdatasyncs the WAL off the event
    // loop before it acknowledges a batch (wal-sync.ts, docs/decisions/0001). Checkpoints still
    // sync the WAL before copying it and the database after.
    connection.pragma('synchronous = NORMAL');
    connection.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    connection.exec('CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
  });
}

/** Page cache per connection (KiB): the writer has its own, and so has each of the readers. */
const WRITER_CACHE_KIB = 32 * 1024;
const READER_CACHE_KIB = 8 * 1024;
/**
 * Pages the WAL may hold before a commit also checkpoints it into the database (SQLite's default
 * is 1,000). Fewer, larger checkpoints write each hot page once instead of many times.
 */
const WAL_AUTOCHECKPOINT_PAGES = 8_000;

/** The statements of one connection, prepared once. */
export class Statements {
  readonly get: Database.Statement<[Uint8Array], Buffer>;
  readonly scanForward: Database.Statement<[Uint8Array, Uint8Array, number], [Buffer, Buffer]>;
  readonly scanReverse: Database.Statement<[Uint8Array, Uint8Array, number], [Buffer, Buffer]>;
  readonly begin: Database.Statement<[]>;
  readonly commit: Database.Statement<[]>;
  readonly rollback: Database.Statement<[]>;
  /** A read that fixes a read transaction's snapshot at its start. */
  readonly fixSnapshot: Database.Statement<[]>;

  constructor(readonly connection: Connection, options: { readonly: boolean }) {
    const { get, forward, reverse, begin } = guard('preparing statements', () => ({
      get: connection.prepare<[Uint8Array], Buffer>('SELECT value FROM kv WHERE key = ?').pluck(),
      forward: connection.prepare<[Uint8Array, Uint8Array, number], [Buffer, Buffer]>(
        'SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?',
      ).raw(),
      reverse: connection.prepare<[Uint8Array, Uint8Array, number], [Buffer, Buffer]>(
        'SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT ?',
      ).raw(),
      // A writer takes the write lock at once; a reader's first read (made at once) fixes its snapshot.
      begin: connection.prepare<[]>(options.readonly ? 'BEGIN DEFERRED' : 'BEGIN IMMEDIATE'),
    }));
    this.get = get;
    this.scanForward = forward;
    this.scanReverse = reverse;
    this.begin = begin;
    this.commit = guard('preparing statements', () => connection.prepare<[]>('COMMIT'));
    this.rollback = guard('preparing statements', () => connection.prepare<[]>('ROLLBACK'));
    this.fixSnapshot = guard('preparing statements', () => connection.prepare<[]>('SELECT count(*) FROM sqlite_master'));
  }
}

/** The writer's extra statements. */
export class WriterStatements extends Statements {
  readonly put: Database.Statement<[Uint8Array, Uint8Array]>;
  readonly delete: Database.Statement<[Uint8Array]>;
  readonly savepoint: Database.Statement<[]>;
  readonly release: Database.Statement<[]>;
  readonly rollbackToSavepoint: Database.Statement<[]>;

  constructor(connection: Connection) {
    super(connection, { readonly: false });
    const prepare = <P extends unknown[]>(sql: string): Database.Statement<P> =>
      guard('preparing statements', () => connection.prepare<P>(sql));
    this.put = prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.delete = prepare('DELETE FROM kv WHERE key = ?');
    this.savepoint = prepare('SAVEPOINT transaction_savepoint');
    this.release = prepare('RELEASE transaction_savepoint');
    this.rollbackToSavepoint = prepare('ROLLBACK TO transaction_savepoint');
  }
}

/** A plain Uint8Array the caller owns, from a Buffer SQLite returned (copied if it shares memory). */
export function fromBuffer(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength);
  }
  return Uint8Array.prototype.slice.call(buffer);
}
