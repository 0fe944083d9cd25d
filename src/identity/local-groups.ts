import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { FsError, check } from '../core/errors.js';
import type { MetadataStore, ReadTransaction, WriteTransaction } from '../storage/metadata/metadata-store.js';
import {
  decodeJson,
  EMPTY,
  groupGidKey,
  groupNameKey,
  groupNamePrefix,
  groupRecordKey,
  lastStringOf,
  memberKey,
  memberOfKey,
  memberOfPrefix,
  memberPrefix,
  nextGidKey,
  pageRange,
  primaryPrefix,
  putJson,
  readJson,
  userRecordKey,
} from './identity-keys.js';
import { IdentityCache } from './identity-cache.js';
import type { LocalUser } from './local-users.js';

/**
 * Local groups and their members, in Keyspace.identity (layout: identity-keys.ts).
 *
 * gids: allocated from GID_ALLOCATED_MIN up when not given. SIDs: Samba's algorithmic mapping,
 * domain SID + '-' + (1001 + 2 * gid): odd RIDs are groups, even RIDs users. The built-in group
 * `users` (gid 100) is every user's default primary group; it is created on first use and cannot
 * be renamed or deleted. Membership here is explicit (supplementary) membership: a user's primary
 * group is on the user record and is not listed among a group's members, as in /etc/group.
 */

export const USERS_GROUP_NAME = 'users';
export const USERS_GROUP_GID = 100;
export const GID_ALLOCATED_MIN = 2000;
/** Largest gid whose algorithmic RID (1001 + 2 * gid) still fits the 32-bit RID field. */
export const GID_MAX = 2_147_483_147;
/** The NFS "nogroup" gid is reserved for squashed and unmapped callers. */
export const GID_NOGROUP = 65534;
export const GROUP_NAME_CHARS_MAX = 32;
/** Members of one group; at most one scan's worth, so deleting a group is one bounded scan. */
export const GROUP_MEMBERS_MAX = 10_000;
/** Groups of one user (Linux allows 65,536 supplementary groups; NFS AUTH_SYS carries 16). */
export const GROUPS_PER_USER_MAX = 1_000;
export const GROUPS_PAGE_MAX = 1_000;
const GID_PROBES_MAX = 10_000;
const GROUP_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export interface LocalGroup {
  readonly id: string;
  readonly name: string;
  readonly gid: number;
  readonly sid: string;
  readonly builtIn: boolean;
  readonly memberCount: number;
  readonly createdAt: number;
}

/** What a member listing shows of a user (never the password hash). */
export interface GroupMember {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
}

export interface LocalGroupsOptions {
  readonly metadata: MetadataStore;
  /** The instance's domain SID, `S-1-5-21-x-y-z`. */
  readonly domainSid: string;
  readonly clock: Clock;
  readonly randomId?: () => string;
  /** Shared with the LocalUsers over the same store (see IdentityCache); a private one otherwise. */
  readonly cache?: IdentityCache;
}

export interface Page {
  readonly after?: string;
  readonly limit: number;
}

export class LocalGroups {
  readonly #metadata: MetadataStore;
  readonly #domainSid: string;
  readonly #clock: Clock;
  readonly #randomId: () => string;
  readonly #cache: IdentityCache;
  #builtInReady = false;

  constructor(options: LocalGroupsOptions) {
    if (!/^S-1-5-21-\d+-\d+-\d+$/.test(options.domainSid)) throw new Error(`assertion failed: bad domain SID ${options.domainSid}`);
    this.#metadata = options.metadata;
    this.#domainSid = options.domainSid;
    this.#clock = options.clock;
    this.#randomId = options.randomId ?? randomUUID;
    this.#cache = options.cache ?? new IdentityCache();
  }

