import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createFileDurably } from './durable-file.js';
import { KeyError } from './key-errors.js';
import type { KeyEncryptionKeyProvider } from './key-provider.js';

export interface LocalKeyFileOptions {
  /** The KEK file; `kekFilePath(dataDir)` is the default place. */
  readonly file: string;
  /** Create a new KEK if the file is missing (init); otherwise a missing file is 'not-found'. */
  readonly create: boolean;
  /**
   * Protect the KEK with a passphrase read from the environment variable `envVar` of `env`. When
   * set, the file must be passphrase-protected (or is created so); when unset, it must not be.
   */
  readonly passphrase?: { readonly envVar: string; readonly env: Readonly<Record<string, string | undefined>> };
  /** scrypt cost as log2(N) for a newly created file; tests pass a small value. */
  readonly scryptCostLog2?: number;
}

export function kekFilePath(dataDir: string): string {
  return join(dataDir, 'keys', 'kek');
}

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
const MAGIC = Buffer.from('EKEK', 'ascii');
const FILE_FORMAT_VERSION = 1;
const KIND_PLAIN = 1;
const KIND_PASSPHRASE = 2;
/** magic, format, kind, then the plain key or the scrypt parameters and the sealed key. */
const PLAIN_FILE_BYTES = 6 + KEY_BYTES;
const PASSPHRASE_HEADER_BYTES = 6 + 3 + SALT_BYTES + NONCE_BYTES;
const PASSPHRASE_FILE_BYTES = PASSPHRASE_HEADER_BYTES + KEY_BYTES + TAG_BYTES;
const SCRYPT_COST_LOG2_DEFAULT = 17;
const SCRYPT_COST_LOG2_MIN = 10;
/** Bounds what a (possibly planted) key file can make us spend: 2^20 * 8 * 128 bytes = 1 GiB. */
const SCRYPT_COST_LOG2_MAX = 20;
const SCRYPT_BLOCK_SIZE = 8;
const SCRYPT_PARALLELISM = 1;
const WRAPPED_FORMAT_VERSION = 1;
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;

/**
 * A KEK kept in a local file made at init (mode 0600 in a 0700 directory), optionally sealed with
 * a passphrase (scrypt, then AES-256-GCM). Wraps with AES-256-GCM under a random 96-bit nonce; a
 * KEK wraps only a handful of keys in its life, far below GCM's random-nonce limit of 2^32.
 */
export class LocalKeyFileProvider implements KeyEncryptionKeyProvider {
  readonly id: string;
  /** Whether the file is sealed with a passphrase (reported by the encryption status). */
  readonly passphraseProtected: boolean;
  readonly #kek: Buffer;
  #closed = false;

  private constructor(kek: Buffer, passphraseProtected: boolean) {
    this.#kek = kek;
    this.passphraseProtected = passphraseProtected;
    // A fingerprint, not the key: an HMAC under the KEK of a fixed label.
    this.id = `local-file:${createHmac('sha256', kek).update('enclave/kek-id/v1').digest('hex').slice(0, 16)}`;
  }

  static async open(options: LocalKeyFileOptions): Promise<LocalKeyFileProvider> {
    const exists = await checkKeyFileMode(options.file);
    if (!exists) {
      if (!options.create) {
        throw new KeyError('not-found', `key file ${options.file} does not exist; initialise the data directory first`);
      }
      await createKeyFile(options);
      await checkKeyFileMode(options.file);
    }
    const encoded = await readFile(options.file);
    try {
      return new LocalKeyFileProvider(await decodeKeyFile(options, encoded), encoded[5] === KIND_PASSPHRASE);
    } finally {
      encoded.fill(0);
    }
  }

  async wrap(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#kek, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return Buffer.concat([Buffer.from([WRAPPED_FORMAT_VERSION]), nonce, sealed]);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    if (wrapped.byteLength < 1 + NONCE_BYTES + TAG_BYTES || wrapped[0] !== WRAPPED_FORMAT_VERSION) {
      throw new KeyError('unwrap-failed', `wrapped key is malformed (provider ${this.id})`);
    }
    const plain = openSealed(this.#kek, wrapped.subarray(1, 1 + NONCE_BYTES), wrapped.subarray(1 + NONCE_BYTES), aad);
    if (plain === undefined) {
      throw new KeyError('unwrap-failed', `wrapped key does not authenticate under KEK ${this.id} for its purpose`);
    }
    return plain;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#kek.fill(0);
  }

  #checkOpen(): void {
    if (this.#closed) throw new KeyError('closed', `key provider ${this.id} is closed`);
  }
}

/** Returns whether the file exists; refuses one that group or others may access. */
async function checkKeyFileMode(file: string): Promise<boolean> {
  let stats;
  try {
    stats = await stat(file);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return false;
    throw error;
  }
  if (!stats.isFile()) throw new KeyError('malformed', `key file ${file} is not a regular file`);
  // Windows has no POSIX modes; there the folder's ACL has to protect the file.
  if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    throw new KeyError('insecure-permissions', `key file ${file} has mode ${mode}; it must be 0600 or stricter (chmod 600 ${file})`);
  }
  return true;
}

