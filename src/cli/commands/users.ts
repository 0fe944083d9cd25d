import type { Command } from 'commander';
import { allPages } from '../api-client.js';
import type { CliIo } from '../cli-io.js';
import { askNewPassword, contextOf, integerArgument } from '../context.js';
import type { Column } from '../output.js';

interface User {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
  readonly sid: string;
  readonly primary_gid: number;
  readonly created_at: string;
}

interface Group {
  readonly id: string;
  readonly name: string;
  readonly gid: number;
  readonly sid: string;
  readonly built_in: boolean;
  readonly member_count: number;
}

interface Member {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
}

const USER_COLUMNS: Column<User>[] = [
  { header: 'NAME', value: (user) => user.name },
  { header: 'UID', value: (user) => user.uid },
  { header: 'PRIMARY_GID', value: (user) => user.primary_gid },
  { header: 'ID', value: (user) => user.id },
];

const GROUP_COLUMNS: Column<Group>[] = [
  { header: 'NAME', value: (group) => group.name },
  { header: 'GID', value: (group) => group.gid },
  { header: 'MEMBERS', value: (group) => group.member_count },
  { header: 'BUILT_IN', value: (group) => group.built_in },
  { header: 'ID', value: (group) => group.id },
];

const MEMBER_COLUMNS: Column<Member>[] = [
  { header: 'NAME', value: (member) => member.name },
  { header: 'UID', value: (member) => member.uid },
  { header: 'ID', value: (member) => member.id },
];

const USER_FIELDS = ['name', 'id', 'uid', 'sid', 'primary_gid', 'created_at'];
const GROUP_FIELDS = ['name', 'id', 'gid', 'sid', 'built_in', 'member_count', 'created_at'];

/** `/v1/users/{id}` and `/v1/groups/{id}` take an id or a name. */
const userPath = (user: string) => `/v1/users/${encodeURIComponent(user)}`;
const groupPath = (group: string) => `/v1/groups/${encodeURIComponent(group)}`;

/** A primary group as the API takes it: a gid (number) or a group name. */
function groupValue(text: string): string | number {
  return /^[0-9]+$/.test(text) ? Number(text) : text;
}

export function registerUserCommands(program: Command, io: CliIo): void {
  const users = program.command('users').description('local users');
  users
    .command('list')
    .description('every local user')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.table(await allPages<User>(context.client, '/v1/users', 'entries'), USER_COLUMNS);
    });
  users
    .command('get <user>')
    .description('one user, by name or id')
    .action(async (user: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.record(await context.client.call<User>('GET', userPath(user)), USER_FIELDS);
    });
  users
    .command('create <name>')
    .description('create a user; asks for the password (from stdin when it is not a terminal)')
    .option('--uid <n>', 'uid (allocated when not given)')
    .option('--primary-group <group>', 'primary group name or gid (default: users, gid 100)')
    .action(async (name: string, flags: { uid?: string; primaryGroup?: string }, command: Command) => {
      const context = contextOf(command, io);
      const password = await askNewPassword(context, `Password for ${name}: `);
      const body = {
        name,
        password,
        ...(flags.uid === undefined ? {} : { uid: integerArgument(flags.uid, '--uid') }),
        ...(flags.primaryGroup === undefined ? {} : { primary_group: groupValue(flags.primaryGroup) }),
      };
      context.output.record(await context.client.call<User>('POST', '/v1/users', { body }), USER_FIELDS);
    });
  users
    .command('update <user>')
    .description('rename a user or change its primary group')
    .option('--name <name>', 'new name')
    .option('--primary-group <group>', 'primary group name or gid')
    .action(async (user: string, flags: { name?: string; primaryGroup?: string }, command: Command) => {
      const context = contextOf(command, io);
      const body = {
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(flags.primaryGroup === undefined ? {} : { primary_group: groupValue(flags.primaryGroup) }),
      };
      context.output.record(await context.client.call<User>('PATCH', userPath(user), { body }), USER_FIELDS);
    });
  users
    .command('delete <user>')
    .description('delete a user, its memberships, sessions and tokens')
    .action(async (user: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', userPath(user));
      context.output.result({ deleted: user }, () => `deleted user ${user}`);
    });
  users
    .command('set-password <user>')
    .description("reset a user's password (asks for it); the user's sessions end")
    .action(async (user: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const password = await askNewPassword(context, `New password for ${user}: `);
      await context.client.call('PUT', `${userPath(user)}/password`, { body: { new_password: password } });
      context.output.result({ password_set: user }, () => `password of ${user} set`);
    });
  registerGroupCommands(program, io);
}

function registerGroupCommands(program: Command, io: CliIo): void {
  const groups = program.command('groups').description('local groups and their members');
  groups
    .command('list')
    .description('every local group')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.table(await allPages<Group>(context.client, '/v1/groups', 'entries'), GROUP_COLUMNS);
    });
  groups
    .command('get <group>')
    .description('one group, by name or id')
    .action(async (group: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.record(await context.client.call<Group>('GET', groupPath(group)), GROUP_FIELDS);
    });
  groups
    .command('create <name>')
    .description('create a group')
    .option('--gid <n>', 'gid (allocated from 2000 when not given)')
    .action(async (name: string, flags: { gid?: string }, command: Command) => {
      const context = contextOf(command, io);
      const body = { name, ...(flags.gid === undefined ? {} : { gid: integerArgument(flags.gid, '--gid') }) };
      context.output.record(await context.client.call<Group>('POST', '/v1/groups', { body }), GROUP_FIELDS);
    });
  groups
    .command('delete <group>')
    .description('delete a group (refused while it is some user\'s primary group)')
    .action(async (group: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', groupPath(group));
      context.output.result({ deleted: group }, () => `deleted group ${group}`);
    });
  groups
    .command('members <group>')
    .description("a group's members")
    .action(async (group: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.table(await allPages<Member>(context.client, `${groupPath(group)}/members`, 'entries'), MEMBER_COLUMNS);
    });
  groups
    .command('add-member <group> <user>')
    .description('add a user (name or id) to a group')
    .action(async (group: string, user: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const member = await context.client.call<Member>('POST', `${groupPath(group)}/members`, { body: { member_id: user } });
      context.output.result(member, () => `added ${member.name} to ${group}`);
    });
  groups
    .command('remove-member <group> <user>')
    .description('remove a user from a group')
    .action(async (group: string, user: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `${groupPath(group)}/members/${encodeURIComponent(user)}`);
      context.output.result({ removed: user, group }, () => `removed ${user} from ${group}`);
    });
}
