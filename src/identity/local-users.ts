import { randomBytes, randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import type { Clock } from '../core/clock.js';
import { FsError, check } from '../core/errors.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore, ReadTransaction } from '../storage/metadata/metadata-store.js';
import { key } from '../storage/metadata/tuple.js';

/**
 * Local users, stored in the metadata store under Keyspace.identity.
 *
 * Layout (sub-tags 0x01-0x0f of the identity keyspace belong to this module; groups and id mapping
 * take later ones):
 *   [identity, 0x01, id]            -> user record (JSON)
 *   [identity, 0x02, lower(name)]   -> id   (names are unique case-insensitively, as SMB needs)
 *   [identity, 0x03, uid]           -> id
 *   [identity, 0x04]                -> next uid to try (JSON number)
 *
 * uids: allocated from UID_ALLOCATED_MIN up when not given. The `admin` user made at init gets
 * ADMIN_UID (1000), below the allocated range so it never collides; it is an ordinary principal
 * for file access (never uid 0, never a superuser) and gets management rights from RBAC.
 * SIDs: Samba's algorithmic mapping, domain SID + '-' + (1000 + 2 * uid); odd RIDs are for groups.
 */

const USER_RECORD = 0x01;
const USER_BY_NAME = 0x02;
const USER_BY_UID = 0x03;
const NEXT_UID = 0x04;

export const ADMIN_USER_NAME = 'admin';
export const ADMIN_UID = 1000;
export const UID_ALLOCATED_MIN = 2000;
/** Largest uid whose algorithmic RID (1000 + 2 * uid) still fits the 32-bit RID field. */
export const UID_MAX = 2_147_483_147;
/** The NFS "nobody" uid is reserved for squashed and unmapped callers. */
export const UID_NOBODY = 65534;
/** Primary gid of users created without one: the conventional "users" group. */
export const DEFAULT_PRIMARY_GID = 100;
export const USER_NAME_CHARS_MAX = 32;
export const PASSWORD_CHARS_MIN = 8;
/** Bounds argon2's work on hostile input: a megabyte "password" costs the server, not the caller. */
export const PASSWORD_BYTES_MAX = 1_024;
/** uids tried before giving up, when explicitly chosen uids fill the allocated range. */
const UID_PROBES_MAX = 10_000;

/** OWASP's argon2id baseline: 19 MiB memory, 2 passes, 1 lane. */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** POSIX portable user names (and valid SMB account names): letter or underscore first. */
const USER_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export interface LocalUser {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
  readonly primaryGid: number;
  readonly sid: string;
  readonly passwordHash: string;
  readonly createdAt: number;
}

export interface CreateUserRequest {
  readonly name: string;
  readonly password: string;
  readonly uid?: number;
  readonly primaryGid?: number;
  /** Skips the minimum length (the operator-chosen admin password); the caller logs a warning. */
  readonly allowShortPassword?: boolean;
}

export interface LocalUsersOptions {
  readonly metadata: MetadataStore;
  /** The instance's domain SID, `S-1-5-21-x-y-z`. */
  readonly domainSid: string;
  readonly clock: Clock;
  readonly randomId?: () => string;
}

export class LocalUsers {
  readonly #metadata: MetadataStore;
  readonly #domainSid: string;
  readonly #clock: Clock;
  readonly #randomId: () => string;
  /** A hash of a random password, verified against for unknown users (see verifyPassword). */
  #dummyHash: Promise<string> | undefined;

  constructor(options: LocalUsersOptions) {
    if (!/^S-1-5-21-\d+-\d+-\d+$/.test(options.domainSid)) throw new Error(`assertion failed: bad domain SID ${options.domainSid}`);
    this.#metadata = options.metadata;
    this.#domainSid = options.domainSid;
    this.#clock = options.clock;
    this.#randomId = options.randomId ?? randomUUID;
  }

  /**
   * Creates a user. Fails with InvalidName (bad name), InvalidArgument (bad uid, gid or password)
   * or Exists (name or uid taken). The password is hashed before the transaction opens, since a
   * transaction must await only its own methods.
   */
  async createUser(request: CreateUserRequest): Promise<LocalUser> {
    checkUserName(request.name);
    checkPassword(request.password, request.allowShortPassword === true);
    if (request.uid !== undefined) checkUid(request.uid);
    const primaryGid = request.primaryGid ?? DEFAULT_PRIMARY_GID;
    check(Number.isSafeInteger(primaryGid) && primaryGid >= 0 && primaryGid <= 0xffff_fffe, 'InvalidArgument', `primary gid ${primaryGid} is not a valid gid`);
    const passwordHash = await argon2.hash(request.password, ARGON2_OPTIONS);
    const id = this.#randomId();
    return this.#metadata.write(async (tx) => {
      check((await tx.get(nameKey(request.name))) === undefined, 'Exists', `a user named ${request.name} already exists`);
      let uid = request.uid;
      if (uid === undefined) {
        uid = await allocateUid(tx);
        tx.put(nextUidKey(), encodeJson(uid + 1));
      } else {
        check((await tx.get(uidKey(uid))) === undefined, 'Exists', `uid ${uid} is already in use`);
      }
      const user: LocalUser = {
        id,
        name: request.name,
        uid,
        primaryGid,
        sid: userSid(this.#domainSid, uid),
        passwordHash,
        createdAt: this.#clock.nowMs(),
      };
      tx.put(recordKey(id), encodeJson(user));
      tx.put(nameKey(user.name), encodeJson(id));
      tx.put(uidKey(uid), encodeJson(id));
      return user;
    });
  }

  /** Case-insensitive, like SMB account names. */
  async findByName(name: string): Promise<LocalUser | undefined> {
    if (!isValidUserName(name)) return undefined;
    return this.#metadata.read(async (tx) => {
      const id = await tx.get(nameKey(name));
      return id === undefined ? undefined : readUser(tx, decodeJson<string>(id));
    });
  }

  async findByUid(uid: number): Promise<LocalUser | undefined> {
    if (!Number.isSafeInteger(uid) || uid < 0 || uid > UID_MAX) return undefined;
    return this.#metadata.read(async (tx) => {
      const id = await tx.get(uidKey(uid));
      return id === undefined ? undefined : readUser(tx, decodeJson<string>(id));
    });
  }

  /**
   * Returns the user when `password` is theirs, else undefined. argon2.verify compares in constant
   * time; for an unknown name a dummy hash is verified too, so the answer takes as long whether or
   * not the user exists.
   */
  async verifyPassword(name: string, password: string): Promise<LocalUser | undefined> {
    const user = await this.findByName(name);
    const candidate = Buffer.byteLength(password) <= PASSWORD_BYTES_MAX ? password : '';
    if (user === undefined) {
      await argon2.verify(await this.#getDummyHash(), candidate);
      return undefined;
    }
    const matches = await argon2.verify(user.passwordHash, candidate);
    return matches && candidate !== '' ? user : undefined;
  }

  #getDummyHash(): Promise<string> {
    this.#dummyHash ??= argon2.hash(randomBytes(32).toString('base64'), ARGON2_OPTIONS);
    return this.#dummyHash;
  }
}

