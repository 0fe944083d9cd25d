import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { recordKey, decodeRecord } from '../src/audit/local-log.js';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { openInstance } from '../src/main.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';
import { runEnclave, type CliRun } from './support/cli-runner.js';

/**
 * The audit trail end to end through serve(): REST actions become events with the right
 * operation, user, status and path; the chain verifies; a record changed in the metadata store
 * while the instance is stopped is named by verify (REST and CLI); the `enclave audit` commands.
 */
const ADMIN_PASSWORD = 'Audit-Trail-Admin-Password-7';
const ERIN_PASSWORD = 'Plum-Orchard-Velvet-Nine-42';
const silent = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
const logger = createLogger({ level: 'silent' });

interface EventView {
  seq: number;
  user: { name?: string; id?: string };
  protocol: string;
  operation: string;
  status: string;
  path?: string;
  details?: Record<string, unknown>;
}

function assertExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

describe('the audit trail through serve(), the REST API and the CLI', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-audit-e2e-'));
  const dataDir = join(scratch, 'data');
  const configDir = join(scratch, 'config');
  let server: Server | undefined;
  let port: number;
  let token: string;
  const start = async () => {
    server = await serve({ config: { ...testConfig(), dataDir, apiPort: 0, logLevel: 'silent' }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdout: silent() });
    port = server.ports.api as number;
  };
  const api = (method: string, path: string, options: Parameters<typeof callApi>[3] = {}) => callApi(port, method, path, { token, ...options });
  const enclave = (args: readonly string[]) => runEnclave(['--insecure', ...args], { environment: { ENCLAVE_API: `https://127.0.0.1:${port}`, ENCLAVE_CONFIG_DIR: configDir, ENCLAVE_TOKEN: token } });
  /** Events matching the query, waiting for the auditor's pump to write them. */
  const eventsWhere = async (query: string, count = 1): Promise<EventView[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await api('GET', `/v1/audit/events?limit=1000&${query}`);
      assert.equal(answer.status, 200, answer.body.toString());
      const events = answer.json().events as EventView[];
      if (events.length >= count || Date.now() > deadline) return events;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  before(async () => {
    await start();
    const ctx = systemContext(logger);
    const admin = await server?.instance.users.findByName('admin');
    assert.ok(admin !== undefined && server !== undefined);
    const fs = server.instance.fileSystem;
    await fs.mkdir(ctx, await fs.root(ctx), 'audited', { mode: 0o755, uid: admin.uid, gid: admin.primaryGid });
  });
  after(async () => {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a failed login, a login, a user creation (and a failed one), a file write and an audit config change are events', async () => {
    const failed = await callApi(port, 'POST', '/v1/session/login', { body: { username: 'admin', password: 'not-the-password-at-all' } });
    assert.equal(failed.status, 401);
    const login = await callApi(port, 'POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200);
    token = login.json().bearer_token as string;
    const erin = await api('POST', '/v1/users', { body: { name: 'erin', password: ERIN_PASSWORD } });
    assert.equal(erin.status, 201, erin.body.toString());
    assert.equal((await api('POST', '/v1/users', { body: { name: 'erin', password: ERIN_PASSWORD } })).status, 409);
    const ref = encodeURIComponent('/audited');
    assert.equal((await api('POST', `/v1/files/${ref}/entries`, { body: { name: 'report.txt', action: 'CREATE_FILE' } })).status, 201);
    const written = await api('PUT', `/v1/files/${encodeURIComponent('/audited/report.txt')}/data`, { rawBody: Buffer.alloc(4096, 7), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(written.status, 200, written.body.toString());
    assert.equal((await api('PUT', '/v1/audit/syslog/config', { body: { sinks: [{ enabled: false, server_address: 'siem.example.com', server_port: 6514, transport: 'tcp', format: 'json' }] } })).status, 200);

    const logins = await eventsWhere('operation=rest_login', 2);
    assert.deepEqual(logins.map((event) => [event.user.name, event.status, event.protocol]), [['admin', 'login_failed_error', 'api'], ['admin', 'ok', 'api']]);
    for (const event of logins) assert.doesNotMatch(JSON.stringify(event), /not-the-password|Audit-Trail-Admin/, 'no secret in a login event');

    const creations = await eventsWhere('operation=users_create', 2);
    assert.deepEqual(creations.map((event) => [event.user.name, event.status]), [['admin', 'ok'], ['admin', creations[1]?.status]]);
    assert.match(creations[1]?.status ?? '', /_error$/, 'a failed call carries the error class, not an HTTP status');
    assert.doesNotMatch(creations[1]?.status ?? '', /^http_4/);
    assert.doesNotMatch(JSON.stringify(creations), /Plum-Orchard-Velvet/, 'no password in a management event');

    const [create] = await eventsWhere('operation=fs_create_file');
    assert.deepEqual([create?.user.name, create?.status, create?.path], ['admin', 'ok', '/audited/report.txt']);
    const [write] = await eventsWhere('operation=fs_write_data&path_prefix=/audited');
    assert.deepEqual([write?.user.name, write?.status, write?.path, write?.details?.size], ['admin', 'ok', '/audited/report.txt', 4096]);

    const [config] = await eventsWhere('operation=audit_set_syslog_config');
    assert.equal(config?.status, 'ok');
    assert.deepEqual((config?.details?.after as { sinks: Array<{ server_address: string }> }).sinks.map((sink) => sink.server_address), ['siem.example.com']);

    const verify = await api('GET', '/v1/audit/verify');
    assert.equal(verify.json().ok, true, verify.body.toString());
  });

  it('enclave audit events / verify / public-key / syslog show and set', async () => {
    const events = await enclave(['audit', 'events', '--operation', 'rest_login', '--user', 'admin', '--json']);
    assertExit(events, 0);
    const listed = JSON.parse(events.stdout) as { events: EventView[] };
    assert.deepEqual(listed.events.map((event) => event.status), ['login_failed_error', 'ok']);
    const table = await enclave(['audit', 'events', '--path-prefix', '/audited', '--protocol', 'api']);
    assertExit(table, 0);
    assert.match(table.stdout, /fs_write_data\s+ok\s+\/audited\/report\.txt/);
    // Pagination: one event per page still finds them all, oldest first.
    const paged = await enclave(['audit', 'events', '--status', 'ok', '--limit', '3', '--json']);
    assertExit(paged, 0);
    assert.equal((JSON.parse(paged.stdout) as { events: EventView[] }).events.length, 3);
    assertExit(await enclave(['audit', 'events', '--from', 'yesterday-ish']), 2);

    const verify = await enclave(['audit', 'verify']);
    assertExit(verify, 0);
    assert.match(verify.stdout, /^ok: \d+ records/);
    const key = await enclave(['audit', 'public-key']);
    assertExit(key, 0);
    assert.match(key.stdout, /^-----BEGIN PUBLIC KEY-----/);

    const file = join(scratch, 'sinks.json');
    writeFileSync(file, JSON.stringify({ sinks: [{ enabled: false, server_address: '192.0.2.50', server_port: 514, transport: 'udp', format: 'csv' }] }));
    const set = await enclave(['audit', 'syslog', 'set', file]);
    assertExit(set, 0);
    assert.match(set.stdout, /udp\s+192\.0\.2\.50\s+514\s+csv/);
    const show = await enclave(['audit', 'syslog', 'show', '--json']);
    assertExit(show, 0);
    assert.equal((JSON.parse(show.stdout) as { sinks: Array<{ server_address: string }> }).sinks[0]?.server_address, '192.0.2.50');
    const [change] = (await eventsWhere('operation=audit_set_syslog_config', 2)).slice(-1);
    assert.equal(change?.status, 'ok', 'the CLI change is audited');
    writeFileSync(file, '{"sinks": [{"enabled": true}]}');
    const refused = await enclave(['audit', 'syslog', 'set', file]);
    assertExit(refused, 1);

    const retention = await enclave(['audit', 'retention', 'show']);
    assertExit(retention, 0);
    assert.match(retention.stdout, /max age: 90 days\nmax size: 4294967296 bytes/);
    const shortened = await enclave(['audit', 'retention', 'set', '--max-age-days', '30', '--json']);
    assertExit(shortened, 0);
    assert.deepEqual(JSON.parse(shortened.stdout), { max_age_days: 30, max_size_bytes: 4294967296 });
    const [retentionChange] = await eventsWhere('operation=audit_set_retention');
    assert.deepEqual([retentionChange?.status, retentionChange?.details?.before, retentionChange?.details?.after], ['ok', { max_age_days: 90 }, { max_age_days: 30 }]);
    assertExit(await enclave(['audit', 'retention', 'set', '--max-age-days', '0']), 1);
    assertExit(await enclave(['audit', 'retention', 'set', '--max-age-days', 'soon']), 2);
  });

  it('a record modified in the metadata store while the instance is stopped: verify names it (REST and CLI)', async () => {
    const [write] = await eventsWhere('operation=fs_write_data');
    assert.ok(write !== undefined);
    await server?.stop();
    server = undefined;
    const instance = await openInstance({ ...testConfig(), dataDir }, logger, { environment: {}, stdout: silent() });
    try {
      await instance.metadata.write(async (tx) => {
        const bytes = await tx.get(recordKey(write.seq));
        assert.ok(bytes !== undefined);
        const record = decodeRecord(bytes);
        const forged = { ...record, event: { ...record.event, path: '/audited/nothing-to-see.txt' } };
        tx.put(recordKey(write.seq), new TextEncoder().encode(JSON.stringify(forged)));
      });
    } finally {
      await instance.close();
    }
    await start();
    token = (await callApi(port, 'POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } })).json().bearer_token as string;
    const verify = (await api('GET', '/v1/audit/verify')).json() as { ok: boolean; first_bad?: { seq: number; reason: string } };
    assert.equal(verify.ok, false);
    assert.equal(verify.first_bad?.seq, write.seq);
    const cli = await enclave(['audit', 'verify']);
    assertExit(cli, 1);
    assert.match(cli.stdout, /^NOT OK/);
    assert.match(cli.stderr, new RegExp(`first bad record ${write.seq}: `));
  });
});
