import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import Type, { type Static } from 'typebox';
import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import { checkSchema } from '../settings/settings-store.js';
import type { MetadataStore, ReadTransaction } from '../storage/metadata/metadata-store.js';
import { parseTableId, RecordTable, SnapshotTag } from './record-table.js';

/**
 * The security key store (Qumulo's file-system key store): ECDSA P-256 PUBLIC keys that lock
 * snapshots. The private key never reaches the server; a request that carries one is refused.
 *
 * - Register: `{name, public_key (PEM SPKI), verification_signature}`, the signature being
 *   base64 DER ECDSA-SHA256 over the UTF-8 bytes of `name`
 *   (`printf %s NAME | openssl dgst -sha256 -sign key.pem | base64 -w0`). It proves the caller
 *   holds the private key, so nobody can lock snapshots with a key they cannot unlock.
 * - Disable: a disabled key locks nothing new, but still unlocks what it locked (Qumulo). A key a
 *   policy uses cannot be disabled, since the policy's next snapshot would fail to lock.
 * - Rotate (`replace`): id and name stay; both the old and the new private key sign the message
 *   of `keyReplacementMessage` (it names the key, its version and the new key's fingerprint, so a
 *   signature is good for one replacement only). The version grows, so outstanding unlock
 *   challenges for the old key stop working.
 * - Delete: only a key nothing uses (no locked snapshot, no policy).
 */

export const SECURITY_KEYS_MAX = 1_000;
export const KEY_NAME_CHARS_MAX = 64;
export const KEY_COMMENT_CHARS_MAX = 1_024;
/** A PEM SPKI P-256 key is about 180 characters; anything much longer is not one. */
export const PUBLIC_KEY_CHARS_MAX = 4_096;
/** A DER ECDSA P-256 signature is at most 72 bytes: 96 base64 characters; allow some slack. */
export const SIGNATURE_CHARS_MAX = 200;

export interface SecurityKey {
  readonly id: string;
  readonly name: string;
  readonly comment: string;
  /** PEM SPKI, as the server re-encoded it. */
  readonly public_key: string;
  /** SHA-256 of the DER SPKI, hex: what replacement signatures name. */
  readonly fingerprint_sha256: string;
  readonly disabled: boolean;
  /** Grows with each replacement. */
  readonly version: number;
  readonly created_ms: number;
}

export interface KeyUsage {
  readonly type: 'snapshot' | 'snapshot_policy';
  readonly id: string;
}

export interface SecurityKeyStoreOptions {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /**
   * What uses a key: snapshots locked with it and policies that lock with it. Wired by the
   * composition root (core's snapshots plus PolicyStore.usagesOf).
   */
  readonly keyUsages: (keyId: string) => Promise<readonly KeyUsage[]>;
}

export const SecurityKeyCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: KEY_NAME_CHARS_MAX }),
    comment: Type.Optional(Type.String({ maxLength: KEY_COMMENT_CHARS_MAX })),
    public_key: Type.String({ minLength: 1, maxLength: PUBLIC_KEY_CHARS_MAX }),
    verification_signature: Type.String({ minLength: 1, maxLength: SIGNATURE_CHARS_MAX }),
  },
  { additionalProperties: false },
);
export const SecurityKeyPatchSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: KEY_NAME_CHARS_MAX })),
    comment: Type.Optional(Type.String({ maxLength: KEY_COMMENT_CHARS_MAX })),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const SecurityKeyReplaceSchema = Type.Object(
  {
    public_key: Type.String({ minLength: 1, maxLength: PUBLIC_KEY_CHARS_MAX }),
    old_key_signature: Type.String({ minLength: 1, maxLength: SIGNATURE_CHARS_MAX }),
    new_key_signature: Type.String({ minLength: 1, maxLength: SIGNATURE_CHARS_MAX }),
  },
  { additionalProperties: false },
);
export type SecurityKeyPatch = Static<typeof SecurityKeyPatchSchema>;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

interface ParsedPublicKey {
  readonly key: KeyObject;
  readonly pem: string;
  readonly fingerprint: string;
}

