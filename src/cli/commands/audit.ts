import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { contextOf, integerArgument } from '../context.js';

interface AuditEventView {
  readonly seq: number;
  readonly time: string;
  readonly user: { name?: string; uid?: number; sid?: string; id?: string };
  readonly client_address: string;
  readonly protocol: string;
  readonly operation: string;
  readonly status: string;
  readonly file_id?: string;
  readonly path?: string;
  readonly target_path?: string;
  readonly details?: Record<string, unknown>;
}

interface VerifyView {
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  readonly first_bad?: { seq: number; reason: string };
  readonly public_key: string;
}

interface SinkView {
  readonly enabled: boolean;
  readonly server_address: string;
  readonly server_port: number;
  readonly transport: string;
  readonly format: string;
  readonly ca_certificate?: string;
  readonly client_certificate?: string;
}

/** The API answers at most this many events per request. */
const PAGE_EVENTS_MAX = 1_000;

const userOf = (user: AuditEventView['user']): string => user.name ?? user.sid ?? (user.uid === undefined ? undefined : String(user.uid)) ?? user.id ?? '';

function dateArgument(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new CliError(`${name} must be a date and time (like 2026-11-27T10:00:00Z), not ${JSON.stringify(text)}`, EXIT_USAGE);
  return new Date(ms).toISOString();
}

/** `audit events | verify | public-key | syslog show | syslog set`: the audit trail (issue 7). */
export function registerAuditCommands(program: Command, io: CliIo): void {
  const audit = program.command('audit').description('the audit trail: query events, verify the hash chain, syslog sinks, retention');

  audit
    .command('events')
    .description('audit events, oldest first, filtered; fetches page after page up to --limit')
    .option('--from <time>', 'events at or after this time (ISO 8601)')
    .option('--to <time>', 'events before this time (ISO 8601)')
    .option('--user <name-or-id>', 'by user name, SID, UID or internal id')
    .option('--path-prefix <path>', 'path or target path starting with this')
    .option('--protocol <protocol>', 'api, nfsv3, nfsv4.1, smb, s3, ftp or internal')
    .option('--operation <operation>', 'like fs_write_data, rest_login, users_create')
    .option('--status <status>', 'ok, or an error class')
    .option('--limit <n>', 'at most this many events (default 100)')
    .action(async (flags: { from?: string; to?: string; user?: string; pathPrefix?: string; protocol?: string; operation?: string; status?: string; limit?: string }, command: Command) => {
      const context = contextOf(command, io);
      const limit = flags.limit === undefined ? 100 : integerArgument(flags.limit, '--limit');
      if (limit < 1) throw new CliError('--limit must be at least 1', EXIT_USAGE);
      const filters = {
        from: dateArgument(flags.from, '--from'),
        to: dateArgument(flags.to, '--to'),
        user: flags.user,
        path_prefix: flags.pathPrefix,
        protocol: flags.protocol,
        operation: flags.operation,
        status: flags.status,
      };
      const events: AuditEventView[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await context.client.call<{ events: AuditEventView[]; next?: string }>('GET', '/v1/audit/events', {
          query: { ...filters, limit: Math.min(PAGE_EVENTS_MAX, limit - events.length), after },
        });
        events.push(...page.events);
        if (page.next === undefined || events.length >= limit || page.next === after) break;
        after = page.next;
      }
      context.output.table(events, [
        { header: 'SEQ', value: (event) => event.seq },
        { header: 'TIME', value: (event) => event.time },
        { header: 'USER', value: (event) => userOf(event.user) },
        { header: 'FROM', value: (event) => event.client_address },
        { header: 'PROTOCOL', value: (event) => event.protocol },
        { header: 'OPERATION', value: (event) => event.operation },
        { header: 'STATUS', value: (event) => event.status },
        { header: 'PATH', value: (event) => [event.path ?? (event.file_id === undefined ? '' : `id:${event.file_id}`), event.target_path].filter((part) => part !== undefined && part !== '').join(' -> ') },
      ], { events });
    });

  audit
    .command('verify')
    .description('walk the hash chain and the signed checkpoints; exit 1 and name the first bad record when the log was tampered with')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const result = await context.client.call<VerifyView>('GET', '/v1/audit/verify');
      context.output.result(result, () => `${result.ok ? 'ok' : 'NOT OK'}: ${result.records} records, ${result.checkpoints} signed checkpoints`);
      if (!result.ok) {
        const bad = result.first_bad;
        throw new CliError(`the audit log does not verify: first bad record ${bad === undefined ? '?' : `${bad.seq}: ${bad.reason}`}`, EXIT_FAILURE);
      }
    });

  audit
    .command('public-key')
    .description("the instance's Ed25519 checkpoint key (PEM), to verify an exported trail elsewhere")
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const answer = await context.client.call<{ public_key: string }>('GET', '/v1/audit/public-key');
      context.output.result(answer, () => answer.public_key);
    });

  const syslog = audit.command('syslog').description('the syslog sinks that ship the trail to SIEMs');
  syslog
    .command('show')
    .description('the configured sinks (client keys are never shown)')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const config = await context.client.call<{ sinks: SinkView[] }>('GET', '/v1/audit/syslog/config');
      context.output.table(config.sinks, sinkColumns(), config);
    });
  syslog
    .command('set')
    .description('replace the sinks with those in FILE.json ({"sinks": [...]}, as GET /v1/audit/syslog/config shows them)')
    .argument('<file>', 'the configuration, JSON')
    .action(async (file: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      let body: unknown;
      try {
        body = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        throw new CliError(`cannot read ${file} as JSON: ${(error as Error).message}`, EXIT_USAGE);
      }
      const config = await context.client.call<{ sinks: SinkView[] }>('PUT', '/v1/audit/syslog/config', { body });
      context.output.table(config.sinks, sinkColumns(), config);
    });
  retentionCommands(audit, io);
}

