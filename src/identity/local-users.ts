import { randomBytes, randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import type { Clock } from '../core/clock.js';
import { FsError, check } from '../core/errors.js';
import type { MetadataStore, ReadTransaction, WriteTransaction } from '../storage/metadata/metadata-store.js';
import {
  decodeJson,
  EMPTY,
  groupGidKey,
  groupRecordKey,
  lastStringOf,
  memberKey,
  memberOfPrefix,
  nextUidKey,
  pageRange,
  primaryKey,
  putJson,
  readJson,
  userNameKey,
  userNamePrefix,
  userRecordKey,
  userUidKey,
} from './identity-keys.js';
import { IdentityCache } from './identity-cache.js';
import { PASSWORD_POLICY_DEFAULTS, PasswordPolicy } from './password-policy.js';
import { GID_MAX, GROUPS_PER_USER_MAX, USERS_GROUP_GID, type LocalGroup } from './local-groups.js';

/**
 * Local users, stored in the metadata store under Keyspace.identity (layout: identity-keys.ts).
 *
 * uids: allocated from UID_ALLOCATED_MIN up when not given. The `admin` user made at init gets
 * ADMIN_UID (1000), below the allocated range so it never collides; it is an ordinary principal
 * for file access (never uid 0, never a superuser) and gets management rights from RBAC. It is
 * the one built-in user: it cannot be renamed (init finds it by name) or deleted.
 * SIDs: Samba's algorithmic mapping, domain SID + '-' + (1000 + 2 * uid); odd RIDs are for groups.
 * Primary groups: a user's primary gid names an existing group (DEFAULT_PRIMARY_GID, the built-in
 * `users` group, always counts as existing); an index lets a group refuse deletion while it is
 * someone's primary group.
 */

export const ADMIN_USER_NAME = 'admin';
export const ADMIN_UID = 1000;
export const UID_ALLOCATED_MIN = 2000;
/** Largest uid whose algorithmic RID (1000 + 2 * uid) still fits the 32-bit RID field. */
export const UID_MAX = 2_147_483_147;
/** The NFS "nobody" uid is reserved for squashed and unmapped callers. */
export const UID_NOBODY = 65534;
/** Primary gid of users created without one: the built-in "users" group. */
export const DEFAULT_PRIMARY_GID = USERS_GROUP_GID;
export const USER_NAME_CHARS_MAX = 32;
/** The password policy's minimum; init warns when ENCLAVE_ADMIN_PASSWORD is shorter. */
export const PASSWORD_CHARS_MIN = PASSWORD_POLICY_DEFAULTS.lengthMin;
export const PASSWORD_BYTES_MAX = PASSWORD_POLICY_DEFAULTS.bytesMax;
/** Bounds one page of a user listing. */
export const USERS_PAGE_MAX = 1_000;
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
  /**
   * Skips the password policy (length and common passwords), keeping only "not empty" and the
   * byte bound: for the operator-chosen admin password at init, where the caller logs a warning.
   */
  readonly allowShortPassword?: boolean;
}

export interface UpdateUserRequest {
  readonly name?: string;
  readonly primaryGid?: number;
}

export interface UserPage {
  readonly users: LocalUser[];
  /** The `after` of the next page, when there may be one. */
  readonly next?: string;
}

export interface LocalUsersOptions {
  readonly metadata: MetadataStore;
  /** The instance's domain SID, `S-1-5-21-x-y-z`. */
  readonly domainSid: string;
  readonly clock: Clock;
  readonly randomId?: () => string;
  /** Defaults to the default policy with the shipped common-password list. */
  readonly passwordPolicy?: PasswordPolicy;
  /** Shared with the LocalGroups over the same store (see IdentityCache); a private one otherwise. */
  readonly cache?: IdentityCache;
}

export class LocalUsers {
  readonly #metadata: MetadataStore;
  readonly #domainSid: string;
  readonly #clock: Clock;
  readonly #randomId: () => string;
  readonly #policy: PasswordPolicy;
  readonly #cache: IdentityCache;
  /** A hash of a random password, verified against for unknown users (see verifyPassword). */
  #dummyHash: Promise<string> | undefined;

  constructor(options: LocalUsersOptions) {
    if (!/^S-1-5-21-\d+-\d+-\d+$/.test(options.domainSid)) throw new Error(`assertion failed: bad domain SID ${options.domainSid}`);
    this.#metadata = options.metadata;
    this.#domainSid = options.domainSid;
    this.#clock = options.clock;
    this.#randomId = options.randomId ?? randomUUID;
    this.#policy = options.passwordPolicy ?? new PasswordPolicy();
    this.#cache = options.cache ?? new IdentityCache();
  }

  get passwordPolicy(): PasswordPolicy {
    return this.#policy;
  }

