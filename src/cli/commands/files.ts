import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { allPages, ApiRequestError, fileRef } from '../api-client.js';
import { CliError, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { contextOf, integerArgument, type CommandContext } from '../context.js';
import type { Column } from '../output.js';
import { attributesOrNothing, DIRECTORY_TYPE, downloadFile, parentAndName, uploadFile, type FileAttributes } from './files-transfer.js';

interface Ace {
  readonly type: string;
  readonly flags: readonly string[];
  readonly trustee: { readonly domain: string; readonly uid?: number; readonly gid?: number; readonly sid?: string };
  readonly rights: readonly string[];
}

const TYPE_LETTER: Record<string, string> = { FS_FILE_TYPE_DIRECTORY: 'd', FS_FILE_TYPE_SYMLINK: 'l', FS_FILE_TYPE_FILE: '-' };

const LONG_COLUMNS: Column<FileAttributes>[] = [
  { header: 'TYPE', value: (file) => TYPE_LETTER[file.type] ?? '?' },
  { header: 'MODE', value: (file) => file.mode },
  { header: 'OWNER', value: (file) => file.owner },
  { header: 'GROUP', value: (file) => file.group },
  { header: 'SIZE', value: (file) => file.size },
  { header: 'MODIFIED', value: (file) => file.modification_time.replace(/\.\d+Z$/, 'Z') },
  { header: 'NAME', value: (file) => nameOf(file) },
];

function nameOf(file: FileAttributes): string {
  const name = file.name ?? file.path ?? file.id;
  return file.type === DIRECTORY_TYPE ? `${name}/` : name;
}

function trusteeText(trustee: Ace['trustee']): string {
  const ids = [trustee.uid === undefined ? undefined : `uid ${trustee.uid}`, trustee.gid === undefined ? undefined : `gid ${trustee.gid}`, trustee.sid];
  const named = ids.filter((part) => part !== undefined).join(' ');
  return named === '' ? trustee.domain : `${trustee.domain} ${named}`;
}

/** `files ...`: the file API, as the signed-in user (ACLs apply as over any protocol). */
export function registerFileCommands(program: Command, io: CliIo): void {
  const files = program.command('files').description('files and directories: list, read, write, ACLs (paths are absolute, like /dir/file)');
  files
    .command('ls <path>')
    .description('list a directory')
    .option('-l, --long', 'type, mode, owner, group, size and modification time')
    .action(async (path: string, flags: { long?: boolean }, command: Command) => {
      const context = contextOf(command, io);
      const entries = await allPages<FileAttributes>(context.client, `/v1/files/${fileRef(path)}/entries`, 'files');
      if (flags.long === true) context.output.table(entries, LONG_COLUMNS, { path, files: entries });
      else context.output.result({ path, files: entries }, () => entries.map(nameOf).join('\n'));
    });
  files
    .command('stat <path>')
    .description("a file's attributes")
    .action(async (path: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.record(await context.client.call<FileAttributes>('GET', `/v1/files/${fileRef(path)}/info/attributes`));
    });
  files
    .command('cat <path>')
    .description("write a file's content to stdout")
    .action(async (path: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const { response } = await context.client.openDownload(`/v1/files/${fileRef(path)}/data`);
      await pipeline(response, context.io.stdout, { end: false });
    });
  files
    .command('get <path> <local>')
    .description('download a file (LOCAL may be a directory, or - for stdout); a progress bar on a terminal')
    .action(async (path: string, local: string, _flags: object, command: Command) => downloadFile(contextOf(command, io), path, local));
  files
    .command('put <local> <path>')
    .description('upload a file, creating it or replacing its content (PATH may be a directory); a progress bar on a terminal')
    .action(async (local: string, path: string, _flags: object, command: Command) => uploadFile(contextOf(command, io), local, path));
  files
    .command('mkdir <path>')
    .description('create a directory')
    .option('-p, --parents', 'create missing parents too; an existing directory is fine')
    .option('--mode <octal>', 'mode, like 0755')
    .action(async (path: string, flags: { parents?: boolean; mode?: string }, command: Command) => {
      const context = contextOf(command, io);
      const created = await makeDirectory(context, path, flags);
      context.output.result(created ?? { path, existed: true }, () => (created === undefined ? `${path} exists` : `created ${path}`));
    });
  files
    .command('rm <path>')
    .description('delete a file, symlink or empty directory')
    .action(async (path: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `/v1/files/${fileRef(path)}`);
      context.output.result({ deleted: path }, () => `deleted ${path}`);
    });
  files
    .command('explain <path>')
    .description('each right on a file for you (or --uid/--gids): granted or not, and what decided it')
    .option('--uid <n>', 'explain for this uid instead of you')
    .option('--gids <list>', 'comma-separated gids, primary first')
    .action(async (path: string, flags: { uid?: string; gids?: string }, command: Command) => {
      const context = contextOf(command, io);
      const query = { uid: flags.uid === undefined ? undefined : integerArgument(flags.uid, '--uid'), gids: flags.gids };
      const answer = await context.client.call<{ rights: Array<{ right: string; granted: boolean; reason: string; ace_index?: number }> }>(
        'GET',
        `/v1/files/${fileRef(path)}/info/explain-rights`,
        { query },
      );
      context.output.table(
        answer.rights,
        [
          { header: 'RIGHT', value: (row) => row.right },
          { header: 'GRANTED', value: (row) => (row.granted ? 'yes' : 'no') },
          { header: 'DECIDED_BY', value: (row) => (row.ace_index === undefined ? row.reason : `${row.reason} (ace ${row.ace_index})`) },
        ],
        answer,
      );
    });
  registerAclCommands(files, io);
}

