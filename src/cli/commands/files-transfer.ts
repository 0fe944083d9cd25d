import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApiRequestError, fileRef } from '../api-client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from '../cli-io.js';
import type { CommandContext } from '../context.js';
import { transferCounter } from '../progress.js';
import { formatBytes } from '../units.js';

/**
 * `files get` and `files put`: file data streamed both ways (never held in memory), with a
 * progress bar on a terminal. A download goes to `LOCAL.enclave-partial` and is renamed once
 * complete, so an interrupted one never looks like the real file.
 */

export interface FileAttributes {
  readonly path?: string;
  readonly name?: string;
  readonly id: string;
  readonly type: string;
  readonly size: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly modification_time: string;
}

export const DIRECTORY_TYPE = 'FS_FILE_TYPE_DIRECTORY';

export function parentAndName(path: string): { parent: string; name: string } {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  const name = trimmed.slice(slash + 1);
  if (slash < 0 || name === '') throw new CliError(`${JSON.stringify(path)} does not name an entry below /`, EXIT_USAGE);
  return { parent: slash === 0 ? '/' : trimmed.slice(0, slash), name };
}

/** The attributes at `path`, or undefined when nothing is there. */
export async function attributesOrNothing(context: CommandContext, path: string): Promise<FileAttributes | undefined> {
  try {
    return await context.client.call<FileAttributes>('GET', `/v1/files/${fileRef(path)}/info/attributes`);
  } catch (error) {
    if (error instanceof ApiRequestError && error.status === 404) return undefined;
    throw error;
  }
}

export async function downloadFile(context: CommandContext, remote: string, local: string): Promise<void> {
  const { response, sizeBytes } = await context.client.openDownload(`/v1/files/${fileRef(remote)}/data`);
  if (local === '-') {
    await pipeline(response, context.io.stdout, { end: false });
    return;
  }
  const localStat = await stat(local).catch(() => undefined);
  const target = localStat?.isDirectory() === true ? join(local, basename(remote.replace(/\/+$/, ''))) : local;
  const partial = `${target}.enclave-partial`;
  const counter = await transferCounter(context, 'download', sizeBytes);
  try {
    await pipeline(response, counter.stream, createWriteStream(partial));
    if (sizeBytes !== undefined && counter.bytes() !== sizeBytes) {
      throw new CliError(`the download of ${remote} was cut short: ${counter.bytes()} of ${sizeBytes} bytes`, EXIT_FAILURE);
    }
    await rename(partial, target);
  } catch (error) {
    await unlink(partial).catch(() => undefined);
    if (error instanceof CliError) throw error;
    throw new CliError(`downloading ${remote} to ${target} failed: ${(error as Error).message}`, EXIT_FAILURE);
  } finally {
    counter.finish();
  }
  const summary = { path: remote, local: target, size: counter.bytes() };
  context.output.result(summary, () => `downloaded ${remote} to ${target} (${formatBytes(summary.size)})`);
}

/** Where an upload lands: `remote` itself, or `remote/<local name>` when it is a directory. Creates the file if needed. */
async function uploadTarget(context: CommandContext, local: string, remote: string): Promise<string> {
  let target = remote.endsWith('/') ? `${remote}${basename(local)}` : remote;
  let existing = await attributesOrNothing(context, target);
  if (existing?.type === DIRECTORY_TYPE) {
    target = `${target.replace(/\/+$/, '')}/${basename(local)}`;
    existing = await attributesOrNothing(context, target);
  }
  if (existing?.type === DIRECTORY_TYPE) throw new CliError(`${target} is a directory`, EXIT_FAILURE);
  if (existing === undefined) {
    const { parent, name } = parentAndName(target);
    await context.client.call('POST', `/v1/files/${fileRef(parent)}/entries`, { body: { name, action: 'CREATE_FILE' } });
  }
  return target;
}

export async function uploadFile(context: CommandContext, local: string, remote: string): Promise<void> {
  const localStat = await stat(local).catch((error: Error) => {
    throw new CliError(`cannot read ${local}: ${error.message}`, EXIT_USAGE);
  });
  if (!localStat.isFile()) throw new CliError(`${local} is not a regular file`, EXIT_USAGE);
  fileRef(remote);
  const target = await uploadTarget(context, local, remote);
  const counter = await transferCounter(context, 'upload', localStat.size);
  let attributes: FileAttributes;
  try {
    const source = createReadStream(local);
    source.on('error', (error) => counter.stream.destroy(error));
    attributes = await context.client.upload<FileAttributes>(`/v1/files/${fileRef(target)}/data`, source.pipe(counter.stream), localStat.size);
  } finally {
    counter.finish();
  }
  if (Number(attributes.size) !== localStat.size) {
    throw new CliError(`the upload of ${local} ended with ${attributes.size} of ${localStat.size} bytes on the server`, EXIT_FAILURE);
  }
  context.output.result({ ...attributes, path: target }, () => `uploaded ${local} to ${target} (${formatBytes(localStat.size)})`);
}