interface RetentionView {
  max_age_days: number;
  max_size_bytes: number;
}

/** `audit retention show | set`: how long the local log keeps records (by age and by bytes). */
function retentionCommands(audit: Command, io: CliIo): void {
  const retention = audit.command('retention').description('how long the local audit log keeps records: by age and by size');
  const render = (view: RetentionView) => `max age: ${view.max_age_days} days\nmax size: ${view.max_size_bytes} bytes`;
  retention
    .command('show')
    .description('the retention (GET /v1/audit/retention)')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const view = await context.client.call<RetentionView>('GET', '/v1/audit/retention');
      context.output.result(view, () => render(view));
    });
  retention
    .command('set')
    .description('change the retention; a flag left out keeps its current value')
    .option('--max-age-days <days>', 'records older than this many days are removed (1 to 36500)')
    .option('--max-size-bytes <bytes>', 'the oldest records are removed while the log takes more bytes than this (at least 1048576)')
    .action(async (flags: { maxAgeDays?: string; maxSizeBytes?: string }, command: Command) => {
      const context = contextOf(command, io);
      const whole = (text: string | undefined, flag: string): number | undefined => {
        if (text === undefined) return undefined;
        if (!/^[0-9]{1,16}$/.test(text)) throw new CliError(`${flag} must be a whole number`, EXIT_USAGE);
        return Number(text);
      };
      const age = whole(flags.maxAgeDays, '--max-age-days');
      const size = whole(flags.maxSizeBytes, '--max-size-bytes');
      if (age === undefined && size === undefined) throw new CliError('give --max-age-days, --max-size-bytes or both', EXIT_USAGE);
      const current = await context.client.call<RetentionView>('GET', '/v1/audit/retention');
      const view = await context.client.call<RetentionView>('PUT', '/v1/audit/retention', { body: { max_age_days: age ?? current.max_age_days, max_size_bytes: size ?? current.max_size_bytes } });
      context.output.result(view, () => render(view));
    });
}

function sinkColumns() {
  return [
    { header: 'ENABLED', value: (sink: SinkView) => sink.enabled },
    { header: 'TRANSPORT', value: (sink: SinkView) => sink.transport },
    { header: 'ADDRESS', value: (sink: SinkView) => sink.server_address },
    { header: 'PORT', value: (sink: SinkView) => sink.server_port },
    { header: 'FORMAT', value: (sink: SinkView) => sink.format },
    { header: 'CA', value: (sink: SinkView) => (sink.ca_certificate === undefined ? 'system' : 'configured') },
    { header: 'CLIENT CERT', value: (sink: SinkView) => (sink.client_certificate === undefined ? 'no' : 'yes') },
  ];
}
