import { Command, CommanderError } from 'commander';
import { readVersion } from '../version.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './cli-io.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerFileCommands } from './commands/files.js';
import { registerFsckCommand } from './commands/fsck.js';
import { registerSnapshotCommands } from './commands/snapshots.js';
import { registerMfaCommands } from './commands/mfa.js';
import { registerQuotaCommands } from './commands/quotas.js';
import { registerRoleCommands } from './commands/roles.js';
import { registerSecurityCommands } from './commands/security.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSessionCommands } from './commands/session.js';
import { registerUserCommands } from './commands/users.js';
import { addGlobalOptions } from './context.js';

/**
 * The `enclave` command. `serve` runs the server; the administration commands (`login`, `users`,
 * ...) are REST clients of a running server, one module per area in commands/, each registering
 * its subcommands here.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('enclave')
    .description('Enclave: secure multi-protocol file storage (SMB, NFS, S3, FTP, HTTPS API) in one namespace')
    .version(readVersion().version, '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  addGlobalOptions(program);
  registerServeCommand(program, io);
  registerSessionCommands(program, io);
  registerUserCommands(program, io);
  registerRoleCommands(program, io);
  registerMfaCommands(program, io);
  registerFileCommands(program, io);
  registerQuotaCommands(program, io);
  registerSecurityCommands(program, io);
  registerAuditCommands(program, io);
  registerSnapshotCommands(program, io);
  registerFsckCommand(program, io);
  return program;
}

/** Runs the command line; resolves with the exit code for everything but a running server. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" under exitOverride; they carry exit code 0.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof CliError) {
      io.stderr.write(`enclave: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr.write(`enclave: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}
