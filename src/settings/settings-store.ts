import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { FsError } from '../core/errors.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore, ReadTransaction } from '../storage/metadata/metadata-store.js';
import { key, KeyReader, prefixEnd } from '../storage/metadata/tuple.js';

/**
 * Instance settings in the metadata store under Keyspace.settings, each with a version counter
 * (optimistic concurrency: a change may name the version it read and fails with Conflict if
 * another change got there first) and change listeners (a protocol starts or stops listening when
 * its `enabled` flips, without a restart).
 *
 * Layout, one sub-tag per settings area (SettingsTag):
 *   [settings, tag]                  -> {version, value} (JSON)   a singleton (protocol settings)
 *   [settings, tag, 0x00]            -> last id issued (JSON)     a collection's id counter
 *   [settings, tag, 0x01, uint id]   -> {version, value} (JSON)   a collection record (exports)
 * A singleton never written reads as its defaults at version 0.
 */

export const SettingsTag = {
  s3: 0x01,
  nfs: 0x02,
  smb: 0x03,
  ftp: 0x04,
  networkRules: 0x05,
  webUi: 0x06,
  /** 0x07: the audit syslog configuration (audit/syslog/syslog-config.ts). */
  sessions: 0x08,
  /** 0x09-0x0f: reserved for later singletons; 0x0e: audit retention (audit/retention-config.ts). */
  nfsExports: 0x10,
  smbShares: 0x11,
} as const;

const COUNTER = 0x00;
const RECORD = 0x01;
const ID_PATTERN = /^[1-9][0-9]{0,14}$/;

export interface Versioned<T> {
  readonly value: T;
  readonly version: number;
}

export interface StoredRecord<T> extends Versioned<T> {
  readonly id: string;
}

/** A settings document: its schema-checked, completed form is built by `parse`. */
export interface SingletonDefinition<T> {
  readonly tag: number;
  /** What an operator calls it, in messages: `S3 settings`. */
  readonly title: string;
  readonly defaults: () => T;
  /**
   * Builds the next value from a change request and the current value: checks the input's
   * schema, fills what the input leaves out, checks the rules. Throws FsError InvalidArgument.
   */
  readonly parse: (input: unknown, current: T) => T;
}

export interface CollectionDefinition<T> {
  readonly tag: number;
  /** One record, in messages: `NFS export`. */
  readonly title: string;
  readonly recordsMax: number;
  /** Checks and completes a record from its input (create and replace take whole records). */
  readonly parse: (input: unknown) => T;
  /** Rules across records (unique names); `others` excludes the record being replaced. */
  readonly checkAgainst?: (value: T, others: readonly StoredRecord<T>[]) => void;
}

/**
 * Runs after a change is durable; the change's caller waits for it, and later changes' listeners
 * wait behind it, so a listener must settle promptly (bound its own waits, e.g. a port bind).
 */
export type SingletonListener<T> = (value: T, previous: T) => void | Promise<void>;

export type CollectionEvent<T> =
  | { readonly kind: 'created'; readonly id: string; readonly value: T }
  | { readonly kind: 'replaced'; readonly id: string; readonly value: T; readonly previous: T }
  | { readonly kind: 'deleted'; readonly id: string; readonly previous: T };

export type CollectionListener<T> = (event: CollectionEvent<T>) => void | Promise<void>;

export interface SettingsStoreOptions {
  readonly metadata: MetadataStore;
  /** A listener that throws does not undo the change; its error is reported here. */
  readonly onListenerError?: (error: unknown, title: string) => void;
}

/** Optimistic concurrency: the version the caller read (from the ETag); absent means "any". */
export interface WriteOptions {
  readonly ifVersion?: number;
}

