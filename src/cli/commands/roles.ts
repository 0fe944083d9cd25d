import type { Command } from 'commander';
import { CliError, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { contextOf } from '../context.js';
import type { Column } from '../output.js';

interface Role {
  readonly name: string;
  readonly description: string;
  readonly privileges: readonly string[];
  readonly builtIn?: boolean;
  readonly built_in?: boolean;
}

interface RoleMember {
  readonly kind: 'user' | 'group';
  readonly id: string;
  readonly name: string | null;
}

interface AccessToken {
  readonly id: string;
  readonly user_id: string;
  readonly description?: string;
  readonly created_at: string;
  readonly expiration: string | null;
  readonly last_used_at: string | null;
}

const ROLE_COLUMNS: Column<Role>[] = [
  { header: 'NAME', value: (role) => role.name },
  { header: 'BUILT_IN', value: (role) => role.builtIn ?? role.built_in ?? false },
  { header: 'PRIVILEGES', value: (role) => role.privileges.length },
  { header: 'DESCRIPTION', value: (role) => role.description },
];

const TOKEN_COLUMNS: Column<AccessToken>[] = [
  { header: 'ID', value: (token) => token.id },
  { header: 'USER_ID', value: (token) => token.user_id },
  { header: 'CREATED', value: (token) => token.created_at },
  { header: 'EXPIRES', value: (token) => token.expiration ?? 'never' },
  { header: 'LAST_USED', value: (token) => token.last_used_at ?? 'never' },
  { header: 'DESCRIPTION', value: (token) => token.description },
];

const rolePath = (name: string) => `/v1/auth/roles/${encodeURIComponent(name)}`;

/** `--privileges A,B` or repeated `--privilege A`, upper-cased. */
function privilegesOf(flags: { privilege?: string[]; privileges?: string }): string[] | undefined {
  const listed = [...(flags.privilege ?? []), ...(flags.privileges?.split(',') ?? [])].map((name) => name.trim().toUpperCase()).filter((name) => name !== '');
  return flags.privilege === undefined && flags.privileges === undefined ? undefined : listed;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerRoleCommands(program: Command, io: CliIo): void {
  program
    .command('privileges')
    .description('the privilege catalogue')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const privileges = await context.client.call<Array<{ name: string; description: string }>>('GET', '/v1/auth/privileges');
      context.output.table(privileges, [
        { header: 'PRIVILEGE', value: (privilege) => privilege.name },
        { header: 'DESCRIPTION', value: (privilege) => privilege.description },
      ]);
    });

  const roles = program.command('roles').description('RBAC roles: privileges given to users and groups');
  roles
    .command('list')
    .description('every role')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.table(await context.client.call<Role[]>('GET', '/v1/auth/roles'), ROLE_COLUMNS);
    });
  roles
    .command('get <name>')
    .description('one role with its privileges')
    .action(async (name: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const role = await context.client.call<Role>('GET', rolePath(name));
      context.output.result(role, () =>
        [`name         ${role.name}`, `built_in     ${String(role.builtIn ?? role.built_in ?? false)}`, `description  ${role.description}`, 'privileges', ...role.privileges.map((p) => `  ${p}`)].join('\n'),
      );
    });
  roles
    .command('create <name>')
    .description('create a custom role')
    .option('--privilege <name>', 'a privilege (repeatable)', collect)
    .option('--privileges <list>', 'comma-separated privileges')
    .option('--description <text>', 'what the role is for')
    .action(async (name: string, flags: { privilege?: string[]; privileges?: string; description?: string }, command: Command) => {
      const context = contextOf(command, io);
      const body = { name, privileges: privilegesOf(flags) ?? [], ...(flags.description === undefined ? {} : { description: flags.description }) };
      const role = await context.client.call<Role>('POST', '/v1/auth/roles', { body });
      context.output.result(role, () => `created role ${role.name} (${role.privileges.join(', ') || 'no privileges'})`);
    });
  roles
    .command('update <name>')
    .description("change a custom role's privileges (replacing them) or description")
    .option('--privilege <name>', 'a privilege (repeatable)', collect)
    .option('--privileges <list>', 'comma-separated privileges')
    .option('--description <text>', 'what the role is for')
    .action(async (name: string, flags: { privilege?: string[]; privileges?: string; description?: string }, command: Command) => {
      const context = contextOf(command, io);
      const privileges = privilegesOf(flags);
      if (privileges === undefined && flags.description === undefined) throw new CliError('give --privileges or --description', EXIT_USAGE);
      const body = { ...(privileges === undefined ? {} : { privileges }), ...(flags.description === undefined ? {} : { description: flags.description }) };
      const role = await context.client.call<Role>('PATCH', rolePath(name), { body });
      context.output.result(role, () => `updated role ${role.name} (${role.privileges.join(', ') || 'no privileges'})`);
    });
  roles
    .command('delete <name>')
    .description('delete a custom role')
    .action(async (name: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', rolePath(name));
      context.output.result({ deleted: name }, () => `deleted role ${name}`);
    });
  roles
    .command('members <name>')
    .description('the users and groups holding a role')
    .action(async (name: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.table(await context.client.call<RoleMember[]>('GET', `${rolePath(name)}/members`), [
        { header: 'KIND', value: (member) => member.kind },
        { header: 'NAME', value: (member) => member.name },
        { header: 'ID', value: (member) => member.id },
      ]);
    });
  roles
    .command('assign <name> <member>')
    .description('give a role to a user or group (by name or id)')
    .action(async (name: string, member: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const answer = await context.client.call<{ kind: string; id: string }>('POST', `${rolePath(name)}/members`, { body: { member } });
      context.output.result(answer, () => `gave ${name} to ${answer.kind} ${member}`);
    });
  roles
    .command('unassign <name> <member>')
    .description('take a role from a user or group')
    .action(async (name: string, member: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `${rolePath(name)}/members/${encodeURIComponent(member)}`);
      context.output.result({ role: name, removed: member }, () => `took ${name} from ${member}`);
    });
  registerTokenCommands(program, io);
}