function registerAclCommands(files: Command, io: CliIo): void {
  const acl = files.command('acl').description("a file's ACL");
  acl
    .command('get <path>')
    .description('the ACL, one entry a line (--json gives the body `acl set` takes)')
    .action(async (path: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const answer = await context.client.call<{ control: string[]; aces: Ace[] }>('GET', `/v1/files/${fileRef(path)}/info/acl`);
      context.output.table(
        answer.aces,
        [
          { header: 'TYPE', value: (ace) => ace.type },
          { header: 'TRUSTEE', value: (ace) => trusteeText(ace.trustee) },
          { header: 'FLAGS', value: (ace) => ace.flags },
          { header: 'RIGHTS', value: (ace) => ace.rights },
        ],
        answer,
      );
    });
  acl
    .command('set <path> <file>')
    .description('replace the ACL with the one in FILE (JSON {aces: [{type, flags, trustee, rights}]}, - for stdin)')
    .action(async (path: string, file: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const text = file === '-' ? await readStdin(context) : await readFile(file, 'utf8').catch((error: Error) => {
        throw new CliError(`cannot read ${file}: ${error.message}`, EXIT_USAGE);
      });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new CliError(`${file} is not JSON`, EXIT_USAGE);
      }
      const answer = await context.client.call<{ aces: Ace[] }>('PUT', `/v1/files/${fileRef(path)}/info/acl`, { body });
      context.output.result(answer, () => `ACL of ${path} set (${answer.aces.length} entries)`);
    });
}

/** Creates `path` (and with `parents`, its missing parents); undefined when it already existed. */
async function makeDirectory(context: CommandContext, path: string, flags: { parents?: boolean; mode?: string }): Promise<FileAttributes | undefined> {
  const { parent, name } = parentAndName(path);
  if (flags.parents === true) {
    const existing = await attributesOrNothing(context, path);
    if (existing !== undefined) {
      if (existing.type !== DIRECTORY_TYPE) throw new CliError(`${path} exists and is not a directory`, EXIT_USAGE);
      return undefined;
    }
    if (parent !== '/') await makeDirectory(context, parent, { parents: true });
  }
  try {
    return await context.client.call<FileAttributes>('POST', `/v1/files/${fileRef(parent)}/entries`, {
      body: { name, action: 'CREATE_DIRECTORY', ...(flags.mode === undefined ? {} : { mode: flags.mode }) },
    });
  } catch (error) {
    // Another client may have made it in between; with --parents that is fine.
    if (flags.parents === true && error instanceof ApiRequestError && error.status === 409) return undefined;
    throw error;
  }
}

async function readStdin(context: CommandContext): Promise<string> {
  const input = context.io.stdin;
  if (input === undefined) throw new CliError('no stdin to read from', EXIT_USAGE);
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

