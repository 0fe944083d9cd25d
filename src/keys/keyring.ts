import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileDurably, replaceFileDurably } from './durable-file.js';
import { KeyError } from './key-errors.js';
import type { KeyEncryptionKeyProvider } from './key-provider.js';

export interface KeyringOptions {
  /** The keys folder, usually `<dataDir>/keys`; the keyring lives in `keyring.json` there. */
  readonly dir: string;
  readonly provider: KeyEncryptionKeyProvider;
  /** Create the keyring if it is missing (init). An existing keyring is never replaced. */
  readonly create: boolean;
}

export interface DataKey {
  readonly version: number;
  /** Owned by the keyring and zeroed by close: use it, do not keep or modify it. */
  readonly key: Uint8Array;
}

interface KeyringFile {
  readonly format: 1;
  /** The KEK that wrapped every key below; a different provider is refused by name. */
  readonly kekId: string;
  readonly currentDataKeyVersion: number;
  readonly dataKeys: readonly { readonly version: number; readonly wrapped: string }[];
  readonly metadataKey: { readonly version: number; readonly wrapped: string };
}

const KEYRING_FILE_NAME = 'keyring.json';
const KEY_BYTES = 32;
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;
/** Version numbers are recorded per chunk as u32. */
const KEY_VERSION_MAX = 0xffff_ffff;

/** The AAD binds each wrapped key to its purpose and version, so wrapped keys cannot be swapped. */
function wrapAad(purpose: 'data-key' | 'metadata-key', version: number): Buffer {
  return Buffer.from(`enclave/keyring/v1/${purpose}/${version}`, 'utf8');
}

/**
 * The key hierarchy below the KEK: versioned data-encryption keys (DEKs) for chunks and one
 * metadata-encryption key, each stored wrapped by the KEK provider. Rotating the DEK adds a
 * version (old chunks keep theirs); rotating the KEK rewraps this file and touches no data.
 *
 * Mutations are serialised and reach disk (temp, fsync, rename, directory fsync) before they
 * take effect in memory, so a crash never leaves a chunk sealed under a key the file lacks.
 */
export class Keyring {
  readonly #file: string;
  #provider: KeyEncryptionKeyProvider;
  readonly #dataKeys: Map<number, Uint8Array>;
  readonly #metadataKey: Uint8Array;
  #currentVersion: number;
  #pending: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(file: string, provider: KeyEncryptionKeyProvider, dataKeys: Map<number, Uint8Array>, metadataKey: Uint8Array, currentVersion: number) {
    this.#file = file;
    this.#provider = provider;
    this.#dataKeys = dataKeys;
    this.#metadataKey = metadataKey;
    this.#currentVersion = currentVersion;
  }

  static async open(options: KeyringOptions): Promise<Keyring> {
    const file = join(options.dir, KEYRING_FILE_NAME);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
      if (!options.create) throw new KeyError('not-found', `keyring ${file} does not exist; initialise the data directory first`);
      await createKeyring(file, options);
      text = await readFile(file, 'utf8');
    }
    return Keyring.#load(file, options.provider, parseKeyringFile(file, text));
  }

  static async #load(file: string, provider: KeyEncryptionKeyProvider, parsed: KeyringFile): Promise<Keyring> {
    if (parsed.kekId !== provider.id) {
      throw new KeyError('provider-mismatch', `keyring ${file} was wrapped by KEK ${parsed.kekId}, but the configured key provider is ${provider.id}`);
    }
    const dataKeys = new Map<number, Uint8Array>();
    try {
      for (const entry of parsed.dataKeys) {
        dataKeys.set(entry.version, await provider.unwrap(Buffer.from(entry.wrapped, 'base64'), wrapAad('data-key', entry.version)));
      }
      const metadataKey = await provider.unwrap(Buffer.from(parsed.metadataKey.wrapped, 'base64'), wrapAad('metadata-key', parsed.metadataKey.version));
      return new Keyring(file, provider, dataKeys, metadataKey, parsed.currentDataKeyVersion);
    } catch (error) {
      for (const key of dataKeys.values()) key.fill(0);
      if (error instanceof KeyError && error.code === 'unwrap-failed') {
        throw new KeyError('unwrap-failed', `keyring ${file}: a wrapped key does not authenticate under KEK ${provider.id}`, { cause: error });
      }
      throw error;
    }
  }

  get providerId(): string {
    return this.#provider.id;
  }

  /** Every data key version this keyring holds, ascending. */
  dataKeyVersions(): number[] {
    this.#checkOpen();
    return [...this.#dataKeys.keys()].sort((left, right) => left - right);
  }

  /** The key new chunks are sealed with. */
  currentDataKey(): DataKey {
    return { version: this.#currentVersion, key: this.dataKey(this.#currentVersion) };
  }

  /** The DEK of `version`; 'unknown-key-version' if this keyring never had it. */
  dataKey(version: number): Uint8Array {
    this.#checkOpen();
    const key = this.#dataKeys.get(version);
    if (key === undefined) throw new KeyError('unknown-key-version', `keyring ${this.#file} has no data key version ${version}`);
    return key;
  }

  metadataKey(): Uint8Array {
    this.#checkOpen();
    return this.#metadataKey;
  }

  /** Adds a DEK version and makes it current once durable; older versions stay readable. */
  rotateDataKey(): Promise<number> {
    return this.#serialised(async () => {
      const version = Math.max(...this.#dataKeys.keys()) + 1;
      if (version > KEY_VERSION_MAX) throw new RangeError(`data key version would exceed ${KEY_VERSION_MAX}`);
      const key = randomBytes(KEY_BYTES);
      try {
        const keys = new Map(this.#dataKeys).set(version, key);
        await this.#write(this.#provider, keys, version);
      } catch (error) {
        key.fill(0);
        throw error;
      }
      this.#dataKeys.set(version, key);
      this.#currentVersion = version;
      return version;
    });
  }

  /**
   * KEK rotation: wraps every key under `target` and records its id. No chunk is rewritten. The
   * caller closes the old provider once this resolves (and keeps it until then, in case it fails).
   */
  rewrap(target: KeyEncryptionKeyProvider): Promise<void> {
    return this.#serialised(async () => {
      await this.#write(target, this.#dataKeys, this.#currentVersion);
      this.#provider = target;
    });
  }

  /** Zeroes every key held; later calls reject with 'closed'. Does not close the provider. */
  async close(): Promise<void> {
    await this.#pending.catch(() => undefined);
    this.#closed = true;
    for (const key of this.#dataKeys.values()) key.fill(0);
    this.#dataKeys.clear();
    this.#metadataKey.fill(0);
  }

  async #write(provider: KeyEncryptionKeyProvider, dataKeys: ReadonlyMap<number, Uint8Array>, currentVersion: number): Promise<void> {
    const contents = await encodeKeyring(provider, dataKeys, this.#metadataKey, currentVersion);
    await replaceFileDurably(this.#file, contents, FILE_MODE);
  }

  #serialised<T>(action: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    const result = this.#pending.then(action, action);
    this.#pending = result.catch(() => undefined);
    return result;
  }

  #checkOpen(): void {
    if (this.#closed) throw new KeyError('closed', `keyring ${this.#file} is closed`);
  }
}

