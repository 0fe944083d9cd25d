import type { Command } from 'commander';
import type { SettingKey } from '../../config/config-schema.js';
import { ConfigError, loadConfig } from '../../config/load-config.js';
import { createLogger } from '../../ops/logger.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from '../cli-io.js';

interface ServeFlags {
  readonly dataDir?: string;
  readonly config?: string;
  readonly host?: string;
  readonly apiPort?: string;
  readonly s3Port?: string;
  readonly nfsPort?: string;
  readonly smbPort?: string;
  readonly ftpPort?: string;
}

/** Flags that set a configuration value, by setting. `--config` names the file instead. */
const SETTING_FLAGS: ReadonlyArray<readonly [SettingKey, string, string]> = [
  ['dataDir', '--data-dir <dir>', 'data directory (default ./enclave-data, or ENCLAVE_DATA_DIR)'],
  ['host', '--host <addr>', 'address to listen on (default 127.0.0.1)'],
  ['apiPort', '--api-port <n>', 'HTTPS API and web UI port (default 8443; 0 = any free port)'],
  ['s3Port', '--s3-port <n>', 'S3 port (default 9000)'],
  ['nfsPort', '--nfs-port <n>', 'NFS port (default 2049)'],
  ['smbPort', '--smb-port <n>', 'SMB port (default 445)'],
  ['ftpPort', '--ftp-port <n>', 'FTP port (default 21)'],
];

export function registerServeCommand(program: Command, io: CliIo): void {
  const command = program
    .command('serve')
    .description('run the Enclave server; the first start on an empty data dir initialises the instance')
    .option('--config <file>', 'JSON config file (settings in snake_case, e.g. {"api_port": 8443})');
  for (const [, flag, description] of SETTING_FLAGS) command.option(flag, description);
  command.action(async (flags: ServeFlags) => runServe(flags, io));
}

async function runServe(flags: ServeFlags, io: CliIo): Promise<void> {
  let config;
  try {
    const settings: Partial<Record<SettingKey, string>> = {};
    for (const [key] of SETTING_FLAGS) {
      const value = flags[key as keyof ServeFlags];
      if (value !== undefined) settings[key] = value;
    }
    config = loadConfig({ configFile: flags.config, environment: io.environment, flags: settings });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  // Loaded here, not at the top: `enclave --help` and the REST client commands should not load
  // the storage engine, SQLite and argon2.
  const { ListenError, serve } = await import('../../serve.js');
  let server;
  try {
    server = await serve({ config, logger, environment: io.environment, stdout: io.stdout });
  } catch (error) {
    if (error instanceof ListenError) {
      logger.error({ setting: error.setting, err: error.cause }, error.message);
      throw new CliError(error.message, EXIT_FAILURE);
    }
    if (error instanceof ConfigError) {
      logger.error({ setting: error.setting }, error.message);
      throw new CliError(error.message, EXIT_USAGE);
    }
    logger.fatal({ err: error }, 'start-up failed');
    throw new CliError(`start-up failed: ${(error as Error).message}`, EXIT_FAILURE);
  }
  const running = server;
  let signals = 0;
  io.onStopSignal((signal) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second stop signal: exiting without waiting');
      io.exit(EXIT_FAILURE);
      return;
    }
    logger.info({ signal }, 'stop signal received');
    running.stop().then(
      () => io.exit(EXIT_OK),
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        io.exit(EXIT_FAILURE);
      },
    );
  });
}
