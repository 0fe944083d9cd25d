import { readFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { allPages } from '../api-client.js';
import { CliError, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { contextOf } from '../context.js';
import { renderRecord } from '../output.js';
import { formatBytes } from '../units.js';

interface Snapshot {
  readonly id: number;
  readonly name: string;
  readonly name_suffix: string;
  readonly timestamp: string;
  readonly expiration: string | null;
  readonly source_file_id: string;
  readonly locked: boolean;
  readonly lock_key_id: string | null;
  readonly created_by: string;
}

interface RestoreAnswer {
  readonly id: string;
  readonly path: string;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  readonly hard_links: number;
  readonly bytes: string;
  readonly replaced: number;
  readonly owners_not_kept: number;
}

interface Policy {
  readonly id: string;
  readonly name: string;
  readonly source_path?: string;
  readonly source_file_id?: string;
  readonly schedule: unknown;
  readonly time_zone: string;
  readonly ttl: number | null;
  readonly enabled: boolean;
  readonly lock_key_ref: string | null;
  readonly created?: string | null;
}

interface PolicyStatus {
  readonly id: string;
  readonly enabled: boolean;
  readonly last_run: string | null;
  readonly last_attempt: string | null;
  readonly last_error: string | null;
  readonly last_snapshot_id: number | string | null;
  readonly next_run: string | null;
}

interface SecurityKey {
  readonly id: string;
  readonly name: string;
  readonly comment?: string;
  readonly fingerprint_sha256: string;
  readonly disabled: boolean;
  readonly version?: number;
  readonly created?: string;
}

const DURATION = /^([0-9]{1,6})(m|h|d|w)$/;
const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3_600, d: 86_400, w: 604_800 };

/** `30d`, `12h`, `90m`, `2w` in seconds, or undefined if `text` is not a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
}

/** An expiration: a duration from now (`30d`), a date (`2027-01-31`, RFC 3339), or `never` (null). */
export function parseExpiration(text: string, nowMs: number = Date.now()): string | null {
  if (text === 'never') return null;
  const seconds = parseDurationSeconds(text);
  if (seconds !== undefined) return new Date(nowMs + seconds * 1_000).toISOString();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new CliError(`${JSON.stringify(text)} is not an expiration: use a duration (30d, 12h, 90m, 2w), a date (2027-01-31 or RFC 3339), or never`, EXIT_USAGE);
  return new Date(ms).toISOString();
}

async function pemFrom(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`${option} ${file}: ${(error as Error).message}`, EXIT_USAGE);
  }
}

async function privateKeyFrom(file: string, option = '--private-key-file'): Promise<KeyObject> {
  const pem = await pemFrom(file, option);
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new CliError(`${option} ${file} holds no private key: ${(error as Error).message}`, EXIT_USAGE);
  }
}

function spkiPem(key: string | KeyObject, what: string): string {
  try {
    return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString().trim();
  } catch (error) {
    throw new CliError(`${what} holds no public key: ${(error as Error).message}`, EXIT_USAGE);
  }
}

/** A policy for people: the TTL as a duration, the schedule as JSON. */
function policyRecord(policy: Policy): string {
  return renderRecord({ ...policy, ttl: policy.ttl === null ? 'never' : formatDuration(policy.ttl), enabled: policy.enabled ? 'yes' : 'no', lock_key_ref: policy.lock_key_ref ?? '-' });
}

/** Seconds as the largest whole unit: 604800 -> 1w, 90000 -> 25h, 61 -> 61s. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['w', 604_800], ['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** ECDSA-SHA256, DER, base64: what the server verifies (and `openssl dgst -sha256 -sign` makes). */
function signBase64(text: string, key: KeyObject): string {
  return sign('sha256', Buffer.from(text), { key, dsaEncoding: 'der' }).toString('base64');
}

const EPOCH_ZERO = '-';