function registerTokenCommands(program: Command, io: CliIo): void {
  const tokens = program.command('tokens').description('access tokens: long-lived bearer tokens for scripts');
  tokens
    .command('list')
    .description('access tokens (never their secrets), with last use')
    .option('--user <user>', 'only this user\'s tokens')
    .action(async (flags: { user?: string }, command: Command) => {
      const context = contextOf(command, io);
      const answer = await context.client.call<{ entries: AccessToken[] }>('GET', '/v1/auth/access-tokens', { query: { user: flags.user } });
      context.output.table(answer.entries, TOKEN_COLUMNS, answer);
    });
  tokens
    .command('create <user>')
    .description('create an access token for a user; its secret is printed this once')
    .option('--description <text>', 'what the token is for')
    .option('--expiration <time>', 'RFC 3339 time when it stops working (default: never)')
    .action(async (user: string, flags: { description?: string; expiration?: string }, command: Command) => {
      const context = contextOf(command, io);
      const body = { user, ...(flags.description === undefined ? {} : { description: flags.description }), ...(flags.expiration === undefined ? {} : { expiration: flags.expiration }) };
      const created = await context.client.call<AccessToken & { bearer_token: string }>('POST', '/v1/auth/access-tokens', { body });
      // The secret is printed because it was asked for, once; the server keeps only its hash.
      context.output.result(created, () => created.bearer_token);
      if (!context.output.json) context.notice(`access token ${created.id} for ${user}: the line above is its secret, shown only now (use it as ENCLAVE_TOKEN)`);
    });
  tokens
    .command('revoke <id>')
    .description('revoke an access token, at once')
    .action(async (id: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `/v1/auth/access-tokens/${encodeURIComponent(id)}`);
      context.output.result({ revoked: id }, () => `revoked access token ${id}`);
    });
}