  /** Creates a group. Fails with InvalidName, InvalidArgument (bad gid) or Exists (name or gid taken). */
  async createGroup(request: { name: string; gid?: number }): Promise<LocalGroup> {
    checkGroupName(request.name);
    if (request.gid !== undefined) checkGid(request.gid);
    await this.#ensureBuiltIn();
    const id = this.#randomId();
    return this.#metadata.write(async (tx) => {
      check((await tx.get(groupNameKey(request.name))) === undefined, 'Exists', `a group named ${request.name} already exists`);
      let gid = request.gid;
      if (gid === undefined) {
        gid = await allocateGid(tx);
        putJson(tx, nextGidKey(), gid + 1);
      } else {
        check((await tx.get(groupGidKey(gid))) === undefined, 'Exists', `gid ${gid} is already in use`);
      }
      return putGroup(tx, { id, name: request.name, gid, sid: groupSid(this.#domainSid, gid), builtIn: false, memberCount: 0, createdAt: this.#clock.nowMs() });
    });
  }

  async get(id: string): Promise<LocalGroup | undefined> {
    if (id === '' || id.length > 128) return undefined;
    await this.#ensureBuiltIn();
    return this.#metadata.read((tx) => readGroup(tx, id));
  }

  /** Case-insensitive, like user names. */
  async findByName(name: string): Promise<LocalGroup | undefined> {
    if (!isValidGroupName(name)) return undefined;
    await this.#ensureBuiltIn();
    return this.#metadata.read(async (tx) => {
      const id = await readJson<string>(tx, groupNameKey(name));
      return id === undefined ? undefined : readGroup(tx, id);
    });
  }

  async findByGid(gid: number): Promise<LocalGroup | undefined> {
    if (!Number.isSafeInteger(gid) || gid < 0 || gid > GID_MAX) return undefined;
    await this.#ensureBuiltIn();
    return this.#metadata.read(async (tx) => {
      const id = await readJson<string>(tx, groupGidKey(gid));
      return id === undefined ? undefined : readGroup(tx, id);
    });
  }

  /** A page of groups in case-insensitive name order, after the name `after` (exclusive). */
  async list(page: Page): Promise<{ groups: LocalGroup[]; next?: string }> {
    checkLimit(page.limit);
    if (page.after !== undefined) checkGroupName(page.after);
    await this.#ensureBuiltIn();
    return this.#metadata.read(async (tx) => {
      const range = pageRange(groupNamePrefix(), page.after === undefined ? undefined : groupNameKey(page.after));
      const entries = await tx.scan({ ...range, limit: page.limit + 1 });
      const groups: LocalGroup[] = [];
      for (const entry of entries.slice(0, page.limit)) {
        const group = await readGroup(tx, decodeJson<string>(entry.value));
        if (group !== undefined) groups.push(group);
      }
      const last = groups.at(-1);
      return entries.length > page.limit && last !== undefined ? { groups, next: last.name.toLowerCase() } : { groups };
    });
  }

  /** Renames a group. Fails with NotFound, InvalidName, Exists, or ReadOnly for the built-in group. */
  async update(id: string, request: { name?: string }): Promise<LocalGroup> {
    if (request.name !== undefined) checkGroupName(request.name);
    await this.#ensureBuiltIn();
    return this.#metadata.write(async (tx) => {
      const group = await requireGroup(tx, id);
      if (request.name === undefined || request.name === group.name) return group;
      check(!group.builtIn, 'ReadOnly', `the built-in group ${group.name} cannot be renamed`);
      const holder = await readJson<string>(tx, groupNameKey(request.name));
      check(holder === undefined || holder === id, 'Exists', `a group named ${request.name} already exists`);
      tx.delete(groupNameKey(group.name));
      return putGroup(tx, { ...group, name: request.name });
    });
  }

  /**
   * Deletes a group and its memberships. Fails with NotFound, ReadOnly (the built-in group) or
   * Conflict while the group is some user's primary group. Role memberships are the caller's.
   */
  async deleteGroup(id: string): Promise<LocalGroup> {
    await this.#ensureBuiltIn();
    // 'all': the members whose group lists change are known only inside the transaction.
    return this.#cache.groupsOf.mutate('all', () => this.#metadata.write(async (tx) => {
      const group = await requireGroup(tx, id);
      check(!group.builtIn, 'ReadOnly', `the built-in group ${group.name} cannot be deleted`);
      const [primary] = await tx.scan({ ...pageRange(primaryPrefix(group.gid), undefined), limit: 1 });
      if (primary !== undefined) {
        const user = await readJson<LocalUser>(tx, userRecordKey(lastStringOf(primary.key)));
        throw new FsError('Conflict', `group ${group.name} is the primary group of user ${user?.name ?? '(unknown)'} and maybe others; give them another primary group first`);
      }
      const members = await tx.scan({ ...pageRange(memberPrefix(id), undefined), limit: GROUP_MEMBERS_MAX });
      for (const entry of members) {
        tx.delete(memberOfKey(lastStringOf(entry.key), id));
        tx.delete(entry.key);
      }
      tx.delete(groupGidKey(group.gid));
      tx.delete(groupNameKey(group.name));
      tx.delete(groupRecordKey(id));
      return group;
    }));
  }

  /** A page of a group's explicit members in user-id order, after the user id `after`. */
  async members(groupId: string, page: Page): Promise<{ members: GroupMember[]; next?: string }> {
    checkLimit(page.limit);
    await this.#ensureBuiltIn();
    return this.#metadata.read(async (tx) => {
      await requireGroup(tx, groupId);
      const range = pageRange(memberPrefix(groupId), page.after === undefined ? undefined : memberKey(groupId, page.after));
      const entries = await tx.scan({ ...range, limit: page.limit + 1 });
      const members: GroupMember[] = [];
      for (const entry of entries.slice(0, page.limit)) {
        const user = await readJson<LocalUser>(tx, userRecordKey(lastStringOf(entry.key)));
        if (user !== undefined) members.push({ id: user.id, name: user.name, uid: user.uid });
      }
      const last = members.at(-1);
      return entries.length > page.limit && last !== undefined ? { members, next: last.id } : { members };
    });
  }

  /**
   * Makes a user a member. Idempotent: answers false when it already was. Fails with NotFound
   * (group or user) or NoSpace (GROUP_MEMBERS_MAX or GROUPS_PER_USER_MAX reached).
   */
  async addMember(groupId: string, userId: string): Promise<boolean> {
    await this.#ensureBuiltIn();
    return this.#cache.groupsOf.mutate([userId], () => this.#metadata.write(async (tx) => {
      const group = await requireGroup(tx, groupId);
      check((await tx.get(userRecordKey(userId))) !== undefined, 'NotFound', `no user ${userId}`);
      if ((await tx.get(memberKey(groupId, userId))) !== undefined) return false;
      check(group.memberCount < GROUP_MEMBERS_MAX, 'NoSpace', `group ${group.name} has the most members allowed (${GROUP_MEMBERS_MAX})`);
      const groupsOfUser = await tx.scan({ ...pageRange(memberOfPrefix(userId), undefined), limit: GROUPS_PER_USER_MAX });
      check(groupsOfUser.length < GROUPS_PER_USER_MAX, 'NoSpace', `the user is in the most groups allowed (${GROUPS_PER_USER_MAX})`);
      tx.put(memberKey(groupId, userId), EMPTY);
      putJson(tx, memberOfKey(userId, groupId), group.gid);
      putGroup(tx, { ...group, memberCount: group.memberCount + 1 });
      return true;
    }));
  }

  /** Fails with NotFound when the group does not exist or the user is not a member. */
  async removeMember(groupId: string, userId: string): Promise<void> {
    await this.#ensureBuiltIn();
    await this.#cache.groupsOf.mutate([userId], () => this.#metadata.write(async (tx) => {
      const group = await requireGroup(tx, groupId);
      check((await tx.get(memberKey(groupId, userId))) !== undefined, 'NotFound', `user ${userId} is not a member of group ${group.name}`);
      tx.delete(memberKey(groupId, userId));
      tx.delete(memberOfKey(userId, groupId));
      putGroup(tx, { ...group, memberCount: Math.max(0, group.memberCount - 1) });
    }));
  }

  /**
   * The gids of the groups `userId` is an explicit member of, ascending, without the primary gid
   * (which is on the user record): a principal's gids are [primaryGid, ...groupsOf(id)]. Served
   * from memory after the first read (IdentityCache): every membership writer invalidates it.
   * The answer is the caller's own array.
   */
  async groupsOf(userId: string): Promise<number[]> {
    const gids = await this.#cache.groupsOf.get(userId, () =>
      this.#metadata.read(async (tx) => {
        const entries = await tx.scan({ ...pageRange(memberOfPrefix(userId), undefined), limit: GROUPS_PER_USER_MAX });
        return Object.freeze([...new Set(entries.map((entry) => decodeJson<number>(entry.value)))].sort((left, right) => left - right));
      }),
    );
    return [...(gids ?? [])];
  }

  /** Creates the built-in group once; a failed attempt is retried by the next call. */
  async #ensureBuiltIn(): Promise<void> {
    if (this.#builtInReady) return;
    await this.#metadata.write(async (tx) => {
      if ((await tx.get(groupGidKey(USERS_GROUP_GID))) !== undefined) return;
      if ((await tx.get(groupNameKey(USERS_GROUP_NAME))) !== undefined) throw new Error(`assertion failed: a group named ${USERS_GROUP_NAME} exists without gid ${USERS_GROUP_GID}`);
      putGroup(tx, {
        id: this.#randomId(),
        name: USERS_GROUP_NAME,
        gid: USERS_GROUP_GID,
        sid: groupSid(this.#domainSid, USERS_GROUP_GID),
        builtIn: true,
        memberCount: 0,
        createdAt: this.#clock.nowMs(),
      });
    });
    this.#builtInReady = true;
  }
}