export interface PutOptions<T> extends WriteOptions {
  /** A last check of the next value inside the transaction (it may throw to refuse). */
  readonly check?: (next: T, previous: T) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
const decode = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T;

const singletonKey = (tag: number) => key().byte(Keyspace.settings).byte(tag).build();
const counterKey = (tag: number) => key().byte(Keyspace.settings).byte(tag).byte(COUNTER).build();
const recordPrefix = (tag: number) => key().byte(Keyspace.settings).byte(tag).byte(RECORD).build();
const recordKey = (tag: number, id: number) => key().byte(Keyspace.settings).byte(tag).byte(RECORD).uint(id).build();

/** Record ids are decimal strings; anything else names no record (404, not 400). */
export function parseRecordId(id: string): number | undefined {
  return ID_PATTERN.test(id) ? Number(id) : undefined;
}

/**
 * Checks `value` against `schema` without coercing or dropping anything: an unknown field or a
 * wrong type is an error naming the field. Throws FsError InvalidArgument.
 */
export function checkSchema(schema: TSchema, value: unknown, what: string): void {
  if (Value.Check(schema, value)) return;
  const byField = new Map<string, string>();
  for (const error of Value.Errors(schema, value)) {
    const field = error.instancePath === '' ? what : `${what}${error.instancePath.replaceAll('/', '.')}`;
    if (byField.has(field) && error.keyword !== 'enum') continue;
    if (error.keyword === 'boolean' && error.schemaPath.endsWith('additionalProperties')) byField.set(field, 'is not a known field');
    else if (error.keyword === 'additionalProperties') continue;
    else if (error.keyword === 'enum') byField.set(field, `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((item) => JSON.stringify(item)).join(', ')}`);
    else byField.set(field, error.message);
    if (byField.size >= 3) break;
  }
  const described = [...byField].map(([field, message]) => `${field} ${message}`);
  throw new FsError('InvalidArgument', described.length > 0 ? described.join('; ') : `${what} is malformed`);
}

/** A change request must be a JSON object; fields it leaves out keep their current values. */
export function mergeObject<T extends object>(input: unknown, current: T, what: string): T {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FsError('InvalidArgument', `${what} must be a JSON object`);
  return { ...current, ...(input as Partial<T>) };
}

function checkVersion(title: string, actual: number, options: WriteOptions | undefined): void {
  if (options?.ifVersion !== undefined && options.ifVersion !== actual) {
    throw new FsError('Conflict', `${title} changed since version ${options.ifVersion} (now ${actual}); read them again and retry`);
  }
}

export class SettingsStore {
  private readonly metadata: MetadataStore;
  private readonly onListenerError: (error: unknown, title: string) => void;
  private readonly listeners = new Map<number, Array<(event: never) => void | Promise<void>>>();
  /** Listeners run in commit order, one change at a time, after the change is durable. */
  private notifyTail: Promise<void> = Promise.resolve();

  constructor(options: SettingsStoreOptions) {
    this.metadata = options.metadata;
    this.onListenerError = options.onListenerError ?? (() => undefined);
  }

  async get<T>(definition: SingletonDefinition<T>): Promise<Versioned<T>> {
    return this.metadata.read((tx) => readSingleton(tx, definition));
  }

  /**
   * Applies a change request: `parse(input, current)` builds the next value. Resolves after the
   * change is durable and every listener has run (so a protocol enabled here is listening, or has
   * reported why not, when the caller hears back). Throws InvalidArgument or Conflict.
   */
  async put<T>(definition: SingletonDefinition<T>, input: unknown, options?: PutOptions<T>): Promise<Versioned<T>> {
    const { next, previous } = await this.metadata.write(async (tx) => {
      const current = await readSingleton(tx, definition);
      checkVersion(definition.title, current.version, options);
      const value = definition.parse(input, current.value);
      options?.check?.(value, current.value);
      const stored: Versioned<T> = { value, version: current.version + 1 };
      tx.put(singletonKey(definition.tag), encode(stored));
      return { next: stored, previous: current.value };
    });
    await this.notify(definition.tag, definition.title, [next.value, previous]);
    return next;
  }

  onChange<T>(definition: SingletonDefinition<T>, listener: SingletonListener<T>): () => void {
    return this.addListener(definition.tag, listener as (...args: never[]) => void);
  }

  async list<T>(definition: CollectionDefinition<T>): Promise<StoredRecord<T>[]> {
    return this.metadata.read((tx) => readRecords(tx, definition));
  }

  /** The record, or undefined for an unknown or malformed id. */
  async record<T>(definition: CollectionDefinition<T>, id: string): Promise<StoredRecord<T> | undefined> {
    const number = parseRecordId(id);
    if (number === undefined) return undefined;
    return this.metadata.read((tx) => readRecord(tx, definition, number));
  }

  async create<T>(definition: CollectionDefinition<T>, input: unknown): Promise<StoredRecord<T>> {
    const value = definition.parse(input);
    const created = await this.metadata.write(async (tx) => {
      const others = await readRecords(tx, definition);
      if (others.length >= definition.recordsMax) throw new FsError('NoSpace', `at most ${definition.recordsMax} of ${definition.title}`);
      definition.checkAgainst?.(value, others);
      const counter = await tx.get(counterKey(definition.tag));
      const id = (counter === undefined ? 0 : decode<number>(counter)) + 1;
      tx.put(counterKey(definition.tag), encode(id));
      tx.put(recordKey(definition.tag, id), encode({ value, version: 1 }));
      return { id: String(id), value, version: 1 };
    });
    await this.notify(definition.tag, definition.title, [{ kind: 'created', id: created.id, value }]);
    return created;
  }

