import { FsError } from '../core/errors.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore, ReadTransaction } from '../storage/metadata/metadata-store.js';
import { key, KeyReader, prefixEnd } from '../storage/metadata/tuple.js';
import { BUILT_IN_ROLES, isPrivilege, type Privilege } from './privileges.js';

/**
 * Roles and their members, in the metadata store under Keyspace.authz:
 *   [authz, 0x01, role name]                      -> role (JSON)
 *   [authz, 0x02, role name, kind, member id]     -> '' (kind 'user' or 'group', id the user id or gid)
 *   [authz, 0x03, kind, member id, role name]     -> '' (the reverse index: roles of a member)
 * Built-in roles exist from the start and cannot be changed or deleted; their members can.
 */

const ROLE = 0x01;
const MEMBER = 0x02;
const MEMBER_OF = 0x03;
export const ROLES_MAX = 1_000;
export const ROLE_MEMBERS_MAX = 10_000;
const ROLE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const DESCRIPTION_CHARS_MAX = 1_024;

export type MemberKind = 'user' | 'group';

export interface Role {
  readonly name: string;
  readonly description: string;
  readonly privileges: readonly Privilege[];
  readonly builtIn: boolean;
}

export interface RoleMember {
  readonly kind: MemberKind;
  /** A user's id, or a group's gid as a decimal string. */
  readonly id: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
const parse = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T;

const roleKey = (name: string) => key().byte(Keyspace.authz).byte(ROLE).string(name).build();
const rolePrefix = () => key().byte(Keyspace.authz).byte(ROLE).build();
const memberPrefix = (role: string) => key().byte(Keyspace.authz).byte(MEMBER).string(role).build();
const memberKey = (role: string, member: RoleMember) => key().byte(Keyspace.authz).byte(MEMBER).string(role).string(member.kind).string(member.id).build();
const memberOfPrefix = (member: RoleMember) => key().byte(Keyspace.authz).byte(MEMBER_OF).string(member.kind).string(member.id).build();
const memberOfKey = (member: RoleMember, role: string) => key().byte(Keyspace.authz).byte(MEMBER_OF).string(member.kind).string(member.id).string(role).build();

function builtIn(name: string): Role | undefined {
  const found = (BUILT_IN_ROLES as Record<string, { description: string; privileges: readonly Privilege[] }>)[name];
  return found === undefined ? undefined : { name, description: found.description, privileges: [...found.privileges], builtIn: true };
}

function checkPrivileges(privileges: readonly string[]): Privilege[] {
  const unknown = privileges.filter((privilege) => !isPrivilege(privilege));
  if (unknown.length > 0) throw new FsError('InvalidArgument', `unknown privileges: ${unknown.join(', ')}`);
  return [...new Set(privileges as Privilege[])].sort();
}

export class RoleStore {
  constructor(private readonly metadata: MetadataStore) {}

  async list(): Promise<Role[]> {
    const stored = await this.metadata.read((tx) => tx.scan({ start: rolePrefix(), end: prefixEnd(rolePrefix()), limit: ROLES_MAX }));
    const custom = stored.map((entry) => parse<Role>(entry.value));
    return [...Object.keys(BUILT_IN_ROLES).map((name) => builtIn(name) as Role), ...custom];
  }

  async get(name: string): Promise<Role | undefined> {
    return builtIn(name) ?? this.metadata.read(async (tx) => readRole(tx, name));
  }

  async create(input: { name: string; description?: string; privileges: readonly string[] }): Promise<Role> {
    if (!ROLE_NAME_PATTERN.test(input.name)) throw new FsError('InvalidName', 'a role name is 1-64 letters, digits, "_", "." or "-", starting with a letter');
    if ((input.description ?? '').length > DESCRIPTION_CHARS_MAX) throw new FsError('InvalidArgument', 'the description is too long');
    if (builtIn(input.name) !== undefined) throw new FsError('Exists', `role ${input.name} already exists`);
    const role: Role = { name: input.name, description: input.description ?? '', privileges: checkPrivileges(input.privileges), builtIn: false };
    await this.metadata.write(async (tx) => {
      if ((await tx.get(roleKey(role.name))) !== undefined) throw new FsError('Exists', `role ${role.name} already exists`);
      const count = await tx.scan({ start: rolePrefix(), end: prefixEnd(rolePrefix()), limit: ROLES_MAX });
      if (count.length >= ROLES_MAX) throw new FsError('NoSpace', `at most ${ROLES_MAX} roles`);
      tx.put(roleKey(role.name), json(role));
    });
    return role;
  }

