import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { ReadTransaction, WriteTransaction } from '../storage/metadata/metadata-store.js';
import { key, KeyReader, prefixEnd } from '../storage/metadata/tuple.js';

/**
 * The key layout of local users and groups in Keyspace.identity, in one place because users and
 * groups refer to each other inside one transaction (a user's primary group must exist; deleting
 * a user drops its memberships; a group that is someone's primary group cannot be deleted).
 *
 *   [identity, 0x01, user id]                  -> user record (JSON)
 *   [identity, 0x02, lower(user name)]         -> user id (JSON)
 *   [identity, 0x03, uid]                      -> user id (JSON)
 *   [identity, 0x04]                           -> next uid to try (JSON number)
 *   [identity, 0x05, group id]                 -> group record (JSON)
 *   [identity, 0x06, lower(group name)]        -> group id (JSON)
 *   [identity, 0x07, gid]                      -> group id (JSON)
 *   [identity, 0x08, 0x01, group id, user id]  -> ''  (members of a group)
 *   [identity, 0x08, 0x02, user id, group id]  -> gid (JSON; the groups of a user, with their gids)
 *   [identity, 0x08, 0x03, gid, user id]       -> ''  (users whose primary group is gid)
 *   [identity, 0x09]                           -> next gid to try (JSON number)
 *
 * Sub-tags from 0x0a up belong to other identity modules (sessions, MFA, id mapping).
 */

const USER_RECORD = 0x01;
const USER_BY_NAME = 0x02;
const USER_BY_UID = 0x03;
const NEXT_UID = 0x04;
const GROUP_RECORD = 0x05;
const GROUP_BY_NAME = 0x06;
const GROUP_BY_GID = 0x07;
const MEMBERSHIP = 0x08;
const NEXT_GID = 0x09;

const MEMBERS = 0x01;
const MEMBER_OF = 0x02;
const PRIMARY = 0x03;

export const userRecordKey = (id: string): Uint8Array => key().byte(Keyspace.identity).byte(USER_RECORD).string(id).build();
export const userNameKey = (name: string): Uint8Array => key().byte(Keyspace.identity).byte(USER_BY_NAME).string(name.toLowerCase()).build();
export const userNamePrefix = (): Uint8Array => key().byte(Keyspace.identity).byte(USER_BY_NAME).build();
export const userUidKey = (uid: number): Uint8Array => key().byte(Keyspace.identity).byte(USER_BY_UID).uint(uid).build();
export const nextUidKey = (): Uint8Array => key().byte(Keyspace.identity).byte(NEXT_UID).build();

export const groupRecordKey = (id: string): Uint8Array => key().byte(Keyspace.identity).byte(GROUP_RECORD).string(id).build();
export const groupNameKey = (name: string): Uint8Array => key().byte(Keyspace.identity).byte(GROUP_BY_NAME).string(name.toLowerCase()).build();
export const groupNamePrefix = (): Uint8Array => key().byte(Keyspace.identity).byte(GROUP_BY_NAME).build();
export const groupGidKey = (gid: number): Uint8Array => key().byte(Keyspace.identity).byte(GROUP_BY_GID).uint(gid).build();
export const nextGidKey = (): Uint8Array => key().byte(Keyspace.identity).byte(NEXT_GID).build();

export const memberKey = (groupId: string, userId: string): Uint8Array =>
  key().byte(Keyspace.identity).byte(MEMBERSHIP).byte(MEMBERS).string(groupId).string(userId).build();
export const memberPrefix = (groupId: string): Uint8Array => key().byte(Keyspace.identity).byte(MEMBERSHIP).byte(MEMBERS).string(groupId).build();
export const memberOfKey = (userId: string, groupId: string): Uint8Array =>
  key().byte(Keyspace.identity).byte(MEMBERSHIP).byte(MEMBER_OF).string(userId).string(groupId).build();
export const memberOfPrefix = (userId: string): Uint8Array => key().byte(Keyspace.identity).byte(MEMBERSHIP).byte(MEMBER_OF).string(userId).build();
export const primaryKey = (gid: number, userId: string): Uint8Array =>
  key().byte(Keyspace.identity).byte(MEMBERSHIP).byte(PRIMARY).uint(gid).string(userId).build();
export const primaryPrefix = (gid: number): Uint8Array => key().byte(Keyspace.identity).byte(MEMBERSHIP).byte(PRIMARY).uint(gid).build();

/** The last string part of a membership key: the user id of a MEMBERS key, the group id of a MEMBER_OF key. */
export function lastStringOf(entryKey: Uint8Array): string {
  const reader = new KeyReader(entryKey);
  reader.byte();
  reader.byte();
  const kind = reader.byte();
  if (kind === PRIMARY) reader.uint();
  else reader.string();
  return reader.string();
}

/** The smallest key after `entryKey` and everything it prefixes: where a page that ended at it resumes. */
export function keyAfter(entryKey: Uint8Array): Uint8Array {
  const after = new Uint8Array(entryKey.length + 1);
  after.set(entryKey);
  return after;
}

/** The range [start, end) of the keys under `prefix`, starting after `afterKey` when given. */
export function pageRange(prefix: Uint8Array, afterKey: Uint8Array | undefined): { start: Uint8Array; end: Uint8Array } {
  return { start: afterKey === undefined ? prefix : keyAfter(afterKey), end: prefixEnd(prefix) };
}

/** A JSON value stored under `entryKey`, or undefined. */
export async function readJson<T>(tx: ReadTransaction, entryKey: Uint8Array): Promise<T | undefined> {
  const value = await tx.get(entryKey);
  return value === undefined ? undefined : decodeJson<T>(value);
}

export function putJson(tx: WriteTransaction, entryKey: Uint8Array, value: unknown): void {
  tx.put(entryKey, encodeJson(value));
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(textDecoder.decode(bytes)) as T;
}

export const EMPTY = new Uint8Array(0);
