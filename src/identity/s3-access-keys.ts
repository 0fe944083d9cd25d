import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import { ExactCache } from '../storage/metadata/exact-cache.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { key, prefixEnd } from '../storage/metadata/tuple.js';

/**
 * S3 access keys: a 20-character id (`EKIA` + 16 base32 characters, like AWS's `AKIA...`) and a
 * 40-character secret shown once. SigV4 needs the plaintext secret to recompute signatures, so it
 * cannot be stored as a hash: it is sealed with AES-256-GCM under a key derived for this purpose
 * (`deriveKey('s3-secrets/v1')`), with the key id and user id as associated data so a sealed
 * secret cannot be moved to another key or user. At most two active keys per user (for rotation);
 * optional expiry; revocation deletes the record and is effective at the next request.
 *
 * secretOf runs on every S3 request, so decrypted secrets are cached in memory (never logged) per
 * key id, exactly: every write of a key record goes through `#cache.mutate` (ExactCache), so a
 * revocation has taken effect for the very next request once `revoke` resolves. The expiry time
 * is cached, not the verdict: it is checked against the clock on every use.
 *
 * Records under Keyspace.identity: [0x20, id] -> key (JSON); [0x21, user id, id] -> ''.
 */
const ACCESS_KEY = 0x20;
const ACCESS_KEY_OF_USER = 0x21;
export const ACCESS_KEYS_ACTIVE_PER_USER_MAX = 2;
/** Expired keys are kept (listed as expired) up to this many per user, then the oldest are pruned. */
const ACCESS_KEYS_PER_USER_MAX = 16;
const LIST_MAX = 10_000;
/** Decrypted secrets kept in memory (least recently used dropped first). */
export const ACCESS_KEYS_CACHED_MAX = 10_000;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const ACCESS_KEY_ID_PATTERN = /^EKIA[A-Z2-7]{16}$/;

export interface S3AccessKey {
  readonly id: string;
  readonly userId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs?: number;
}

interface StoredKey extends S3AccessKey {
  readonly nonce: string;
  readonly ciphertext: string;
  readonly tag: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const keyRecord = (id: string) => key().byte(Keyspace.identity).byte(ACCESS_KEY).string(id).build();
const keysPrefix = () => key().byte(Keyspace.identity).byte(ACCESS_KEY).build();
const userKeyRecord = (userId: string, id: string) => key().byte(Keyspace.identity).byte(ACCESS_KEY_OF_USER).string(userId).string(id).build();
const userKeysPrefix = (userId: string) => key().byte(Keyspace.identity).byte(ACCESS_KEY_OF_USER).string(userId).build();
const publicView = ({ nonce: _n, ciphertext: _c, tag: _t, ...accessKey }: StoredKey): S3AccessKey => accessKey;
const aad = (id: string, userId: string) => Buffer.from(`enclave/s3/secret/v1\0${id}\0${userId}`, 'utf8');

function newKeyId(): string {
  let id = 'EKIA';
  // 5 bits of each random byte: 256 is a multiple of 32, so there is no bias.
  for (const byte of randomBytes(16)) id += BASE32[byte % 32];
  return id;
}

interface UnsealedKey {
  readonly accessKey: S3AccessKey;
  readonly secret: string;
}

export class S3AccessKeys {
  private readonly key: Buffer;
  readonly #cache: ExactCache<string, UnsealedKey>;

  constructor(private readonly options: { metadata: MetadataStore; clock: Clock; key: Uint8Array; cachedKeysMax?: number }) {
    if (options.key.length !== 32) throw new Error('assertion failed: the S3 secret key must be 32 bytes');
    this.key = Buffer.from(options.key);
    this.#cache = new ExactCache({ entriesMax: options.cachedKeysMax ?? ACCESS_KEYS_CACHED_MAX });
  }

