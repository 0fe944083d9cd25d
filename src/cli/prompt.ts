import type { Writable } from 'node:stream';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliInput } from './cli-io.js';

/** Longest answer accepted, so a runaway pipe cannot grow the buffer without bound. */
const ANSWER_CHARS_MAX = 4096;
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);
/** Exit code for a prompt cancelled with Ctrl-C, as a shell reports SIGINT (128 + 2). */
const EXIT_CANCELLED = 130;

/**
 * Answers to questions (passwords, TOTP codes, yes/no). On a terminal it reads in raw mode, so a
 * hidden answer is never echoed; from a pipe it takes the next line, so scripts and tests can
 * feed several answers one per line. The prompt text goes to stderr, keeping stdout for output.
 */
export class Prompter {
  private buffered = '';
  private ended = false;
  private listening = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly input: CliInput | undefined,
    private readonly output: Writable,
  ) {}

  async ask(question: string, options: { hidden: boolean }): Promise<string> {
    const input = this.input;
    if (input === undefined) throw new CliError(`cannot ask for ${question.replace(/:\s*$/, '')}: no input`, EXIT_USAGE);
    if (input.isTTY === true && typeof input.setRawMode === 'function') return this.askTerminal(input, question, options.hidden);
    const line = await this.nextLine(input);
    if (line === undefined) throw new CliError(`no answer for "${question.replace(/:\s*$/, '')}" on stdin`, EXIT_USAGE);
    return line;
  }

  /** Reads characters in raw mode until Enter; echoes them only when not hidden. */
  private askTerminal(input: CliInput, question: string, hidden: boolean): Promise<string> {
    this.output.write(question);
    const setRawMode = input.setRawMode?.bind(input) as (mode: boolean) => unknown;
    return new Promise((resolve, reject) => {
      let answer = '';
      const finish = (error?: CliError): void => {
        input.off('data', onData);
        setRawMode(false);
        input.pause();
        this.output.write('\n');
        if (error === undefined) resolve(answer);
        else reject(error);
      };
      const onData = (chunk: Buffer | string): void => {
        for (const character of chunk.toString()) {
          if (character === '\r' || character === '\n') return finish();
          if (character === CTRL_C || (character === CTRL_D && answer === '')) return finish(new CliError('cancelled', EXIT_CANCELLED));
          if (BACKSPACE.has(character)) {
            if (answer.length > 0 && !hidden) this.output.write('\b \b');
            answer = answer.slice(0, -1);
          } else if (character >= ' ' && answer.length < ANSWER_CHARS_MAX) {
            answer += character;
            if (!hidden) this.output.write(character);
          }
        }
      };
      setRawMode(true);
      input.on('data', onData);
      input.resume();
    });
  }

  /** The next line from a pipe (without its line ending), or undefined at the end of input. */
  private async nextLine(input: CliInput): Promise<string | undefined> {
    if (!this.listening) {
      this.listening = true;
      input.on('data', (chunk: Buffer | string) => {
        this.buffered += chunk.toString();
        if (this.buffered.length > ANSWER_CHARS_MAX * 4 && !this.buffered.includes('\n')) {
          input.destroy(new CliError('an answer on stdin is too long', EXIT_FAILURE));
        }
        this.wake?.();
      });
      input.on('end', () => {
        this.ended = true;
        this.wake?.();
      });
      input.on('error', () => {
        this.ended = true;
        this.wake?.();
      });
    }
    for (;;) {
      const newline = this.buffered.indexOf('\n');
      if (newline >= 0) {
        const line = this.buffered.slice(0, newline).replace(/\r$/, '');
        this.buffered = this.buffered.slice(newline + 1);
        // Paused between questions so a finished command's process can exit.
        input.pause();
        return line;
      }
      if (this.ended) {
        const rest = this.buffered;
        this.buffered = '';
        return rest === '' ? undefined : rest;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        input.resume();
      });
      this.wake = undefined;
    }
  }
}

/** True for an answer that means yes. */
export function isYes(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}
