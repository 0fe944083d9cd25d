import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, type PeerCertificate } from 'node:tls';
import { TEST_WRITE_CACHE_BYTES, testConfig } from './support/test-config.js';
import { createLogger } from '../src/ops/logger.js';
import { openInstance } from '../src/main.js';

/**
 * Runs the real `enclave` command (through tsx, so no build is needed) against a temporary data
 * dir, as a user would, and checks the outside contract of `enclave serve` (CONTRACT.md).
 */

const repoRoot = resolve(import.meta.dirname, '..');
const cliPath = join(repoRoot, 'src', 'cli', 'main.ts');
const STARTUP_TIMEOUT_MS = 60_000;
const scratch: string[] = [];
const children = new Set<ChildProcess>();

after(async () => {
  // A failed assertion must not leave a server running.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(scratch.map((path) => rm(path, { recursive: true, force: true })));
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'enclave-serve-test-'));
  scratch.push(dir);
  return dir;
}

/** The child's environment: this process's, minus every ENCLAVE_ variable, plus `extra`. */
function childEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('ENCLAVE_')) environment[name] = value;
  // The test write cache, unless a test asks for the real default (an empty variable is unset).
  return { ...environment, ENCLAVE_LOG_LEVEL: 'warn', ENCLAVE_WRITE_CACHE_BYTES: String(TEST_WRITE_CACHE_BYTES), ...extra };
}