/** Snapshots (`snapshot ...`), their policies (`snapshot policy ...`) and the lock keys (`keys ...`). */
export function registerSnapshotCommands(program: Command, io: CliIo): void {
  const snapshot = program.command('snapshot').alias('snapshots').description('snapshots: take, list, expire, lock and unlock, diff, restore, and their policies');
  const present = (entries: readonly Snapshot[]) => [
    { header: 'ID', value: (entry: Snapshot) => String(entry.id) },
    { header: 'NAME', value: (entry: Snapshot) => entry.name },
    { header: 'SOURCE_FILE_ID', value: (entry: Snapshot) => entry.source_file_id },
    { header: 'CREATED', value: (entry: Snapshot) => entry.timestamp },
    { header: 'EXPIRATION', value: (entry: Snapshot) => entry.expiration ?? 'never' },
    { header: 'LOCKED', value: (entry: Snapshot) => (entry.locked ? `yes (${entry.lock_key_id ?? EPOCH_ZERO})` : 'no') },
    { header: 'BY', value: (entry: Snapshot) => entry.created_by },
  ].filter(() => entries.length >= 0);

  snapshot
    .command('list')
    .description('every snapshot, oldest first')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const { entries } = await context.client.call<{ entries: Snapshot[] }>('GET', '/v1/snapshots');
      context.output.table(entries, present(entries), entries);
    });
  snapshot
    .command('create <path>')
    .description('take a snapshot of a directory (a path, or a directory id) now')
    .option('--name <suffix>', 'the name suffix (the snapshot is named ID_SUFFIX; default on_demand)')
    .option('--expire <when>', 'expiration: a duration (30d, 12h), a date (2027-01-31), or never')
    .option('--lock <key>', 'lock it at once with this security key (name or id)')
    .action(async (path: string, flags: { name?: string; expire?: string; lock?: string }, command: Command) => {
      const context = contextOf(command, io);
      const body = {
        ...(/^[0-9]+$/.test(path) ? { source_file_id: path } : { source_path: path }),
        ...(flags.name === undefined ? {} : { name_suffix: flags.name }),
        ...(flags.expire === undefined ? {} : { expiration: parseExpiration(flags.expire) }),
        ...(flags.lock === undefined ? {} : { lock_key_ref: flags.lock }),
      };
      const created = await context.client.call<Snapshot>('POST', '/v1/snapshots', { body });
      context.output.result(created, () => `snapshot ${created.id} (${created.name}) taken of ${path}${created.locked ? `, locked with ${created.lock_key_id ?? ''}` : ''}`);
    });
  snapshot
    .command('get <id>')
    .description('one snapshot, with the bytes only it holds (what deleting it would free)')
    .action(async (id: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const [info, space] = await Promise.all([
        context.client.call<Snapshot>('GET', `/v1/snapshots/${encodeURIComponent(id)}`),
        context.client.call<{ capacity_used_bytes: string }>('GET', `/v1/snapshots/capacity-used-per-snapshot/${encodeURIComponent(id)}`),
      ]);
      const value = { ...info, capacity_used_bytes: space.capacity_used_bytes };
      context.output.record({ ...value, capacity_used: formatBytes(Number(space.capacity_used_bytes)) });
    });
  snapshot
    .command('capacity')
    .description('bytes held by all snapshots together, and by each alone')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const [total, per] = await Promise.all([
        context.client.call<{ bytes: string }>('GET', '/v1/snapshots/total-used-capacity'),
        context.client.call<{ entries: Array<{ id: number; capacity_used_bytes: string }> }>('GET', '/v1/snapshots/capacity-used-per-snapshot'),
      ]);
      context.output.table(per.entries, [
        { header: 'ID', value: (entry) => String(entry.id) },
        { header: 'EXCLUSIVE', value: (entry) => formatBytes(Number(entry.capacity_used_bytes)) },
        { header: 'EXCLUSIVE_BYTES', value: (entry) => entry.capacity_used_bytes },
      ], { total_bytes: total.bytes, snapshots: per.entries });
      context.output.line(`all snapshots together hold ${formatBytes(Number(total.bytes))} (${total.bytes} bytes)`);
    });
  snapshot
    .command('delete <id>')
    .description('delete a snapshot (refused while it is locked); its space is reclaimed in the background')
    .action(async (id: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `/v1/snapshots/${encodeURIComponent(id)}`);
      context.output.result({ deleted: Number(id) }, () => `snapshot ${id} deleted`);
    });
  snapshot
    .command('expire <id> <when>')
    .description('set the expiration: a duration from now (30d), a date, or never (a locked snapshot\'s may only move later)')
    .action(async (id: string, when: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const changed = await context.client.call<Snapshot>('PATCH', `/v1/snapshots/${encodeURIComponent(id)}`, { body: { expiration: parseExpiration(when) } });
      context.output.result(changed, () => `snapshot ${id} expires ${changed.expiration ?? 'never'}`);
    });
  snapshot
    .command('lock <id> <key>')
    .description('lock a snapshot with a security key (name or id): no one can delete it or shorten its expiration until it is unlocked')
    .action(async (id: string, key: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const locked = await context.client.call<Snapshot>('POST', `/v1/snapshots/${encodeURIComponent(id)}/lock`, { body: { lock_key_ref: key } });
      context.output.result(locked, () => `snapshot ${id} locked with key ${locked.lock_key_id ?? key}`);
    });
  snapshot
    .command('unlock <id>')
    .description('unlock a snapshot: fetches the server\'s challenge, signs it locally with the lock key\'s private key, sends the signature')
    .requiredOption('--private-key-file <pem>', 'the lock key\'s private key (PEM); it never leaves this machine')
    .action(async (id: string, flags: { privateKeyFile: string }, command: Command) => {
      const context = contextOf(command, io);
      const key = await privateKeyFrom(flags.privateKeyFile);
      const { challenge } = await context.client.call<{ challenge: string }>('GET', `/v1/snapshots/${encodeURIComponent(id)}/unlock-challenge`);
      const unlocked = await context.client.call<Snapshot>('POST', `/v1/snapshots/${encodeURIComponent(id)}/unlock`, { body: { signature: signBase64(challenge, key) } });
      context.output.result(unlocked, () => `snapshot ${id} unlocked`);
    });
  snapshot
    .command('restore <id> <target>')
    .description('restore from snapshot ID to the live path TARGET, sharing chunks (no data is copied): all of the snapshot, or --path; keeps mode, ACL, extended attributes, times and owners (when you may give them)')
    .option('--path <path>', 'what to restore, relative to the snapshot\'s directory (default: all of it)')
    .option('--overwrite', 'replace an existing file, merge into an existing directory (default: refuse if TARGET exists)')
    .action(async (id: string, target: string, flags: { path?: string; overwrite?: boolean }, command: Command) => {
      const context = contextOf(command, io);
      if (!target.startsWith('/')) throw new CliError('TARGET is an absolute path, like /projects/restored', EXIT_USAGE);
      const body = { target_path: target, ...(flags.path === undefined ? {} : { source_path: flags.path }), ...(flags.overwrite === true ? { overwrite: true } : {}) };
      const restored = await context.client.call<RestoreAnswer>('POST', `/v1/snapshots/${encodeURIComponent(id)}/restore`, { body });
      context.output.result(restored, () => {
        const counts = `${restored.files} files, ${restored.directories} directories, ${restored.symlinks} symlinks, ${formatBytes(Number(restored.bytes))} shared`;
        const notes = [restored.replaced > 0 ? `${restored.replaced} replaced` : '', restored.owners_not_kept > 0 ? `${restored.owners_not_kept} now owned by you (you may not give them to their owners)` : ''].filter((note) => note !== '');
        return `restored snapshot ${id}${flags.path === undefined ? '' : ` ${flags.path}`} to ${restored.path}: ${counts}${notes.length === 0 ? '' : `; ${notes.join('; ')}`}`;
      });
    });
  snapshot
    .command('diff <newer> <older>')
    .description('what changed between two snapshots of a directory (NEWER may be "live"): CREATE / MODIFY / DELETE by path; with --file, one file\'s changed byte regions')
    .option('--file <ref>', 'a file id, or a path relative to the snapshots\' directory: its changed byte regions')
    .action(async (newer: string, older: string, flags: { file?: string }, command: Command) => {
      const context = contextOf(command, io);
      if (flags.file !== undefined) {
        const ref = /^[0-9]+$/.test(flags.file) ? flags.file : `/${flags.file.replace(/^\/+/, '')}`;
        const regions = await allPages<{ type: string; offset: string; size: string }>(context.client, `/v1/snapshots/${encodeURIComponent(newer)}/changes-since/${encodeURIComponent(older)}/files/${encodeURIComponent(ref)}`, 'entries');
        context.output.table(regions, [
          { header: 'TYPE', value: (region) => region.type },
          { header: 'OFFSET', value: (region) => region.offset },
          { header: 'SIZE', value: (region) => region.size },
        ]);
        return;
      }
      const changes = await allPages<{ op: string; path: string }>(context.client, `/v1/snapshots/${encodeURIComponent(newer)}/changes-since/${encodeURIComponent(older)}`, 'entries');
      context.output.result(changes, () => (changes.length === 0 ? '(no changes)' : changes.map((change) => `${change.op.padEnd(6)} ${change.path}`).join('\n')));
    });

  const policy = snapshot.command('policy').description('snapshot policies: scheduled snapshots with a time to live');
  policy
    .command('list')
    .description('every snapshot policy')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const answer = await context.client.call<{ entries: Policy[] }>('GET', '/v1/snapshots/policies');
      context.output.table(answer.entries, [
        { header: 'ID', value: (entry) => entry.id },
        { header: 'NAME', value: (entry) => entry.name },
        { header: 'SOURCE', value: (entry) => entry.source_path ?? entry.source_file_id ?? '' },
        { header: 'SCHEDULE', value: (entry) => JSON.stringify(entry.schedule) },
        { header: 'TIME_ZONE', value: (entry) => entry.time_zone },
        { header: 'TTL', value: (entry) => (entry.ttl === null ? 'never' : `${entry.ttl}s`) },
        { header: 'ENABLED', value: (entry) => (entry.enabled ? 'yes' : 'no') },
        { header: 'LOCK_KEY', value: (entry) => entry.lock_key_ref ?? '' },
      ], answer.entries);
    });
  policy
    .command('create <name> <path>')
    .description('a policy snapshotting PATH: --every 15m|2h [--window 08:00-18:00], --daily HH:MM, --weekly HH:MM --days MON,FRI, or --monthly DAY@HH:MM')
    .option('--every <interval>', 'every N minutes (15m) or hours (2h)')
    .option('--window <start-end>', 'with --every: only inside this daily window, HH:MM-HH:MM')
    .option('--daily <time>', 'once a day at HH:MM')
    .option('--weekly <time>', 'once on each of --days at HH:MM')
    .option('--monthly <day@time>', 'on day 1-31 of each month at HH:MM, e.g. 1@02:00')
    .option('--days <list>', 'weekdays, e.g. MON,TUE,WED (SUN..SAT)')
    .option('--time-zone <iana>', 'IANA time zone of the schedule (default UTC)')
    .option('--ttl <duration>', 'time to live of each snapshot: 7d, 12h, 2w (default: keep)')
    .option('--lock <key>', 'lock every snapshot it takes with this security key')
    .option('--disabled', 'create it disabled')
    .action(async (name: string, path: string, flags: Record<string, string | boolean | undefined>, command: Command) => {
      const context = contextOf(command, io);
      const days = typeof flags.days === 'string' ? flags.days.split(',').map((day) => day.trim().toUpperCase()) : undefined;
      let schedule: unknown;
      const kinds = ['every', 'daily', 'weekly', 'monthly'].filter((kind) => flags[kind] !== undefined);
      if (kinds.length !== 1) throw new CliError('give exactly one of --every, --daily, --weekly, --monthly', EXIT_USAGE);
      if (typeof flags.every === 'string') {
        const match = /^([0-9]{1,4})(m|h)$/.exec(flags.every);
        if (match === null) throw new CliError('--every takes minutes (15m) or hours (2h)', EXIT_USAGE);
        const window = typeof flags.window === 'string' ? /^([0-9]{2}:[0-9]{2})-([0-9]{2}:[0-9]{2})$/.exec(flags.window) : undefined;
        if (window === null) throw new CliError('--window is HH:MM-HH:MM', EXIT_USAGE);
        schedule = {
          every: match[2] === 'm' ? { minutes: Number(match[1]) } : { hours: Number(match[1]) },
          ...(window === undefined ? {} : { window: { start: window[1], end: window[2] } }),
          ...(days === undefined ? {} : { days }),
        };
      } else if (typeof flags.daily === 'string') schedule = { daily: { at: flags.daily, ...(days === undefined ? {} : { days }) } };
      else if (typeof flags.weekly === 'string') schedule = { weekly: { at: flags.weekly, days: days ?? [] } };
      else if (typeof flags.monthly === 'string') {
        const match = /^([0-9]{1,2})@([0-9]{2}:[0-9]{2})$/.exec(flags.monthly);
        if (match === null) throw new CliError('--monthly is DAY@HH:MM, e.g. 1@02:00', EXIT_USAGE);
        schedule = { monthly: { day_of_month: Number(match[1]), at: match[2] } };
      }
      let ttl: number | undefined;
      if (typeof flags.ttl === 'string') {
        ttl = parseDurationSeconds(flags.ttl);
        if (ttl === undefined) throw new CliError('--ttl is a duration: 7d, 12h, 90m, 2w', EXIT_USAGE);
      }
      const body = {
        name,
        ...(/^[0-9]+$/.test(path) ? { source_file_id: path } : { source_path: path }),
        schedule,
        ...(typeof flags.timeZone === 'string' ? { time_zone: flags.timeZone } : {}),
        ...(ttl === undefined ? {} : { ttl }),
        ...(typeof flags.lock === 'string' ? { lock_key_ref: flags.lock } : {}),
        ...(flags.disabled === true ? { enabled: false } : {}),
      };
      const created = await context.client.call<Policy>('POST', '/v1/snapshots/policies', { body });
      context.output.result(created, () => `snapshot policy ${created.id} (${created.name}) created`);
    });
  policy
    .command('delete <id>')
    .description('delete a snapshot policy (the snapshots it took stay)')
    .action(async (id: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `/v1/snapshots/policies/${encodeURIComponent(id)}`);
      context.output.result({ deleted: id }, () => `snapshot policy ${id} deleted`);
    });
  policy
    .command('get <id>')
    .description('one snapshot policy')
    .action(async (id: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const found = await context.client.call<Policy>('GET', `/v1/snapshots/policies/${encodeURIComponent(id)}`);
      context.output.result(found, () => policyRecord(found));
    });
  policy
    .command('modify <id>')
    .description('change a snapshot policy: enable or disable it, its name, time to live, time zone or lock key (the rest stays)')
    .option('--enable', 'enable it (its next slot is computed from now: missed slots do not fire)')
    .option('--disable', 'disable it: it takes no snapshots until enabled')
    .option('--name <name>', 'rename it')
    .option('--ttl <duration>', 'time to live of the snapshots it takes from now on: 7d, 12h, 2w, or never')
    .option('--time-zone <iana>', 'IANA time zone of the schedule')
    .option('--lock <key>', 'lock every snapshot it takes with this security key (name or id), or none')
    .action(async (id: string, flags: { enable?: boolean; disable?: boolean; name?: string; ttl?: string; timeZone?: string; lock?: string }, command: Command) => {
      const context = contextOf(command, io);
      if (flags.enable === true && flags.disable === true) throw new CliError('give --enable or --disable, not both', EXIT_USAGE);
      let ttl: number | null | undefined;
      if (flags.ttl !== undefined) {
        ttl = flags.ttl === 'never' ? null : parseDurationSeconds(flags.ttl);
        if (ttl === undefined) throw new CliError('--ttl is a duration (7d, 12h, 90m, 2w) or never', EXIT_USAGE);
      }
      const body = {
        ...(flags.enable === true ? { enabled: true } : {}),
        ...(flags.disable === true ? { enabled: false } : {}),
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(ttl === undefined ? {} : { ttl }),
        ...(flags.timeZone === undefined ? {} : { time_zone: flags.timeZone }),
        ...(flags.lock === undefined ? {} : { lock_key_ref: flags.lock === 'none' ? null : flags.lock }),
      };
      if (Object.keys(body).length === 0) throw new CliError('nothing to change: give --enable, --disable, --name, --ttl, --time-zone or --lock', EXIT_USAGE);
      const changed = await context.client.call<Policy>('PATCH', `/v1/snapshots/policies/${encodeURIComponent(id)}`, { body });
      context.output.result(changed, () => `snapshot policy ${changed.id} (${changed.name}) modified\n${policyRecord(changed)}`);
    });
  policy
    .command('status <id>')
    .description('a policy\'s runs: last run, last attempt and error, last snapshot, next run')
    .action(async (id: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const status = await context.client.call<PolicyStatus>('GET', `/v1/snapshots/policies/${encodeURIComponent(id)}/status`);
      context.output.result(status, () =>
        renderRecord({
          id: status.id,
          enabled: status.enabled ? 'yes' : 'no',
          last_run: status.last_run ?? 'never',
          last_attempt: status.last_attempt ?? 'never',
          last_error: status.last_error ?? '-',
          last_snapshot_id: status.last_snapshot_id ?? '-',
          next_run: status.next_run ?? (status.enabled ? '-' : '- (disabled)'),
        }),
      );
    });

  const keys = program.command('keys').description('security keys: the ECDSA P-256 public keys that lock snapshots');
  keys
    .command('list')
    .description('every security key (public keys only)')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const { entries } = await context.client.call<{ entries: SecurityKey[] }>('GET', '/v1/security/keys');
      context.output.table(entries, [
        { header: 'ID', value: (entry) => entry.id },
        { header: 'NAME', value: (entry) => entry.name },
        { header: 'DISABLED', value: (entry) => (entry.disabled ? 'yes' : 'no') },
        { header: 'FINGERPRINT_SHA256', value: (entry) => entry.fingerprint_sha256 },
      ], entries);
    });
  keys
    .command('add <name>')
    .description('register a public key; the name is signed locally with the private key to prove you hold it')
    .requiredOption('--public-key <pem-file>', 'the public key (PEM file)')
    .requiredOption('--private-key-file <pem>', 'its private key (PEM), used here only to sign the name; never sent')
    .option('--comment <text>', 'a comment')
    .action(async (name: string, flags: { publicKey: string; privateKeyFile: string; comment?: string }, command: Command) => {
      const context = contextOf(command, io);
      let publicPem: string;
      try {
        publicPem = await readFile(flags.publicKey, 'utf8');
      } catch (error) {
        throw new CliError(`--public-key ${flags.publicKey}: ${(error as Error).message}`, EXIT_USAGE);
      }
      const privateKey = await privateKeyFrom(flags.privateKeyFile);
      const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
      if (derived.trim() !== createPublicKey(publicPem).export({ type: 'spki', format: 'pem' }).toString().trim()) {
        throw new CliError('the private key does not belong to the public key', EXIT_USAGE);
      }
      const created = await context.client.call<SecurityKey>('POST', '/v1/security/keys', {
        body: { name, public_key: publicPem, verification_signature: signBase64(name, privateKey), ...(flags.comment === undefined ? {} : { comment: flags.comment }) },
      });
      context.output.result(created, () => `security key ${created.name} registered (id ${created.id}, fingerprint ${created.fingerprint_sha256})`);
    });
  keys
    .command('delete <ref>')
    .description('delete a security key (name or id); refused while a snapshot or policy uses it')
    .action(async (ref: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      await context.client.call('DELETE', `/v1/security/keys/${encodeURIComponent(ref)}`);
      context.output.result({ deleted: ref }, () => `security key ${ref} deleted`);
    });
  keys
    .command('get <ref>')
    .description('one security key (name or id), with its public key')
    .action(async (ref: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const key = await context.client.call<SecurityKey & { public_key: string }>('GET', `/v1/security/keys/${encodeURIComponent(ref)}`);
      context.output.result(key, () => `${renderRecord({ ...key, disabled: key.disabled ? 'yes' : 'no' }, ['id', 'name', 'comment', 'disabled', 'version', 'fingerprint_sha256', 'created'])}\n${key.public_key.trim()}`);
    });
  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    keys
      .command(`${verb} <ref>`)
      .description(
        disabled
          ? 'disable a security key (name or id): it locks nothing new but still unlocks what it locked; refused while a policy uses it'
          : 'enable a disabled security key: it may lock snapshots again',
      )
      .action(async (ref: string, _flags: object, command: Command) => {
        const context = contextOf(command, io);
        const changed = await context.client.call<SecurityKey>('PATCH', `/v1/security/keys/${encodeURIComponent(ref)}`, { body: { disabled } });
        context.output.result(changed, () => `security key ${changed.name} (id ${changed.id}) ${verb}d`);
      });
  }
  keys
    .command('rotate <ref>')
    .description('replace a key\'s public key, keeping its id and name (snapshots it locked then unlock with the new private key): both private keys sign the server\'s replacement challenge locally')
    .requiredOption('--public-key <pem-file>', 'the new public key (PEM file)')
    .requiredOption('--old-private-key-file <pem>', 'the current private key (PEM); never sent')
    .requiredOption('--new-private-key-file <pem>', 'the new private key (PEM); never sent')
    .action(async (ref: string, flags: { publicKey: string; oldPrivateKeyFile: string; newPrivateKeyFile: string }, command: Command) => {
      const context = contextOf(command, io);
      const publicPem = await pemFrom(flags.publicKey, '--public-key');
      const newPublic = spkiPem(publicPem, `--public-key ${flags.publicKey}`);
      const oldKey = await privateKeyFrom(flags.oldPrivateKeyFile, '--old-private-key-file');
      const newKey = await privateKeyFrom(flags.newPrivateKeyFile, '--new-private-key-file');
      if (spkiPem(newKey, `--new-private-key-file ${flags.newPrivateKeyFile}`) !== newPublic) {
        throw new CliError('--new-private-key-file does not belong to --public-key', EXIT_USAGE);
      }
      const path = `/v1/security/keys/${encodeURIComponent(ref)}`;
      const { challenge } = await context.client.call<{ challenge: string }>('POST', `${path}/key-replacement-challenge`, { body: { public_key: publicPem } });
      const rotated = await context.client.call<SecurityKey>('POST', `${path}/replace`, {
        body: { public_key: publicPem, old_key_signature: signBase64(challenge, oldKey), new_key_signature: signBase64(challenge, newKey) },
      });
      context.output.result(rotated, () => `security key ${rotated.name} (id ${rotated.id}) rotated${rotated.version === undefined ? '' : ` to version ${rotated.version}`}, fingerprint ${rotated.fingerprint_sha256}`);
    });
}