export function userSid(domainSid: string, uid: number): string {
  return `${domainSid}-${1000 + 2 * uid}`;
}

export function isValidUserName(name: string): boolean {
  return name.length >= 1 && name.length <= USER_NAME_CHARS_MAX && USER_NAME_PATTERN.test(name);
}

function checkUserName(name: string): void {
  check(
    isValidUserName(name),
    'InvalidName',
    `user name must be 1 to ${USER_NAME_CHARS_MAX} characters of letters, digits, '_', '.', '-', starting with a letter or '_'`,
  );
}

function checkPassword(password: string, allowShort: boolean): void {
  check(typeof password === 'string' && password.length > 0, 'InvalidArgument', 'password must not be empty');
  check(allowShort || password.length >= PASSWORD_CHARS_MIN, 'InvalidArgument', `password must be at least ${PASSWORD_CHARS_MIN} characters`);
  check(Buffer.byteLength(password) <= PASSWORD_BYTES_MAX, 'InvalidArgument', `password must be at most ${PASSWORD_BYTES_MAX} bytes`);
}

function checkUid(uid: number): void {
  check(Number.isSafeInteger(uid) && uid >= 1 && uid <= UID_MAX, 'InvalidArgument', `uid must be between 1 and ${UID_MAX}`);
  check(uid !== UID_NOBODY, 'InvalidArgument', `uid ${UID_NOBODY} is reserved for nobody`);
}

async function allocateUid(tx: ReadTransaction): Promise<number> {
  const stored = await tx.get(nextUidKey());
  let uid = Math.max(UID_ALLOCATED_MIN, stored === undefined ? UID_ALLOCATED_MIN : decodeJson<number>(stored));
  for (let probe = 0; probe < UID_PROBES_MAX; probe++, uid++) {
    if (uid === UID_NOBODY) continue;
    if (uid > UID_MAX) break;
    if ((await tx.get(uidKey(uid))) === undefined) return uid;
  }
  throw new FsError('NoSpace', 'no free uid found; choose a uid explicitly');
}

async function readUser(tx: ReadTransaction, id: string): Promise<LocalUser | undefined> {
  const value = await tx.get(recordKey(id));
  return value === undefined ? undefined : decodeJson<LocalUser>(value);
}

function recordKey(id: string): Uint8Array {
  return key().byte(Keyspace.identity).byte(USER_RECORD).string(id).build();
}

function nameKey(name: string): Uint8Array {
  return key().byte(Keyspace.identity).byte(USER_BY_NAME).string(name.toLowerCase()).build();
}

function uidKey(uid: number): Uint8Array {
  return key().byte(Keyspace.identity).byte(USER_BY_UID).uint(uid).build();
}

function nextUidKey(): Uint8Array {
  return key().byte(Keyspace.identity).byte(NEXT_UID).build();
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function encodeJson(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value));
}

function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(textDecoder.decode(bytes)) as T;
}
