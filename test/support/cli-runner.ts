import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long one CLI run may take before the test calls it hung. */
const RUN_TIMEOUT_MS = 30_000;

/**
 * Runs `enclave ARGS` as a child process, the way a user does (`node --import tsx
 * src/cli/main.ts`), with `input` on its stdin (not a TTY: prompts read one line each) and an
 * environment of exactly the variables given plus PATH and HOME.
 */
export function runEnclave(args: readonly string[], options: { input?: string; environment?: Record<string, string> } = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/nonexistent', ...options.environment },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`enclave ${args.join(' ')} did not finish in ${RUN_TIMEOUT_MS} ms; stderr: ${Buffer.concat(stderr).toString()}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}