/** Checks a PEM SPKI ECDSA P-256 public key; refuses private keys, other curves and RSA. */
export function parsePublicKey(text: string, field = 'public_key'): ParsedPublicKey {
  if (/PRIVATE KEY/.test(text)) throw new FsError('InvalidArgument', `${field} is a PRIVATE key; never send it anywhere: send the public key (openssl ec -in key.pem -pubout)`);
  if (!PEM_PUBLIC_KEY.test(text)) throw new FsError('InvalidArgument', `${field} must be one PEM public key (-----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new FsError('InvalidArgument', `${field} is not a readable PEM public key`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `a ${key.asymmetricKeyType ?? 'unknown'} key`;
    throw new FsError('InvalidArgument', `${field} is ${what}; only ECDSA P-256 (prime256v1, secp256r1) keys are accepted`);
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return { key, pem: key.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: createHash('sha256').update(der).digest('hex') };
}

/**
 * Whether `signatureBase64` (base64 DER ECDSA-SHA256) signs `message` with `publicKey`. Malformed
 * base64 or DER is simply not a valid signature.
 */
export function verifySignature(publicKey: KeyObject | string, message: Uint8Array, signatureBase64: string): boolean {
  const trimmed = signatureBase64.trim();
  if (trimmed.length === 0 || trimmed.length > SIGNATURE_CHARS_MAX || !BASE64.test(trimmed)) return false;
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    return verify('sha256', message, { key, dsaEncoding: 'der' }, Buffer.from(trimmed, 'base64'));
  } catch {
    return false;
  }
}

/** What both keys sign to replace key `keyId` (at `version`) by the key with `fingerprint`. */
export function keyReplacementMessage(options: { keyId: string; version: number; replacementFingerprintSha256: string }): string {
  return `enclave-security-key-replacement:v1:key=${options.keyId}:version=${options.version}:replacement-sha256=${options.replacementFingerprintSha256}`;
}

interface KeyRecord {
  readonly name: string;
  readonly comment: string;
  readonly public_key: string;
  readonly fingerprint_sha256: string;
  readonly disabled: boolean;
  readonly version: number;
  readonly created_ms: number;
}

const toKey = (id: string, record: KeyRecord): SecurityKey => ({ id, ...record });

function checkNameUnique(records: ReadonlyArray<{ id: string; value: KeyRecord }>, name: string, exceptId?: string): void {
  if (records.some((record) => record.id !== exceptId && record.value.name === name)) throw new FsError('Exists', `a security key named ${JSON.stringify(name)} exists`);
}

export class SecurityKeyStore {
  private readonly table = new RecordTable<KeyRecord>(SnapshotTag.securityKeys, SECURITY_KEYS_MAX);

  constructor(private readonly options: SecurityKeyStoreOptions) {}

  async list(): Promise<SecurityKey[]> {
    const records = await this.options.metadata.read((tx) => this.table.list(tx));
    return records.map((record) => toKey(record.id, record.value));
  }

  /** A key by id, or by name (a `lock_key_ref` may be either); undefined if none. */
  async find(ref: string): Promise<SecurityKey | undefined> {
    const found = await this.options.metadata.read((tx) => this.findIn(tx, ref));
    return found === undefined ? undefined : toKey(found.id, found.record);
  }

  /** Like `find`, but NotFound when there is no such key. */
  async resolve(ref: string): Promise<SecurityKey> {
    const found = await this.find(ref);
    if (found === undefined) throw new FsError('NotFound', `no security key ${JSON.stringify(ref)}`);
    return found;
  }

  /** Resolves a key that may lock something new: it exists and is not disabled. */
  async resolveForLocking(ref: string): Promise<SecurityKey> {
    const found = await this.resolve(ref);
    if (found.disabled) throw new FsError('InvalidArgument', `security key ${JSON.stringify(found.name)} is disabled; it can unlock but not lock`);
    return found;
  }

  async create(input: unknown): Promise<SecurityKey> {
    checkSchema(SecurityKeyCreateSchema, input, 'security_key');
    const body = input as Static<typeof SecurityKeyCreateSchema>;
    const parsed = parsePublicKey(body.public_key);
    if (!verifySignature(parsed.key, Buffer.from(body.name, 'utf8'), body.verification_signature)) {
      throw new FsError('InvalidArgument', 'verification_signature does not verify: it must be the key name signed with the private key (base64 DER ECDSA-SHA256)');
    }
    const record: KeyRecord = {
      name: body.name,
      comment: body.comment ?? '',
      public_key: parsed.pem,
      fingerprint_sha256: parsed.fingerprint,
      disabled: false,
      version: 1,
      created_ms: this.options.clock.nowMs(),
    };
    return this.options.metadata.write(async (tx) => {
      checkNameUnique(await this.table.list(tx), body.name);
      const id = await this.table.nextId(tx, 'security key');
      this.table.put(tx, id, record);
      return toKey(id, record);
    });
  }

  /** Renames, re-comments, disables or enables. Disabling a key a policy uses is refused. */
  async update(ref: string, input: unknown): Promise<SecurityKey> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FsError('InvalidArgument', 'security_key must be a JSON object');
    checkSchema(SecurityKeyPatchSchema, input, 'security_key');
    const patch = input as SecurityKeyPatch;
    const current = await this.resolve(ref);
    if (patch.disabled === true && !current.disabled) {
      const policies = (await this.options.keyUsages(current.id)).filter((usage) => usage.type === 'snapshot_policy');
      if (policies.length > 0) throw new FsError('Conflict', `security key ${JSON.stringify(current.name)} is used by snapshot policies ${policies.map((usage) => usage.id).join(', ')}; change them first`);
    }
    return this.options.metadata.write(async (tx) => {
      const record = await this.table.get(tx, current.id);
      if (record === undefined) throw new FsError('NotFound', `no security key ${JSON.stringify(ref)}`);
      if (patch.name !== undefined) checkNameUnique(await this.table.list(tx), patch.name, current.id);
      const next: KeyRecord = { ...record, ...patch };
      this.table.put(tx, current.id, next);
      return toKey(current.id, next);
    });
  }

  /** The message to sign for replacing key `ref` by `publicKeyPem` (for clients that ask). */
  async replacementMessage(ref: string, publicKeyPem: string): Promise<string> {
    const current = await this.resolve(ref);
    const parsed = parsePublicKey(publicKeyPem);
    return keyReplacementMessage({ keyId: current.id, version: current.version, replacementFingerprintSha256: parsed.fingerprint });
  }

  /** Rotates key `ref` to a new public key; both private keys sign `keyReplacementMessage`. */
  async replace(ref: string, input: unknown): Promise<SecurityKey> {
    checkSchema(SecurityKeyReplaceSchema, input, 'security_key_replacement');
    const body = input as Static<typeof SecurityKeyReplaceSchema>;
    const parsed = parsePublicKey(body.public_key);
    return this.options.metadata.write(async (tx) => {
      const found = await this.findIn(tx, ref);
      if (found === undefined) throw new FsError('NotFound', `no security key ${JSON.stringify(ref)}`);
      const { id, record } = found;
      if (record.fingerprint_sha256 === parsed.fingerprint) throw new FsError('InvalidArgument', 'public_key is the key already registered');
      const message = Buffer.from(keyReplacementMessage({ keyId: id, version: record.version, replacementFingerprintSha256: parsed.fingerprint }), 'utf8');
      if (!verifySignature(record.public_key, message, body.old_key_signature)) {
        throw new FsError('PermissionDenied', `old_key_signature does not verify with the current key; sign the replacement message for version ${record.version}`);
      }
      if (!verifySignature(parsed.key, message, body.new_key_signature)) throw new FsError('InvalidArgument', 'new_key_signature does not verify with the new public_key');
      const next: KeyRecord = { ...record, public_key: parsed.pem, fingerprint_sha256: parsed.fingerprint, version: record.version + 1 };
      this.table.put(tx, id, next);
      return toKey(id, next);
    });
  }

  /**
   * Deletes an unused key. The usage check runs before the delete commits, so a lock taken in
   * between could still name the deleted key: such a snapshot stays locked until it expires.
   */
  async delete(ref: string): Promise<void> {
    const current = await this.resolve(ref);
    const usages = await this.options.keyUsages(current.id);
    if (usages.length > 0) {
      const listed = usages.slice(0, 10).map((usage) => `${usage.type} ${usage.id}`).join(', ');
      throw new FsError('Conflict', `security key ${JSON.stringify(current.name)} is in use (${listed}${usages.length > 10 ? ', ...' : ''}); unlock or change them first`);
    }
    await this.options.metadata.write(async (tx) => {
      if ((await this.table.get(tx, current.id)) === undefined) throw new FsError('NotFound', `no security key ${JSON.stringify(ref)}`);
      this.table.delete(tx, current.id);
    });
  }

  private async findIn(tx: ReadTransaction, ref: string): Promise<{ id: string; record: KeyRecord } | undefined> {
    if (parseTableId(ref) !== undefined) {
      const record = await this.table.get(tx, ref);
      if (record !== undefined) return { id: ref, record };
    }
    const byName = (await this.table.list(tx)).find((entry) => entry.value.name === ref);
    return byName === undefined ? undefined : { id: byName.id, record: byName.value };
  }
}
