import type { Readable, Writable } from 'node:stream';

/** The input a command may prompt on: a TTY (hidden input via raw mode) or a pipe (one line per answer). */
export type CliInput = Readable & { readonly isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

/** What a command may touch of its process; passed in so commands can be run in tests. */
export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Where prompts (passwords, TOTP codes, confirmations) read from; none means no prompting. */
  readonly stdin?: CliInput;
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Registers a handler for SIGTERM and SIGINT (tests pass a fake). */
  readonly onStopSignal: (handler: (signal: NodeJS.Signals) => void) => void;
  readonly exit: (code: number) => void;
}

/** Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure whose message is for the user as is (no stack), with the exit code to use. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