  /** Replaces a whole record (PUT). Throws NotFound, InvalidArgument, Conflict. */
  async replace<T>(definition: CollectionDefinition<T>, id: string, input: unknown, options?: WriteOptions): Promise<StoredRecord<T>> {
    const number = this.requireId(definition, id);
    const value = definition.parse(input);
    const { replaced, previous } = await this.metadata.write(async (tx) => {
      const current = await readRecord(tx, definition, number);
      if (current === undefined) throw new FsError('NotFound', `no ${definition.title} ${id}`);
      checkVersion(`${definition.title} ${id}`, current.version, options);
      const others = (await readRecords(tx, definition)).filter((record) => record.id !== id);
      definition.checkAgainst?.(value, others);
      const stored = { value, version: current.version + 1 };
      tx.put(recordKey(definition.tag, number), encode(stored));
      return { replaced: { id, ...stored }, previous: current.value };
    });
    await this.notify(definition.tag, definition.title, [{ kind: 'replaced', id, value, previous }]);
    return replaced;
  }

  async delete<T>(definition: CollectionDefinition<T>, id: string, options?: WriteOptions): Promise<void> {
    const number = this.requireId(definition, id);
    const previous = await this.metadata.write(async (tx) => {
      const current = await readRecord(tx, definition, number);
      if (current === undefined) throw new FsError('NotFound', `no ${definition.title} ${id}`);
      checkVersion(`${definition.title} ${id}`, current.version, options);
      tx.delete(recordKey(definition.tag, number));
      return current.value;
    });
    await this.notify(definition.tag, definition.title, [{ kind: 'deleted', id, previous }]);
  }

  onCollectionChange<T>(definition: CollectionDefinition<T>, listener: CollectionListener<T>): () => void {
    return this.addListener(definition.tag, listener as (...args: never[]) => void);
  }

  private requireId(definition: { title: string }, id: string): number {
    const number = parseRecordId(id);
    if (number === undefined) throw new FsError('NotFound', `no ${definition.title} ${id}`);
    return number;
  }

  private addListener(tag: number, listener: (...args: never[]) => void | Promise<void>): () => void {
    const list = this.listeners.get(tag) ?? [];
    list.push(listener);
    this.listeners.set(tag, list);
    return () => {
      const index = list.indexOf(listener);
      if (index >= 0) list.splice(index, 1);
    };
  }

  private notify(tag: number, title: string, args: readonly unknown[]): Promise<void> {
    const listeners = [...(this.listeners.get(tag) ?? [])] as Array<(...values: unknown[]) => void | Promise<void>>;
    const run = this.notifyTail.then(async () => {
      for (const listener of listeners) {
        try {
          await listener(...args);
        } catch (error) {
          this.onListenerError(error, title);
        }
      }
    });
    this.notifyTail = run;
    return run;
  }
}

async function readSingleton<T>(tx: ReadTransaction, definition: SingletonDefinition<T>): Promise<Versioned<T>> {
  const bytes = await tx.get(singletonKey(definition.tag));
  if (bytes === undefined) return { value: definition.defaults(), version: 0 };
  const stored = decode<Versioned<T>>(bytes);
  // A field added by a later release reads as its default until it is first set.
  return { value: { ...definition.defaults(), ...stored.value }, version: stored.version };
}

async function readRecord<T>(tx: ReadTransaction, definition: CollectionDefinition<T>, id: number): Promise<StoredRecord<T> | undefined> {
  const bytes = await tx.get(recordKey(definition.tag, id));
  return bytes === undefined ? undefined : { id: String(id), ...decode<Versioned<T>>(bytes) };
}

async function readRecords<T>(tx: ReadTransaction, definition: CollectionDefinition<T>): Promise<StoredRecord<T>[]> {
  const prefix = recordPrefix(definition.tag);
  const entries = await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: definition.recordsMax });
  return entries.map((entry) => {
    const reader = new KeyReader(entry.key);
    reader.byte();
    reader.byte();
    reader.byte();
    return { id: String(reader.uint()), ...decode<Versioned<T>>(entry.value) };
  });
}