export function groupSid(domainSid: string, gid: number): string {
  return `${domainSid}-${1001 + 2 * gid}`;
}

export function isValidGroupName(name: string): boolean {
  return name.length >= 1 && name.length <= GROUP_NAME_CHARS_MAX && GROUP_NAME_PATTERN.test(name);
}

function checkGroupName(name: string): void {
  check(
    isValidGroupName(name),
    'InvalidName',
    `group name must be 1 to ${GROUP_NAME_CHARS_MAX} characters of letters, digits, '_', '.', '-', starting with a letter or '_'`,
  );
}

function checkGid(gid: number): void {
  check(Number.isSafeInteger(gid) && gid >= 1 && gid <= GID_MAX, 'InvalidArgument', `gid must be between 1 and ${GID_MAX}`);
  check(gid !== GID_NOGROUP, 'InvalidArgument', `gid ${GID_NOGROUP} is reserved for nogroup`);
}

function checkLimit(limit: number): void {
  check(Number.isSafeInteger(limit) && limit >= 1 && limit <= GROUPS_PAGE_MAX, 'InvalidArgument', `limit must be 1 to ${GROUPS_PAGE_MAX}`);
}

function putGroup(tx: WriteTransaction, group: LocalGroup): LocalGroup {
  putJson(tx, groupRecordKey(group.id), group);
  putJson(tx, groupNameKey(group.name), group.id);
  putJson(tx, groupGidKey(group.gid), group.id);
  return group;
}

async function readGroup(tx: ReadTransaction, id: string): Promise<LocalGroup | undefined> {
  return readJson<LocalGroup>(tx, groupRecordKey(id));
}

async function requireGroup(tx: ReadTransaction, id: string): Promise<LocalGroup> {
  const group = await readGroup(tx, id);
  if (group === undefined) throw new FsError('NotFound', `no group ${id}`);
  return group;
}

async function allocateGid(tx: ReadTransaction): Promise<number> {
  let gid = Math.max(GID_ALLOCATED_MIN, (await readJson<number>(tx, nextGidKey())) ?? GID_ALLOCATED_MIN);
  for (let probe = 0; probe < GID_PROBES_MAX; probe++, gid++) {
    if (gid === GID_NOGROUP) continue;
    if (gid > GID_MAX) break;
    if ((await tx.get(groupGidKey(gid))) === undefined) return gid;
  }
  throw new FsError('NoSpace', 'no free gid found; choose a gid explicitly');
}
