import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ApiRequestError } from '../api-client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { contextOf, type CommandContext } from '../context.js';

interface PostureCheck {
  readonly id: string;
  readonly title: string;
  readonly status: 'pass' | 'fail' | 'not_applicable' | 'not_available';
  readonly fix: string;
  readonly detail?: string;
}

const PROTOCOLS = ['s3', 'nfs', 'smb', 'ftp'] as const;
const TLS_PATH = '/v1/security/tls/certificate';

/** `posture`, `settings <protocol>` and `tls`: the instance's security configuration. */
export function registerSecurityCommands(program: Command, io: CliIo): void {
  program
    .command('posture')
    .description('the security checklist against the live configuration (exit 0; with --fail-on-fail, 1 when a check fails)')
    .option('--fail-on-fail', 'exit 1 when any check fails')
    .action(async (flags: { failOnFail?: boolean }, command: Command) => {
      const context = contextOf(command, io);
      const report = await context.client.call<{ checks: PostureCheck[]; summary?: Record<string, number> }>('GET', '/v1/security/posture');
      context.output.table(
        report.checks,
        [
          { header: 'STATUS', value: (check) => check.status },
          { header: 'ID', value: (check) => check.id },
          { header: 'TITLE', value: (check) => check.title },
          { header: 'FIX', value: (check) => (check.status === 'pass' || check.status === 'not_applicable' ? '' : check.fix) },
        ],
        report,
      );
      const failed = report.checks.filter((check) => check.status === 'fail');
      context.output.line(`${report.checks.length} checks: ${failed.length} failing`);
      if (flags.failOnFail === true && failed.length > 0) {
        throw new CliError(`${failed.length} posture check(s) fail: ${failed.map((check) => check.id).join(', ')}`, EXIT_FAILURE);
      }
    });

  const settings = program.command('settings').description('protocol settings (show, or --enable / --disable the protocol)');
  for (const protocol of PROTOCOLS) {
    settings
      .command(protocol)
      .description(`the ${protocol.toUpperCase()} settings; --enable or --disable starts or stops it at once`)
      .option('--enable', `turn ${protocol.toUpperCase()} on`)
      .option('--disable', `turn ${protocol.toUpperCase()} off`)
      .action(async (flags: { enable?: boolean; disable?: boolean }, command: Command) => {
        const context = contextOf(command, io);
        if (flags.enable === true && flags.disable === true) throw new CliError('give --enable or --disable, not both', EXIT_USAGE);
        const path = `/v1/${protocol}/settings`;
        const enabled = flags.enable === true ? true : flags.disable === true ? false : undefined;
        const answer =
          enabled === undefined
            ? await context.client.call<Record<string, unknown>>('GET', path)
            : await context.client.call<Record<string, unknown>>('PUT', path, { body: { enabled } });
        context.output.record(answer);
      });
  }

  const tls = program.command('tls').description("the API's TLS certificate");
  tls
    .command('show')
    .description('the certificate in use: subject, issuer, validity')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.record(await tlsCall(context, 'GET'));
    });
  tls
    .command('install')
    .description('install a certificate chain and its private key (PEM files)')
    .requiredOption('--cert <chain.pem>', 'the certificate, then any intermediates (PEM)')
    .requiredOption('--key <key.pem>', 'its private key (PEM)')
    .action(async (flags: { cert: string; key: string }, command: Command) => {
      const context = contextOf(command, io);
      const read = (file: string) =>
        readFile(file, 'utf8').catch((error: Error) => {
          throw new CliError(`cannot read ${file}: ${error.message}`, EXIT_USAGE);
        });
      const body = { certificate: await read(flags.cert), private_key: await read(flags.key) };
      const answer = await tlsCall(context, 'PUT', body);
      context.output.result(answer, () => 'certificate installed');
    });
}

async function tlsCall(context: CommandContext, method: 'GET' | 'PUT', body?: unknown): Promise<Record<string, unknown>> {
  try {
    return (await context.client.call<Record<string, unknown> | undefined>(method, TLS_PATH, body === undefined ? {} : { body })) ?? {};
  } catch (error) {
    if (error instanceof ApiRequestError && error.status === 404 && error.errorClass === 'http_not_found_error') {
      throw new CliError(
        `this server has no TLS certificate API (${method} ${TLS_PATH} answered 404); on it, replace tls/server.crt and tls/server.key in the data dir and restart`,
        EXIT_FAILURE,
      );
    }
    throw error;
  }
}
