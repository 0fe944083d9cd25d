import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as connectTls } from 'node:tls';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as OTPAuth from 'otpauth';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';
import { runEnclave, type CliRun } from './support/cli-runner.js';
import { makeChain } from '../src/instance/tls-pki.test-support.js';

const ADMIN_PASSWORD = 'Correct-Horse-Battery-Staple-9';
const BOB_PASSWORD = 'violet-Quarry-Lantern-42';
const DAVE_PASSWORD = 'Maple-Uses-Two-Factors-5';
const UPLOAD_BYTES = 5 * 1024 * 1024;

const silent = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

/** The SHA-256 fingerprint of the certificate a new TLS connection to the API is shown. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

function assertExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

describe('the enclave CLI against a real server', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-cli-'));
  const dataDir = join(scratch, 'data');
  const configDir = join(scratch, 'config');
  let server: Server;
  let api: string;
  /** `enclave --insecure ARGS` with the test's API and config dir. */
  const enclave = (args: readonly string[], options: { input?: string; environment?: Record<string, string> } = {}) =>
    runEnclave(['--insecure', ...args], { ...options, environment: { ENCLAVE_API: api, ENCLAVE_CONFIG_DIR: configDir, ...options.environment } });

  before(async () => {
    server = await serve({
      config: { ...testConfig(), dataDir, apiPort: 0, logLevel: 'silent' },
      logger: createLogger({ level: 'silent' }),
      environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdout: silent(),
    });
    api = `https://127.0.0.1:${server.ports.api as number}`;
    // A directory the admin owns: a fresh root grants API users nothing to write.
    const ctx = systemContext(createLogger({ level: 'silent' }));
    const admin = await server.instance.users.findByName('admin');
    assert.ok(admin !== undefined);
    const fs = server.instance.fileSystem;
    await fs.mkdir(ctx, await fs.root(ctx), 'cli', { mode: 0o755, uid: admin.uid, gid: admin.primaryGid });
  });
  after(async () => {
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses the self-signed certificate unless --insecure or --ca-file says to trust it', async () => {
    const environment = { ENCLAVE_API: api, ENCLAVE_CONFIG_DIR: configDir };
    const [refused, trusted] = await Promise.all([
      runEnclave(['whoami'], { environment }),
      runEnclave(['whoami', '--ca-file', join(dataDir, 'tls', 'server.crt')], { environment }),
    ]);
    assertExit(refused, 1);
    assert.match(refused.stderr, /not trusted .*--insecure/s);
    assertExit(trusted, 1);
    assert.match(trusted.stderr, /http_unauthorized_error: .*\nnot logged in: run `enclave login`/);
  });

  it('a wrong password exits 1 with the error class and stores nothing', async () => {
    const run = await enclave(['login', '--username', 'admin'], { input: 'not-the-password\n' });
    assertExit(run, 1);
    assert.match(run.stderr, /^enclave: login_failed_error: /m);
    assert.throws(() => statSync(join(configDir, 'credentials.json')), /ENOENT/);
  });

  it('login reads the password from stdin, keeps the session in a 0600 file and never prints the token', async () => {
    const run = await enclave(['login', '--username', 'admin'], { input: `${ADMIN_PASSWORD}\n` });
    assertExit(run, 0);
    const file = join(configDir, 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { bearer_token: string; username: string }>;
    const token = stored[api]?.bearer_token;
    assert.ok(token !== undefined && token.length > 20, 'the session is keyed by the API URL');
    for (const secret of [token, ADMIN_PASSWORD]) assert.ok(!`${run.stdout}${run.stderr}`.includes(secret), 'login printed a secret');
    assert.match(run.stdout, /logged in to .* as admin/);

    const [whoami, json] = await Promise.all([enclave(['whoami']), enclave(['whoami', '--json'])]);
    assertExit(whoami, 0);
    assert.match(whoami.stdout, /^name\s+admin$/m);
    assert.equal((JSON.parse(json.stdout) as { name: string; authenticated_by: string }).authenticated_by, 'session');
  });

  it('creates and lists users, assigns roles, and an access token works as ENCLAVE_TOKEN', async () => {
    assertExit(await enclave(['users', 'create', 'bob', '--uid', '4242'], { input: `${BOB_PASSWORD}\n` }), 0);
    const [list, listJson, assign] = await Promise.all([enclave(['users', 'list']), enclave(['users', 'list', '--json']), enclave(['roles', 'assign', 'Observers', 'bob'])]);
    assertExit(list, 0);
    assert.match(list.stdout, /^NAME\s+UID\s+PRIMARY_GID\s+ID$/m);
    assert.match(list.stdout, /^bob\s+4242\s+100\s+/m);
    const listed = JSON.parse(listJson.stdout) as Array<{ name: string }>;
    assert.deepEqual(listed.map((user) => user.name).sort(), ['admin', 'bob']);
    assertExit(assign, 0);
    const members = JSON.parse((await enclave(['roles', 'members', 'Observers', '--json'])).stdout) as Array<{ name: string }>;
    assert.ok(members.some((member) => member.name === 'bob'));

    const created = await enclave(['tokens', 'create', 'bob', '--description', 'cli test', '--json']);
    assertExit(created, 0);
    const { bearer_token: bearer, id } = JSON.parse(created.stdout) as { bearer_token: string; id: string };
    const asBob = await runEnclave(['--insecure', 'whoami', '--json'], { environment: { ENCLAVE_API: api, ENCLAVE_TOKEN: bearer, ENCLAVE_CONFIG_DIR: configDir } });
    assertExit(asBob, 0);
    assert.deepEqual(
      (({ name, authenticated_by }) => ({ name, authenticated_by }))(JSON.parse(asBob.stdout) as { name: string; authenticated_by: string }),
      { name: 'bob', authenticated_by: 'access-token' },
    );
    const tokens = await enclave(['tokens', 'list']);
    assert.ok(tokens.stdout.includes(id) && !tokens.stdout.includes(bearer.split('.')[1] as string), 'listed without its secret');
    assertExit(await enclave(['tokens', 'revoke', id]), 0);
    const revoked = await runEnclave(['--insecure', 'whoami'], { environment: { ENCLAVE_API: api, ENCLAVE_TOKEN: bearer, ENCLAVE_CONFIG_DIR: configDir } });
    assertExit(revoked, 1);
    assert.match(revoked.stderr, /http_unauthorized_error/);
  });

  it('puts and gets a 5 MiB file unchanged (no progress bar off a terminal), and lists, reads and shows the ACL', async () => {
    const content = randomBytes(UPLOAD_BYTES);
    const source = join(scratch, 'upload.bin');
    const target = join(scratch, 'download.bin');
    writeFileSync(source, content);
    assertExit(await enclave(['files', 'mkdir', '-p', '/cli/deep/er']), 0);
    const put = await enclave(['files', 'put', source, '/cli/deep/']);
    assertExit(put, 0);
    assert.match(put.stdout, /uploaded .* to \/cli\/deep\/upload\.bin \(5\.0 MiB\)/);
    assert.equal(put.stderr, '', 'no progress bar or noise when stderr is not a terminal');
    const get = await enclave(['files', 'get', '/cli/deep/upload.bin', target]);
    assertExit(get, 0);
    assert.ok(readFileSync(target).equals(content), 'the downloaded content equals the uploaded one');

    writeFileSync(join(scratch, 'hello.txt'), 'hello, enclave\n');
    assertExit(await enclave(['files', 'put', join(scratch, 'hello.txt'), '/cli/hello.txt']), 0);
    const [cat, ls, long, aclJson, aclTable] = await Promise.all([
      enclave(['files', 'cat', '/cli/hello.txt']),
      enclave(['files', 'ls', '/cli']),
      enclave(['files', 'ls', '--long', '/cli/deep', '--json']),
      enclave(['files', 'acl', 'get', '/cli/hello.txt', '--json']),
      enclave(['files', 'acl', 'get', '/cli/hello.txt']),
    ]);
    assertExit(cat, 0);
    assert.equal(cat.stdout, 'hello, enclave\n');
    assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['deep/', 'hello.txt']);
    const listing = JSON.parse(long.stdout) as { files: Array<{ name: string; size: string }> };
    assert.equal(listing.files.find((file) => file.name === 'upload.bin')?.size, String(UPLOAD_BYTES));
    const acl = JSON.parse(aclJson.stdout) as { aces: Array<{ type: string }> };
    assert.ok(acl.aces.length > 0 && acl.aces.every((ace) => ace.type === 'ALLOWED' || ace.type === 'DENIED'), aclJson.stdout);
    assertExit(aclTable, 0);
    assert.match(aclTable.stdout, /^TYPE\s+TRUSTEE\s+FLAGS\s+RIGHTS/);
  });

  it('sets quotas with units, changes them, and reports their status', async () => {
    const [set, bad] = await Promise.all([enclave(['quotas', 'set', '/cli', '10G']), enclave(['quotas', 'set', '/cli', '12XB'])]);
    assertExit(set, 0);
    assertExit(bad, 2);
    assert.match(bad.stderr, /not a size/);
    let status = JSON.parse((await enclave(['quotas', 'status', '--json'])).stdout) as { quotas: Array<{ limit: string; capacity_used: string }> };
    assert.equal(status.quotas[0]?.limit, '10000000000');
    assertExit(await enclave(['quotas', 'set', '/cli', '500MiB']), 0);
    status = JSON.parse((await enclave(['quotas', 'status', '--json'])).stdout) as typeof status;
    assert.equal(status.quotas.length, 1);
    assert.equal(status.quotas[0]?.limit, String(500 * 1024 * 1024));
    assert.ok(Number(status.quotas[0]?.capacity_used) >= UPLOAD_BYTES);
  });

  it('posture prints a table and exits 0, and exits 1 with --fail-on-fail when a check fails', async () => {
    const [run, json, failing] = await Promise.all([enclave(['posture']), enclave(['posture', '--json']), enclave(['posture', '--fail-on-fail'])]);
    assertExit(run, 0);
    assert.match(run.stdout, /^STATUS\s+ID\s+TITLE\s+FIX$/m);
    assert.match(run.stdout, /^fail\s+tls-certificate\s/m, 'a self-signed certificate fails its check');
    const report = JSON.parse(json.stdout) as { checks: Array<{ id: string; status: string }> };
    assert.ok(report.checks.length > 5);
    assertExit(failing, 1);
    assert.match(failing.stderr, /posture check\(s\) fail: .*tls-certificate/);
  });

  it('asks for the TOTP code when the user has MFA, and honours the login banner', async () => {
    assertExit(await enclave(['users', 'create', 'dave'], { input: `${DAVE_PASSWORD}\n` }), 0);
    const daveConfig = { ENCLAVE_CONFIG_DIR: join(scratch, 'dave-config') };
    assertExit(await enclave(['login', '-u', 'dave'], { input: `${DAVE_PASSWORD}\n`, environment: daveConfig }), 0);
    const enrolled = JSON.parse((await enclave(['mfa', 'enroll', '--json'], { environment: daveConfig })).stdout) as { otpauth_uri: string };
    const totp = OTPAuth.URI.parse(enrolled.otpauth_uri) as OTPAuth.TOTP;
    // Confirm with the current step's code and log in with the next step's: the server accepts
    // ±1 step, each step once, so both hold however the 30 s boundaries fall between the calls.
    const confirmedAt = Date.now();
    const confirmed = await enclave(['mfa', 'confirm', totp.generate({ timestamp: confirmedAt }), '--json'], { environment: daveConfig });
    assertExit(confirmed, 0);
    assert.equal((JSON.parse(confirmed.stdout) as { recovery_codes: string[] }).recovery_codes.length > 0, true);
    assertExit(await enclave(['logout'], { environment: daveConfig }), 0);

    const login = await enclave(['login', '-u', 'dave'], { input: `${DAVE_PASSWORD}\n${totp.generate({ timestamp: confirmedAt + 30_000 })}\n`, environment: daveConfig });
    assertExit(login, 0);
    assert.match(login.stdout, /as dave/);

    const adminToken = (await callApi(server.ports.api as number, 'POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } })).json().bearer_token as string;
    const banner = { login_banner: { enabled: true, text: 'Authorised use only. Activity is monitored.' } };
    assert.equal((await callApi(server.ports.api as number, 'PUT', '/v1/web-ui/settings', { token: adminToken, body: banner })).status, 200);
    try {
      const declined = await enclave(['login', '-u', 'bob'], { input: `n\n${BOB_PASSWORD}\n`, environment: daveConfig });
      assertExit(declined, 1);
      assert.match(declined.stderr, /Authorised use only[\s\S]*not accepted/);
      const accepted = await enclave(['login', '-u', 'bob', '--accept-banner'], { input: `${BOB_PASSWORD}\n`, environment: daveConfig });
      assertExit(accepted, 0);
    } finally {
      await callApi(server.ports.api as number, 'PUT', '/v1/web-ui/settings', { token: adminToken, body: { login_banner: { enabled: false, text: '' } } });
    }
  });

  it('tls install puts a CA-issued chain in place at once, tls show reports it, and a refused chain changes nothing', async () => {
    const chain = await makeChain(Date.now());
    const files = { chain: join(scratch, 'chain.pem'), key: join(scratch, 'leaf.key'), wrongKey: join(scratch, 'root.key') };
    writeFileSync(files.chain, chain.leaf.pem + chain.intermediate.pem);
    writeFileSync(files.key, chain.leaf.keyPem, { mode: 0o600 });
    writeFileSync(files.wrongKey, chain.root.keyPem, { mode: 0o600 });
    const leafFingerprint = new X509Certificate(chain.leaf.pem).fingerprint256;

    const installed = await enclave(['tls', 'install', '--cert', files.chain, '--key', files.key, '--json']);
    assertExit(installed, 0);
    const answer = JSON.parse(installed.stdout) as { chain_length: number; self_signed: boolean; fingerprint_sha256: string };
    assert.equal(answer.chain_length, 2);
    assert.equal(answer.self_signed, false);
    assert.equal(await servedFingerprint(server.ports.api as number), leafFingerprint, 'new connections get the installed leaf');
    const shown = await enclave(['tls', 'show', '--json']);
    assertExit(shown, 0);
    assert.equal((JSON.parse(shown.stdout) as { fingerprint_sha256: string }).fingerprint_sha256, answer.fingerprint_sha256);

    const mismatch = await enclave(['tls', 'install', '--cert', files.chain, '--key', files.wrongKey]);
    assertExit(mismatch, 1);
    assert.match(mismatch.stderr, /tls_private_key_mismatch_error/);
    const missing = await enclave(['tls', 'install', '--cert', join(scratch, 'no-such.pem'), '--key', files.key]);
    assertExit(missing, 2);
    assert.match(missing.stderr, /cannot read/);
    assert.equal(await servedFingerprint(server.ports.api as number), leafFingerprint, 'refusals keep the installed certificate');
  });

  it('usage errors exit 2, and logout ends the session', async () => {
    const [unknown, relative] = await Promise.all([enclave(['users', 'frobnicate']), enclave(['files', 'ls', 'relative/path'])]);
    assertExit(unknown, 2);
    assertExit(relative, 2);
    const logout = await enclave(['logout']);
    assertExit(logout, 0);
    const after = await enclave(['whoami']);
    assertExit(after, 1);
    assert.match(after.stderr, /not logged in/);
  });
});
