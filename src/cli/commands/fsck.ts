import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../config/load-config.js';
import { createLogger } from '../../ops/logger.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { contextOf } from '../context.js';
import type { Output } from '../output.js';

interface FsckFlags {
  readonly dataDir?: string;
  readonly config?: string;
  readonly online?: boolean;
  readonly timeLimit?: string;
}

interface Report {
  readonly ok: boolean;
  readonly complete: boolean;
  readonly problems: readonly string[];
  readonly [field: string]: unknown;
}

function print(output: Output, report: Report): void {
  output.result(report, () => {
    const counts = Object.entries(report)
      .filter(([field]) => !['ok', 'complete', 'problems'].includes(field))
      .map(([field, value]) => `${field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)}  ${String(value)}`);
    const verdict = report.ok ? (report.complete ? 'fsck: no problems found' : 'fsck: no problems found in what was checked before the time limit (incomplete)') : `fsck: ${report.problems.length} problem(s)`;
    return [...report.problems.map((problem) => `problem: ${problem}`), ...counts, verdict].join('\n');
  });
  if (!report.ok) throw new CliError(`fsck found ${report.problems.length} problem(s)`, EXIT_FAILURE);
}

/**
 * `enclave fsck`: checks every reference of an instance's stores (nodes, entries, link counts,
 * aggregates, chunk references, kept versions, the change log, reclaim work). Offline with
 * `--data-dir` (opens the stores, starts no server and no background work), or online and
 * read-only against a running server with `--online`. Exit 0: consistent; 1: problems.
 */
export function registerFsckCommand(program: Command, io: CliIo): void {
  program
    .command('fsck')
    .description('check every reference in the stores: offline (--data-dir, server stopped) or online read-only (--online); exit 1 on problems')
    .option('--data-dir <dir>', 'the instance to check offline (default ./enclave-data, or ENCLAVE_DATA_DIR)')
    .option('--config <file>', 'JSON config file, for data_dir and the key passphrase setting')
    .option('--online', 'ask the running server (the --api one) to check its live stores, read-only')
    .option('--time-limit <seconds>', 'online: stop after this long and report what was checked (default 300)')
    .action(async (flags: FsckFlags, command: Command) => {
      if (flags.online === true) {
        const context = contextOf(command, io);
        const query = flags.timeLimit === undefined ? undefined : { time_limit_seconds: Number(flags.timeLimit) };
        print(context.output, await context.client.call<Report>('POST', '/v1/maintenance/fsck', query === undefined ? {} : { query }));
        return;
      }
      let config;
      try {
        config = loadConfig({ configFile: flags.config, environment: io.environment, flags: flags.dataDir === undefined ? {} : { dataDir: flags.dataDir } });
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
        throw error;
      }
      const logger = createLogger({ level: 'warn' });
      const { offlineFsck } = await import('../../instance/offline-fsck.js');
      let report;
      try {
        report = await offlineFsck(config, logger, io.environment);
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
        throw new CliError(`fsck could not open the stores: ${(error as Error).message}`, EXIT_FAILURE);
      }
      const { Output: OutputClass } = await import('../output.js');
      const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
      print(new OutputClass(io.stdout, json), report as unknown as Report);
    });
}
