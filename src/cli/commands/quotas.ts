import type { Command } from 'commander';
import { allPages, ApiRequestError, fileRef } from '../api-client.js';
import type { CliIo } from '../cli-io.js';
import { contextOf, type CommandContext } from '../context.js';
import { formatBytes, parseByteSize } from '../units.js';

interface Quota {
  readonly id: string;
  readonly path?: string;
  readonly limit: string;
  readonly capacity_used?: string;
}

/** A quota's directory id: a file id as is, a path through its attributes. */
async function directoryId(context: CommandContext, pathOrId: string): Promise<string> {
  if (/^[0-9]+$/.test(pathOrId)) return pathOrId;
  return (await context.client.call<{ id: string }>('GET', `/v1/files/${fileRef(pathOrId)}/info/attributes`)).id;
}

function usedPercent(quota: Quota): string {
  const limit = Number(quota.limit);
  return limit === 0 ? '-' : `${((100 * Number(quota.capacity_used ?? 0)) / limit).toFixed(1)}%`;
}

/** Directory quotas. Sizes take units: `10G` (powers of 1000) or `500MiB` (powers of 1024). */
export function registerQuotaCommands(program: Command, io: CliIo): void {
  const quotas = program.command('quotas').description('directory quotas (hard limits on the bytes below a directory)');
  quotas
    .command('list')
    .description('every quota')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const entries = await allPages<Quota>(context.client, '/v1/files/quotas', 'quotas');
      context.output.table(entries, [
        { header: 'DIRECTORY_ID', value: (quota) => quota.id },
        { header: 'LIMIT', value: (quota) => formatBytes(Number(quota.limit)) },
        { header: 'LIMIT_BYTES', value: (quota) => quota.limit },
      ], { quotas: entries });
    });
  quotas
    .command('status')
    .description('every quota with the bytes used below it')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const entries = await allPages<Quota>(context.client, '/v1/files/quotas/status', 'quotas');
      context.output.table(entries, [
        { header: 'DIRECTORY_ID', value: (quota) => quota.id },
        { header: 'USED', value: (quota) => formatBytes(Number(quota.capacity_used ?? 0)) },
        { header: 'LIMIT', value: (quota) => formatBytes(Number(quota.limit)) },
        { header: 'USED%', value: usedPercent },
      ], { quotas: entries });
    });
  quotas
    .command('set <path> <size>')
    .description('set or change the quota on a directory (path or id); SIZE in bytes or with a unit: 10G, 500MiB')
    .action(async (path: string, size: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const limit = String(parseByteSize(size));
      const target = /^[0-9]+$/.test(path) ? { id: path } : { path };
      let quota: Quota;
      try {
        quota = await context.client.call<Quota>('POST', '/v1/files/quotas', { body: { ...target, limit } });
      } catch (error) {
        if (!(error instanceof ApiRequestError) || error.status !== 409) throw error;
        const id = await directoryId(context, path);
        quota = await context.client.call<Quota>('PUT', `/v1/files/quotas/${id}`, { body: { limit } });
      }
      context.output.result({ ...quota, path: quota.path ?? path }, () => `quota on ${path} set to ${formatBytes(Number(quota.limit))} (${quota.limit} bytes)`);
    });
  quotas
    .command('delete <path>')
    .description('remove the quota on a directory (path or id)')
    .action(async (path: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `/v1/files/quotas/${await directoryId(context, path)}`);
      context.output.result({ deleted: path }, () => `quota on ${path} removed`);
    });
}