  /**
   * Creates a user. Fails with InvalidName (bad name), InvalidArgument (bad uid, unknown primary
   * group, empty password), PasswordPolicyError, or Exists (name or uid taken). The password is
   * hashed before the transaction opens, since a transaction must await only its own methods.
   */
  async createUser(request: CreateUserRequest): Promise<LocalUser> {
    checkUserName(request.name);
    this.#checkPassword(request.password, request.name, request.allowShortPassword === true);
    if (request.uid !== undefined) checkUid(request.uid);
    const primaryGid = request.primaryGid ?? DEFAULT_PRIMARY_GID;
    checkGid(primaryGid);
    const passwordHash = await argon2.hash(request.password, ARGON2_OPTIONS);
    const id = this.#randomId();
    return this.#cache.users.mutate([id], () => this.#metadata.write(async (tx) => {
      check((await tx.get(userNameKey(request.name))) === undefined, 'Exists', `a user named ${request.name} already exists`);
      await checkGroupExists(tx, primaryGid);
      let uid = request.uid;
      if (uid === undefined) {
        uid = await allocateUid(tx);
        putJson(tx, nextUidKey(), uid + 1);
      } else {
        check((await tx.get(userUidKey(uid))) === undefined, 'Exists', `uid ${uid} is already in use`);
      }
      const user: LocalUser = { id, name: request.name, uid, primaryGid, sid: userSid(this.#domainSid, uid), passwordHash, createdAt: this.#clock.nowMs() };
      putJson(tx, userRecordKey(id), user);
      putJson(tx, userNameKey(user.name), id);
      putJson(tx, userUidKey(uid), id);
      tx.put(primaryKey(primaryGid, id), EMPTY);
      return user;
    }));
  }

  /** Served from memory after the first read (IdentityCache): every writer of a user record invalidates it. */
  async get(id: string): Promise<LocalUser | undefined> {
    if (id === '' || id.length > 128) return undefined;
    return this.#cache.users.get(id, async () => {
      const user = await this.#metadata.read((tx) => readUser(tx, id));
      return user === undefined ? undefined : Object.freeze(user);
    });
  }

  /** Case-insensitive, like SMB account names. */
  async findByName(name: string): Promise<LocalUser | undefined> {
    if (!isValidUserName(name)) return undefined;
    return this.#metadata.read(async (tx) => {
      const id = await readJson<string>(tx, userNameKey(name));
      return id === undefined ? undefined : readUser(tx, id);
    });
  }

  async findByUid(uid: number): Promise<LocalUser | undefined> {
    if (!Number.isSafeInteger(uid) || uid < 0 || uid > UID_MAX) return undefined;
    return this.#metadata.read(async (tx) => {
      const id = await readJson<string>(tx, userUidKey(uid));
      return id === undefined ? undefined : readUser(tx, id);
    });
  }

  /** A page of users in case-insensitive name order, after the name `after` (exclusive). */
  async list(options: { after?: string; limit: number }): Promise<UserPage> {
    check(Number.isSafeInteger(options.limit) && options.limit >= 1 && options.limit <= USERS_PAGE_MAX, 'InvalidArgument', `limit must be 1 to ${USERS_PAGE_MAX}`);
    if (options.after !== undefined) checkUserName(options.after);
    return this.#metadata.read(async (tx) => {
      const range = pageRange(userNamePrefix(), options.after === undefined ? undefined : userNameKey(options.after));
      const entries = await tx.scan({ ...range, limit: options.limit + 1 });
      const users: LocalUser[] = [];
      for (const entry of entries.slice(0, options.limit)) {
        const user = await readUser(tx, decodeJson<string>(entry.value));
        if (user !== undefined) users.push(user);
      }
      const last = users.at(-1);
      return entries.length > options.limit && last !== undefined ? { users, next: last.name.toLowerCase() } : { users };
    });
  }

  /**
   * Renames a user or changes its primary group. Fails with NotFound, InvalidName, Exists (the new
   * name is taken), InvalidArgument (unknown group) or ReadOnly (renaming the built-in admin).
   */
  async update(id: string, request: UpdateUserRequest): Promise<LocalUser> {
    if (request.name !== undefined) checkUserName(request.name);
    if (request.primaryGid !== undefined) checkGid(request.primaryGid);
    return this.#cache.users.mutate([id], () => this.#metadata.write(async (tx) => {
      const user = await readUser(tx, id);
      if (user === undefined) throw new FsError('NotFound', `no user ${id}`);
      let next = user;
      if (request.name !== undefined && request.name !== user.name) {
        check(!isBuiltInAdmin(user), 'ReadOnly', `the built-in ${ADMIN_USER_NAME} user cannot be renamed`);
        const holder = await readJson<string>(tx, userNameKey(request.name));
        check(holder === undefined || holder === id, 'Exists', `a user named ${request.name} already exists`);
        tx.delete(userNameKey(user.name));
        putJson(tx, userNameKey(request.name), id);
        next = { ...next, name: request.name };
      }
      if (request.primaryGid !== undefined && request.primaryGid !== user.primaryGid) {
        await checkGroupExists(tx, request.primaryGid);
        tx.delete(primaryKey(user.primaryGid, id));
        tx.put(primaryKey(request.primaryGid, id), EMPTY);
        next = { ...next, primaryGid: request.primaryGid };
      }
      if (next !== user) putJson(tx, userRecordKey(id), next);
      return next;
    }));
  }

  /** Sets a new password (an administrator's reset, or a user's own change); the policy applies. */
  async setPassword(id: string, password: string): Promise<LocalUser> {
    const current = await this.get(id);
    if (current === undefined) throw new FsError('NotFound', `no user ${id}`);
    this.#checkPassword(password, current.name, false);
    const passwordHash = await argon2.hash(password, ARGON2_OPTIONS);
    return this.#cache.users.mutate([id], () => this.#metadata.write(async (tx) => {
      const user = await readUser(tx, id);
      if (user === undefined) throw new FsError('NotFound', `no user ${id}`);
      const next: LocalUser = { ...user, passwordHash };
      putJson(tx, userRecordKey(id), next);
      return next;
    }));
  }

  /**
   * Deletes a user and, in the same transaction, its group memberships. Fails with NotFound, or
   * ReadOnly for the built-in admin. Role memberships live in authz/ and are the caller's to drop.
   */
  async deleteUser(id: string): Promise<LocalUser> {
    const { users, groupsOf } = this.#cache;
    return users.mutate([id], () => groupsOf.mutate([id], () => this.#metadata.write(async (tx) => {
      const user = await readUser(tx, id);
      if (user === undefined) throw new FsError('NotFound', `no user ${id}`);
      check(!isBuiltInAdmin(user), 'ReadOnly', `the built-in ${ADMIN_USER_NAME} user cannot be deleted`);
      await removeMemberships(tx, id);
      tx.delete(primaryKey(user.primaryGid, id));
      tx.delete(userUidKey(user.uid));
      tx.delete(userNameKey(user.name));
      tx.delete(userRecordKey(id));
      return user;
    })));
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

  #checkPassword(password: string, userName: string, bypassPolicy: boolean): void {
    check(typeof password === 'string' && password.length > 0, 'InvalidArgument', 'password must not be empty');
    if (bypassPolicy) {
      check(Buffer.byteLength(password) <= PASSWORD_BYTES_MAX, 'InvalidArgument', `password must be at most ${PASSWORD_BYTES_MAX} bytes`);
      return;
    }
    this.#policy.enforce(password, { userName });
  }

  #getDummyHash(): Promise<string> {
    this.#dummyHash ??= argon2.hash(randomBytes(32).toString('base64'), ARGON2_OPTIONS);
    return this.#dummyHash;
  }
}