async function createKeyring(file: string, options: KeyringOptions): Promise<void> {
  await mkdir(options.dir, { recursive: true, mode: DIRECTORY_MODE });
  const dataKey = randomBytes(KEY_BYTES);
  const metadataKey = randomBytes(KEY_BYTES);
  try {
    const contents = await encodeKeyring(options.provider, new Map([[1, dataKey]]), metadataKey, 1);
    await createFileDurably(file, contents, FILE_MODE);
  } catch (error) {
    // Another initialiser won the race; its keyring is the one to use.
    if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
  } finally {
    dataKey.fill(0);
    metadataKey.fill(0);
  }
}

async function encodeKeyring(provider: KeyEncryptionKeyProvider, dataKeys: ReadonlyMap<number, Uint8Array>, metadataKey: Uint8Array, currentVersion: number): Promise<Buffer> {
  const wrappedDataKeys = [];
  for (const [version, key] of [...dataKeys].sort(([left], [right]) => left - right)) {
    const wrapped = await provider.wrap(key, wrapAad('data-key', version));
    wrappedDataKeys.push({ version, wrapped: Buffer.from(wrapped).toString('base64') });
  }
  const file: KeyringFile = {
    format: 1,
    kekId: provider.id,
    currentDataKeyVersion: currentVersion,
    dataKeys: wrappedDataKeys,
    metadataKey: { version: 1, wrapped: Buffer.from(await provider.wrap(metadataKey, wrapAad('metadata-key', 1))).toString('base64') },
  };
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
}

function parseKeyringFile(file: string, text: string): KeyringFile {
  const malformed = (why: string) => new KeyError('malformed', `keyring ${file} is malformed: ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KeyError('malformed', `keyring ${file} is not valid JSON`, { cause: error });
  }
  const isVersion = (version: unknown): version is number => Number.isSafeInteger(version) && (version as number) >= 1 && (version as number) <= KEY_VERSION_MAX;
  const isWrapped = (entry: unknown): entry is { version: number; wrapped: string } =>
    typeof entry === 'object' && entry !== null && isVersion((entry as { version?: unknown }).version) && typeof (entry as { wrapped?: unknown }).wrapped === 'string';
  if (typeof value !== 'object' || value === null) throw malformed('not an object');
  const record = value as Record<string, unknown>;
  if (record.format !== 1) throw malformed(`unsupported format ${String(record.format)}`);
  if (typeof record.kekId !== 'string') throw malformed('kekId missing');
  if (!Array.isArray(record.dataKeys) || !record.dataKeys.every(isWrapped)) throw malformed('dataKeys invalid');
  if (!isWrapped(record.metadataKey)) throw malformed('metadataKey invalid');
  const versions = new Set(record.dataKeys.map((entry) => entry.version));
  if (versions.size !== record.dataKeys.length) throw malformed('duplicate data key versions');
  if (!isVersion(record.currentDataKeyVersion) || !versions.has(record.currentDataKeyVersion)) throw malformed('currentDataKeyVersion names no data key');
  return record as unknown as KeyringFile;
}

/**
 * The id of the KEK that wrapped the keyring in `dir`, read without unwrapping anything (for
 * finishing an interrupted KEK rotation before the keyring is opened).
 */
export async function readKeyringKekId(dir: string): Promise<string> {
  const file = join(dir, KEYRING_FILE_NAME);
  return parseKeyringFile(file, await readFile(file, 'utf8')).kekId;
}