async function createKeyFile(options: LocalKeyFileOptions): Promise<void> {
  await mkdir(dirname(options.file), { recursive: true, mode: DIRECTORY_MODE });
  const kek = randomBytes(KEY_BYTES);
  let encoded: Buffer | undefined;
  try {
    if (options.passphrase === undefined) {
      encoded = Buffer.concat([MAGIC, Buffer.from([FILE_FORMAT_VERSION, KIND_PLAIN]), kek]);
    } else {
      const costLog2 = options.scryptCostLog2 ?? SCRYPT_COST_LOG2_DEFAULT;
      const header = Buffer.concat([
        MAGIC,
        Buffer.from([FILE_FORMAT_VERSION, KIND_PASSPHRASE, costLog2, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM]),
        randomBytes(SALT_BYTES),
        randomBytes(NONCE_BYTES),
      ]);
      const sealingKey = await deriveSealingKey(options.file, options.passphrase, header);
      const cipher = createCipheriv('aes-256-gcm', sealingKey, header.subarray(6 + 3 + SALT_BYTES), { authTagLength: TAG_BYTES });
      cipher.setAAD(header);
      encoded = Buffer.concat([header, cipher.update(kek), cipher.final(), cipher.getAuthTag()]);
      sealingKey.fill(0);
    }
    await createFileDurably(options.file, encoded, FILE_MODE);
  } catch (error) {
    // Lost a race with another initialiser: its file stands, and is read like any other.
    if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
  } finally {
    kek.fill(0);
    encoded?.fill(0);
  }
}

async function decodeKeyFile(options: LocalKeyFileOptions, encoded: Buffer): Promise<Buffer> {
  const file = options.file;
  if (encoded.byteLength < 6 || !encoded.subarray(0, 4).equals(MAGIC) || encoded[4] !== FILE_FORMAT_VERSION) {
    throw new KeyError('malformed', `key file ${file} is not an Enclave key file of format ${FILE_FORMAT_VERSION}`);
  }
  const kind = encoded[5];
  if (kind === KIND_PLAIN && encoded.byteLength === PLAIN_FILE_BYTES) {
    if (options.passphrase !== undefined) {
      throw new KeyError('passphrase-unexpected', `key file ${file} is not passphrase-protected, but a passphrase is configured (${options.passphrase.envVar}); remove that setting or re-create the key file`);
    }
    return Buffer.from(encoded.subarray(6));
  }
  if (kind !== KIND_PASSPHRASE || encoded.byteLength !== PASSPHRASE_FILE_BYTES) {
    throw new KeyError('malformed', `key file ${file} is damaged (kind ${kind}, ${encoded.byteLength} bytes)`);
  }
  if (options.passphrase === undefined) {
    throw new KeyError('passphrase-required', `key file ${file} is protected by a passphrase; configure the passphrase environment variable to start`);
  }
  const header = encoded.subarray(0, PASSPHRASE_HEADER_BYTES);
  const sealingKey = await deriveSealingKey(file, options.passphrase, header);
  try {
    const kek = openSealed(sealingKey, header.subarray(6 + 3 + SALT_BYTES), encoded.subarray(PASSPHRASE_HEADER_BYTES), header);
    if (kek === undefined) {
      throw new KeyError('passphrase-wrong', `the passphrase in ${options.passphrase.envVar} does not unlock key file ${file}`);
    }
    return kek;
  } finally {
    sealingKey.fill(0);
  }
}

async function deriveSealingKey(file: string, passphrase: NonNullable<LocalKeyFileOptions['passphrase']>, header: Buffer): Promise<Buffer> {
  const text = passphrase.env[passphrase.envVar];
  if (text === undefined || text === '') {
    throw new KeyError('passphrase-required', `key file ${file} needs a passphrase: set the environment variable ${passphrase.envVar}`);
  }
  const [costLog2 = 0, blockSize = 0, parallelism = 0] = header.subarray(6, 9);
  if (costLog2 < SCRYPT_COST_LOG2_MIN || costLog2 > SCRYPT_COST_LOG2_MAX || blockSize < 1 || blockSize > 32 || parallelism < 1 || parallelism > 16) {
    throw new KeyError('malformed', `key file ${file} has out-of-bounds scrypt parameters`);
  }
  const secret = Buffer.from(text.normalize('NFC'), 'utf8');
  const cost = 2 ** costLog2;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      scrypt(secret, header.subarray(9, 9 + SALT_BYTES), KEY_BYTES,
        { N: cost, r: blockSize, p: parallelism, maxmem: 2 * 128 * cost * blockSize * parallelism },
        (error, key) => (error === null ? resolve(key) : reject(error)));
    });
  } finally {
    secret.fill(0);
  }
}

/** AES-256-GCM open of `ciphertext || tag`; undefined when it does not authenticate. */
function openSealed(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer | undefined {
  if (sealed.byteLength < TAG_BYTES) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES));
  const plain = decipher.update(sealed.subarray(0, sealed.byteLength - TAG_BYTES));
  try {
    decipher.final();
    return plain;
  } catch {
    // A failed tag check is the expected signal of a wrong key or altered bytes.
    plain.fill(0);
    return undefined;
  }
}