  /** Creates a key; the secret is in the answer only. NoSpace when the user has two active keys. */
  async create(input: { userId: string; expiresAtMs?: number }): Promise<{ accessKey: S3AccessKey; secret: string }> {
    const now = this.options.clock.nowMs();
    if (input.expiresAtMs !== undefined && input.expiresAtMs <= now) throw new FsError('InvalidArgument', 'the expiry must be in the future');
    const id = newKeyId();
    const secret = randomBytes(30).toString('base64url');
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad(id, input.userId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    const stored: StoredKey = {
      id,
      userId: input.userId,
      createdAtMs: now,
      ...(input.expiresAtMs === undefined ? {} : { expiresAtMs: input.expiresAtMs }),
      nonce: nonce.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
    // 'all': the expired keys pruned below are known only inside the transaction.
    await this.#cache.mutate('all', () => this.options.metadata.write(async (tx) => {
      const existing: StoredKey[] = [];
      for (const entry of await tx.scan({ start: userKeysPrefix(input.userId), end: prefixEnd(userKeysPrefix(input.userId)), limit: ACCESS_KEYS_PER_USER_MAX + 1 })) {
        const keyId = decoder.decode(entry.key.subarray(userKeysPrefix(input.userId).length, entry.key.length - 2));
        const value = await tx.get(keyRecord(keyId));
        if (value !== undefined) existing.push(JSON.parse(decoder.decode(value)) as StoredKey);
      }
      const active = existing.filter((item) => item.expiresAtMs === undefined || item.expiresAtMs > now);
      if (active.length >= ACCESS_KEYS_ACTIVE_PER_USER_MAX) {
        throw new FsError('Conflict', `a user has at most ${ACCESS_KEYS_ACTIVE_PER_USER_MAX} active S3 access keys; revoke one first`);
      }
      const expired = existing.filter((item) => !active.includes(item)).sort((left, right) => left.createdAtMs - right.createdAtMs);
      while (expired.length > 0 && existing.length - (ACCESS_KEYS_PER_USER_MAX - 1) > 0) {
        const oldest = expired.shift() as StoredKey;
        tx.delete(keyRecord(oldest.id));
        tx.delete(userKeyRecord(oldest.userId, oldest.id));
        existing.splice(existing.indexOf(oldest), 1);
      }
      tx.put(keyRecord(id), encoder.encode(JSON.stringify(stored)));
      tx.put(userKeyRecord(input.userId, id), new Uint8Array(0));
    }));
    return { accessKey: publicView(stored), secret };
  }

  /**
   * The key and its plaintext secret, for signature verification; undefined when the id is
   * unknown, revoked or expired (the caller answers InvalidAccessKeyId either way).
   */
  async secretOf(id: string): Promise<{ accessKey: S3AccessKey; secret: string } | undefined> {
    if (!ACCESS_KEY_ID_PATTERN.test(id)) return undefined;
    const found = await this.#cache.get(id, () => this.#unseal(id));
    if (found === undefined) return undefined;
    const { expiresAtMs } = found.accessKey;
    if (expiresAtMs !== undefined && expiresAtMs <= this.options.clock.nowMs()) return undefined;
    return found;
  }

  /** The stored key with its secret decrypted, expired or not. */
  async #unseal(id: string): Promise<UnsealedKey | undefined> {
    const value = await this.options.metadata.read((tx) => tx.get(keyRecord(id)));
    if (value === undefined) return undefined;
    const stored = JSON.parse(decoder.decode(value)) as StoredKey;
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(stored.nonce, 'base64'));
    decipher.setAAD(aad(stored.id, stored.userId));
    decipher.setAuthTag(Buffer.from(stored.tag, 'base64'));
    const secret = Buffer.concat([decipher.update(Buffer.from(stored.ciphertext, 'base64')), decipher.final()]).toString('utf8');
    return Object.freeze({ accessKey: Object.freeze(publicView(stored)), secret });
  }

  async get(id: string): Promise<S3AccessKey | undefined> {
    const value = await this.options.metadata.read((tx) => tx.get(keyRecord(id)));
    return value === undefined ? undefined : publicView(JSON.parse(decoder.decode(value)) as StoredKey);
  }

  async list(filter: { userId?: string } = {}): Promise<S3AccessKey[]> {
    return this.options.metadata.read(async (tx) => {
      if (filter.userId === undefined) {
        const entries = await tx.scan({ start: keysPrefix(), end: prefixEnd(keysPrefix()), limit: LIST_MAX });
        return entries.map((entry) => publicView(JSON.parse(decoder.decode(entry.value)) as StoredKey));
      }
      const prefix = userKeysPrefix(filter.userId);
      const keys: S3AccessKey[] = [];
      for (const entry of await tx.scan({ start: prefix, end: prefixEnd(prefix), limit: ACCESS_KEYS_PER_USER_MAX + 1 })) {
        const value = await tx.get(keyRecord(decoder.decode(entry.key.subarray(prefix.length, entry.key.length - 2))));
        if (value !== undefined) keys.push(publicView(JSON.parse(decoder.decode(value)) as StoredKey));
      }
      return keys;
    });
  }

  /** Deletes the key at once; NotFound if it does not exist (or belongs to another user than `userId`). */
  async revoke(id: string, options: { userId?: string } = {}): Promise<void> {
    await this.#cache.mutate([id], () => this.options.metadata.write(async (tx) => {
      const value = await tx.get(keyRecord(id));
      const stored = value === undefined ? undefined : (JSON.parse(decoder.decode(value)) as StoredKey);
      if (stored === undefined || (options.userId !== undefined && stored.userId !== options.userId)) throw new FsError('NotFound', `no S3 access key ${id}`);
      tx.delete(keyRecord(id));
      tx.delete(userKeyRecord(stored.userId, id));
    }));
  }

  async revokeAllOf(userId: string): Promise<void> {
    for (const accessKey of await this.list({ userId })) await this.revoke(accessKey.id);
  }
}