/** The built-in admin: init finds it by name, and renaming it is refused, so the name identifies it. */
export function isBuiltInAdmin(user: Pick<LocalUser, 'name'>): boolean {
  return user.name.toLowerCase() === ADMIN_USER_NAME;
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

function checkUid(uid: number): void {
  check(Number.isSafeInteger(uid) && uid >= 1 && uid <= UID_MAX, 'InvalidArgument', `uid must be between 1 and ${UID_MAX}`);
  check(uid !== UID_NOBODY, 'InvalidArgument', `uid ${UID_NOBODY} is reserved for nobody`);
}

function checkGid(gid: number): void {
  check(Number.isSafeInteger(gid) && gid >= 0 && gid <= GID_MAX, 'InvalidArgument', `primary gid ${gid} is not a valid gid`);
}

async function checkGroupExists(tx: ReadTransaction, gid: number): Promise<void> {
  if (gid === DEFAULT_PRIMARY_GID) return;
  check((await tx.get(groupGidKey(gid))) !== undefined, 'InvalidArgument', `no group with gid ${gid}`);
}

/** Drops every group membership of a user, keeping each group's member count. */
async function removeMemberships(tx: WriteTransaction, userId: string): Promise<void> {
  const entries = await tx.scan({ ...pageRange(memberOfPrefix(userId), undefined), limit: GROUPS_PER_USER_MAX });
  for (const entry of entries) {
    const groupId = lastStringOf(entry.key);
    const group = await readJson<LocalGroup>(tx, groupRecordKey(groupId));
    if (group !== undefined) putJson(tx, groupRecordKey(groupId), { ...group, memberCount: Math.max(0, group.memberCount - 1) });
    tx.delete(memberKey(groupId, userId));
    tx.delete(entry.key);
  }
}

async function allocateUid(tx: ReadTransaction): Promise<number> {
  const stored = await readJson<number>(tx, nextUidKey());
  let uid = Math.max(UID_ALLOCATED_MIN, stored ?? UID_ALLOCATED_MIN);
  for (let probe = 0; probe < UID_PROBES_MAX; probe++, uid++) {
    if (uid === UID_NOBODY) continue;
    if (uid > UID_MAX) break;
    if ((await tx.get(userUidKey(uid))) === undefined) return uid;
  }
  throw new FsError('NoSpace', 'no free uid found; choose a uid explicitly');
}

async function readUser(tx: ReadTransaction, id: string): Promise<LocalUser | undefined> {
  return readJson<LocalUser>(tx, userRecordKey(id));
}
