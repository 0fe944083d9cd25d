import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiClient, DEFAULT_API_URL, parseApiUrl } from './api-client.js';
import { CliError, EXIT_USAGE, type CliIo } from './cli-io.js';
import { configDirectory, CredentialStore, credentialKey } from './credentials.js';
import { Output } from './output.js';
import { Prompter } from './prompt.js';

/** The options every REST client command takes (declared once, on the program). */
export interface GlobalFlags {
  readonly api?: string;
  readonly insecure?: boolean;
  readonly caFile?: string;
  readonly json?: boolean;
}

export function addGlobalOptions(program: Command): void {
  program
    .option('--api <url>', `the API to talk to (default ${DEFAULT_API_URL}, or ENCLAVE_API)`)
    .option('--insecure', 'accept any TLS certificate, such as a new instance\'s self-signed one')
    .option('--ca-file <pem>', 'trust the CA certificate(s) in this PEM file')
    .option('--json', 'machine-readable output: the API\'s answers as JSON');
}

/** What a REST client command works with, built from the global options and the environment. */
export interface CommandContext {
  readonly io: CliIo;
  readonly client: ApiClient;
  readonly output: Output;
  readonly prompter: Prompter;
  readonly credentials: CredentialStore;
  /** The credentials file's key for this API. */
  readonly credentialKey: string;
  /** Where the token came from: ENCLAVE_TOKEN wins over `enclave login`'s stored session. */
  readonly tokenSource: 'environment' | 'login' | 'none';
  /** A message for people, on stderr (never mixed with --json output). */
  notice(text: string): void;
  /** True when a progress bar may be drawn: stderr is a terminal and the output is not JSON. */
  readonly interactive: boolean;
}

export function contextOf(command: Command, io: CliIo): CommandContext {
  const flags = command.optsWithGlobals<GlobalFlags>();
  const apiText = flags.api ?? nonEmpty(io.environment.ENCLAVE_API) ?? DEFAULT_API_URL;
  const apiUrl = parseApiUrl(apiText);
  const credentials = new CredentialStore(configDirectory(io.environment));
  const key = credentialKey(apiUrl);
  const environmentToken = nonEmpty(io.environment.ENCLAVE_TOKEN);
  const storedToken = environmentToken === undefined ? credentials.get(key)?.bearer_token : undefined;
  const token = environmentToken ?? storedToken;
  let caPem: string | undefined;
  if (flags.caFile !== undefined) {
    try {
      caPem = readFileSync(flags.caFile, 'utf8');
    } catch (error) {
      throw new CliError(`--ca-file ${flags.caFile}: ${(error as Error).message}`, EXIT_USAGE);
    }
  }
  const json = flags.json === true;
  return {
    io,
    client: new ApiClient({ baseUrl: apiUrl.href, insecure: flags.insecure === true, ...(caPem === undefined ? {} : { caPem }), ...(token === undefined ? {} : { token }) }),
    output: new Output(io.stdout, json),
    prompter: new Prompter(io.stdin, io.stderr),
    credentials,
    credentialKey: key,
    tokenSource: environmentToken !== undefined ? 'environment' : storedToken !== undefined ? 'login' : 'none',
    notice: (text) => void io.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    interactive: !json && (io.stderr as { isTTY?: boolean }).isTTY === true,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** A whole number from a command-line argument, or a usage error naming it. */
export function integerArgument(text: string, name: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) throw new CliError(`${name} must be a whole number, not ${JSON.stringify(text)}`, EXIT_USAGE);
  return Number(text);
}

/** A password asked twice on a terminal (so a typo is caught), once from a pipe. */
export async function askNewPassword(context: CommandContext, question: string): Promise<string> {
  const password = await context.prompter.ask(question, { hidden: true });
  if (password === '') throw new CliError('the password is empty', EXIT_USAGE);
  if (context.io.stdin?.isTTY === true) {
    const again = await context.prompter.ask('Repeat it: ', { hidden: true });
    if (again !== password) throw new CliError('the two passwords differ', EXIT_USAGE);
  }
  return password;
}