  async update(name: string, changes: { description?: string; privileges?: readonly string[] }): Promise<Role> {
    if (builtIn(name) !== undefined) throw new FsError('ReadOnly', `built-in role ${name} cannot be changed`);
    return this.metadata.write(async (tx) => {
      const role = await readRole(tx, name);
      if (role === undefined) throw new FsError('NotFound', `no role ${name}`);
      const next: Role = {
        ...role,
        description: changes.description ?? role.description,
        privileges: changes.privileges === undefined ? role.privileges : checkPrivileges(changes.privileges),
      };
      tx.put(roleKey(name), json(next));
      return next;
    });
  }

  async delete(name: string): Promise<void> {
    if (builtIn(name) !== undefined) throw new FsError('ReadOnly', `built-in role ${name} cannot be deleted`);
    await this.metadata.write(async (tx) => {
      if ((await readRole(tx, name)) === undefined) throw new FsError('NotFound', `no role ${name}`);
      for (const member of await readMembers(tx, name)) tx.delete(memberOfKey(member, name));
      const members = await tx.scan({ start: memberPrefix(name), end: prefixEnd(memberPrefix(name)), limit: ROLE_MEMBERS_MAX });
      for (const entry of members) tx.delete(entry.key);
      tx.delete(roleKey(name));
    });
  }

  async members(name: string): Promise<RoleMember[]> {
    if ((await this.get(name)) === undefined) throw new FsError('NotFound', `no role ${name}`);
    return this.metadata.read((tx) => readMembers(tx, name));
  }

  async addMember(name: string, member: RoleMember): Promise<void> {
    if ((await this.get(name)) === undefined) throw new FsError('NotFound', `no role ${name}`);
    await this.metadata.write(async (tx) => {
      tx.put(memberKey(name, member), new Uint8Array(0));
      tx.put(memberOfKey(member, name), new Uint8Array(0));
    });
  }

  async removeMember(name: string, member: RoleMember): Promise<void> {
    await this.metadata.write(async (tx) => {
      if ((await tx.get(memberKey(name, member))) === undefined) throw new FsError('NotFound', `${member.kind} ${member.id} is not a member of ${name}`);
      tx.delete(memberKey(name, member));
      tx.delete(memberOfKey(member, name));
    });
  }

  /** Removes a deleted user or group from every role. */
  async forgetMember(member: RoleMember): Promise<void> {
    await this.metadata.write(async (tx) => {
      for (const role of await readRolesOf(tx, member)) {
        tx.delete(memberKey(role, member));
        tx.delete(memberOfKey(member, role));
      }
    });
  }

  /** The privileges of a user: the union over the roles of the user and of each of its groups. */
  async privilegesOf(userId: string, gids: readonly number[]): Promise<Set<Privilege>> {
    return this.metadata.read(async (tx) => {
      const members: RoleMember[] = [{ kind: 'user', id: userId }, ...gids.map((gid) => ({ kind: 'group' as const, id: String(gid) }))];
      const privileges = new Set<Privilege>();
      for (const member of members) {
        for (const roleName of await readRolesOf(tx, member)) {
          const role = builtIn(roleName) ?? (await readRole(tx, roleName));
          for (const privilege of role?.privileges ?? []) privileges.add(privilege);
        }
      }
      return privileges;
    });
  }

  async rolesOf(member: RoleMember): Promise<string[]> {
    return this.metadata.read((tx) => readRolesOf(tx, member));
  }
}

async function readRole(tx: ReadTransaction, name: string): Promise<Role | undefined> {
  const value = await tx.get(roleKey(name));
  return value === undefined ? undefined : parse<Role>(value);
}

async function readMembers(tx: ReadTransaction, name: string): Promise<RoleMember[]> {
  const entries = await tx.scan({ start: memberPrefix(name), end: prefixEnd(memberPrefix(name)), limit: ROLE_MEMBERS_MAX });
  return entries.map((entry) => {
    const reader = new KeyReader(entry.key);
    reader.byte();
    reader.byte();
    reader.string();
    return { kind: reader.string() as MemberKind, id: reader.string() };
  });
}

async function readRolesOf(tx: ReadTransaction, member: RoleMember): Promise<string[]> {
  const entries = await tx.scan({ start: memberOfPrefix(member), end: prefixEnd(memberOfPrefix(member)), limit: ROLES_MAX });
  return entries.map((entry) => {
    const reader = new KeyReader(entry.key);
    reader.byte();
    reader.byte();
    reader.string();
    reader.string();
    return reader.string();
  });
}