interface Run {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runCli(args: string[], extraEnvironment: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], { cwd: repoRoot, env: childEnvironment(extraEnvironment), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => child.on('exit', (code, signal) => resolveExit({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Waits for the `listening api <host>:<port>` line; fails with the child's output if it exits first. */
async function waitForListening(run: Run): Promise<number> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let exited = false;
  void run.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    const match = /^listening api 127\.0\.0\.1:(\d+)$/m.exec(run.stdout());
    if (match) return Number(match[1]);
    if (exited) break;
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
  run.child.kill('SIGKILL');
  assert.fail(`server did not report listening\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
}

async function startServer(dataDir: string, extraEnvironment: Record<string, string> = {}): Promise<{ run: Run; port: number }> {
  const run = runCli(['serve', '--data-dir', dataDir, '--api-port', '0'], extraEnvironment);
  return { run, port: await waitForListening(run) };
}

async function stopServer(run: Run, signal: NodeJS.Signals): Promise<void> {
  run.child.kill(signal);
  const { code } = await run.exited;
  assert.equal(code, 0, `exit code after ${signal}\nstderr:\n${run.stderr()}`);
}

function getJson(port: number, path: string): Promise<{ status: number; body: unknown; certificate: PeerCertificate }> {
  return new Promise((resolveGet, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (response) => {
      const certificate = (response.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate();
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      response.on('end', () => {
        try {
          resolveGet({ status: response.statusCode ?? 0, body: JSON.parse(text), certificate });
        } catch (error) {
          reject(error);
        }
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Attempts a handshake limited to one protocol version; resolves the negotiated version or the error code. */
function handshake(port: number, version: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'): Promise<string> {
  return new Promise((resolveHandshake) => {
    // SECLEVEL=0 lets this client offer TLS 1.1 at all, so a refusal is the server's doing.
    const socket = connect({ host: '127.0.0.1', port, minVersion: version, maxVersion: version, rejectUnauthorized: false, ciphers: 'DEFAULT@SECLEVEL=0' });
    socket.once('secureConnect', () => {
      resolveHandshake(socket.getProtocol() ?? 'unknown');
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolveHandshake(`error:${error.code ?? error.message}`));
  });
}

function modeOf(path: string): Promise<number> {
  return stat(path).then((stats) => stats.mode & 0o777);
}

describe('enclave serve', { timeout: 240_000 }, () => {
  it('first start initialises, prints the admin password once, serves HTTPS; SIGTERM exits 0; a restart keeps keys and certificate', async () => {
    const dataDir = join(await scratchDir(), 'data');
    const defaults = { ENCLAVE_WRITE_CACHE_BYTES: '' };
    const first = await startServer(dataDir, defaults);

    const passwordFile = join(dataDir, 'initial-admin-password');
    assert.equal(await modeOf(passwordFile), 0o600);
    assert.equal(await modeOf(dataDir), 0o700);
    assert.equal(await modeOf(join(dataDir, 'tls', 'server.key')), 0o600);
    // The default write cache, 2 GiB, is preallocated before the server listens: 64 segments of 32 MiB.
    const segments = (await readdir(join(dataDir, 'write-cache'))).sort();
    assert.equal(segments.length, 64);
    for (const name of [segments[0], segments[63]]) assert.equal((await stat(join(dataDir, 'write-cache', name as string))).size, 32 * 1024 * 1024);
    assert.equal(await modeOf(join(dataDir, 'write-cache')), 0o700);
    const password = (await readFile(passwordFile, 'utf8')).trim();
    assert.ok(password.length >= 20, 'a strong generated password');
    assert.equal(first.run.stdout().split(password).length - 1, 1, 'the password is printed exactly once');

    const version = await getJson(first.port, '/v1/version');
    assert.equal(version.status, 200);
    const body = version.body as { name: string; version: string };
    assert.equal(body.name, 'enclave');
    assert.equal(body.version, (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    const missing = await getJson(first.port, '/v1/no-such-route');
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error_class: string }).error_class, 'http_not_found_error');

    assert.equal(await handshake(first.port, 'TLSv1.2'), 'TLSv1.2');
    assert.equal(await handshake(first.port, 'TLSv1.3'), 'TLSv1.3');
    assert.match(await handshake(first.port, 'TLSv1.1'), /^error:.*(PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS)/);

    const certificateBefore = await readFile(join(dataDir, 'tls', 'server.crt'), 'utf8');
    assert.equal(version.certificate.fingerprint256, new X509Certificate(certificateBefore).fingerprint256);
    await stopServer(first.run, 'SIGTERM');

    const second = await startServer(dataDir, defaults);
    assert.doesNotMatch(second.run.stdout(), /admin password/);
    assert.equal(second.run.stdout().split(password).length - 1, 0);
    const again = await getJson(second.port, '/v1/version');
    assert.equal(again.certificate.fingerprint256, version.certificate.fingerprint256, 'the same certificate is served');
    await stopServer(second.run, 'SIGINT');

    const instance = await openInstance({ ...testConfig(), dataDir }, createLogger({ level: 'silent' }), { environment: {}, stdout: process.stdout });
    try {
      assert.ok(await instance.users.verifyPassword('admin', password), 'the printed password is the admin password');
      assert.equal(await instance.users.verifyPassword('admin', `${password}x`), undefined);
    } finally {
      await instance.close();
    }
  });

  it('ENCLAVE_ADMIN_PASSWORD sets the admin password; nothing secret is printed or stored', async () => {
    const dataDir = join(await scratchDir(), 'data');
    const chosen = 'chosen-Admin-passw0rd';
    const { run } = await startServer(dataDir, { ENCLAVE_ADMIN_PASSWORD: chosen });
    assert.doesNotMatch(run.stdout(), new RegExp(chosen));
    await assert.rejects(stat(join(dataDir, 'initial-admin-password')), { code: 'ENOENT' });
    await stopServer(run, 'SIGTERM');
    const instance = await openInstance({ ...testConfig(), dataDir }, createLogger({ level: 'silent' }), { environment: {}, stdout: process.stdout });
    try {
      assert.ok(await instance.users.verifyPassword('admin', chosen));
    } finally {
      await instance.close();
    }
  });

  it('a port out of range exits 2 with a message naming api_port', async () => {
    const run = runCli(['serve', '--data-dir', join(await scratchDir(), 'data'), '--api-port', '70000']);
    const { code } = await run.exited;
    assert.equal(code, 2);
    assert.match(run.stderr(), /api_port must be between 0 and 65535 \(got 70000\)/);
    assert.equal(run.stdout(), '');
  });

  it('an unknown key in the config file exits 2 naming it', async () => {
    const dir = await scratchDir();
    await writeFile(join(dir, 'enclave.json'), JSON.stringify({ api_prot: 1 }));
    const run = runCli(['serve', '--data-dir', join(dir, 'data'), '--config', join(dir, 'enclave.json')]);
    assert.equal((await run.exited).code, 2);
    assert.match(run.stderr(), /unknown setting api_prot/);
  });

  it('a port in use exits non-zero naming api_port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const run = runCli(['serve', '--data-dir', join(await scratchDir(), 'data'), '--api-port', String(port)]);
      const { code } = await run.exited;
      assert.notEqual(code, 0);
      assert.match(run.stderr(), new RegExp(`127\\.0\\.0\\.1:${port}.*already in use.*change api_port`));
      assert.doesNotMatch(run.stdout(), /listening api/);
    } finally {
      blocker.close();
    }
  });

  it('a non-empty folder that is not an instance is refused, naming data_dir', async () => {
    const dir = await scratchDir();
    await writeFile(join(dir, 'precious.txt'), 'mine');
    const run = runCli(['serve', '--data-dir', dir, '--api-port', '0']);
    assert.equal((await run.exited).code, 2);
    assert.match(run.stderr(), /data_dir .* is not empty/);
    assert.equal(await readFile(join(dir, 'precious.txt'), 'utf8'), 'mine');
  });

  it('--version prints the package version and --help lists serve', async () => {
    const version = runCli(['--version']);
    assert.equal((await version.exited).code, 0);
    assert.equal(version.stdout().trim(), (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    const help = runCli(['--help']);
    assert.equal((await help.exited).code, 0);
    assert.match(help.stdout(), /Usage: enclave/);
    assert.match(help.stdout(), /serve/);
    const serveHelp = runCli(['serve', '--help']);
    assert.equal((await serveHelp.exited).code, 0);
    for (const flag of ['--data-dir', '--config', '--host', '--api-port', '--s3-port', '--nfs-port', '--smb-port', '--ftp-port']) {
      assert.match(serveHelp.stdout(), new RegExp(flag));
    }
  });
});
