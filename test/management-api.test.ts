import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as OTPAuth from 'otpauth';
import { testConfig } from './support/test-config.js';
import { createLogger } from '../src/ops/logger.js';
import { PUBLIC, SELF, registeredRoutes, servedRoutes } from '../src/protocols/rest/route.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';

const ADMIN_PASSWORD = 'Correct-Horse-Battery-Staple-9';
const BOB_PASSWORD = 'violet-Quarry-Lantern-42';

/** Every log line the server writes, to prove no secret reaches it. */
function logSink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    }),
    text: () => chunks.join(''),
  };
}

interface OpenApiOperation {
  readonly responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  readonly requestBody?: { content?: Record<string, { schema?: unknown }> };
}

/** A concrete URL for a route pattern: parameters get harmless placeholder values. */
function concreteUrl(url: string): string {
  return url.replace(/:(\w+)/g, (_match, name: string) => (name === 'id' ? '0000000000000000' : name === 'ref' ? '%2F' : 'placeholder'));
}

describe('management API end to end', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-management-'));
  const logs = logSink();
  let server: Server;
  let port: number;
  let adminToken: string;
  const api = (method: string, path: string, options: Parameters<typeof callApi>[3] = {}) => callApi(port, method, path, options);

  before(async () => {
    server = await serve({
      config: { ...testConfig(), dataDir, apiPort: 0, logLevel: 'info' },
      logger: createLogger({ level: 'info', destination: logs.stream }),
      environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdout: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
    });
    port = server.ports.api as number;
    const login = await api('POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200, login.body.toString());
    adminToken = login.json().bearer_token;
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the built-in admin holds Administrators and every privilege', async () => {
    const me = await api('GET', '/v1/session/who-am-i', { token: adminToken });
    assert.equal(me.status, 200);
    assert.equal(me.json().name, 'admin');
    const privileges = (await api('GET', '/v1/auth/privileges', { token: adminToken })).json() as Array<{ name: string }>;
    assert.deepEqual(me.json().privileges, privileges.map((privilege) => privilege.name).sort());
  });

  it('the encryption status names the metadata page cipher a new instance uses (AEGIS-256)', async () => {
    const status = await api('GET', '/v1/encryption/status', { token: adminToken });
    assert.equal(status.status, 200);
    assert.equal(status.json().metadata_encryption, 'AEGIS-256 pages (SQLite3 Multiple Ciphers)');
  });

  it('refuses wrong passwords without telling whether the user exists, and bad or tampered tokens', async () => {
    const wrong = await api('POST', '/v1/session/login', { body: { username: 'admin', password: 'not-the-password-at-all' } });
    const ghost = await api('POST', '/v1/session/login', { body: { username: 'ghost', password: 'not-the-password-at-all' } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json(), ghost.json());
    assert.equal((await api('GET', '/v1/session/who-am-i')).status, 401);
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: `${adminToken}x` })).status, 401);
    const [version, , signature] = adminToken.split('.');
    const forged = Buffer.from(JSON.stringify({ sid: 'x', uid: 'admin', exp: Date.now() + 1e9 })).toString('base64url');
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: `${version}.${forged}.${signature}` })).status, 401);
    const malformed = await api('POST', '/v1/session/login', { rawBody: Buffer.from('{"username": '), headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    const extra = await api('POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD, role: 'root' } });
    assert.equal(extra.status, 400);
  });

  it('every route refuses anonymous callers (401) and callers without its privilege (403)', async () => {
    const created = await api('POST', '/v1/users', { token: adminToken, body: { name: 'norole', password: 'Plum-Harbour-Meadow-77' } });
    assert.equal(created.status, 201, created.body.toString());
    const norole = (await api('POST', '/v1/session/login', { body: { username: 'norole', password: 'Plum-Harbour-Meadow-77' } })).json().bearer_token as string;
    const routes = registeredRoutes(server.api).filter((route) => route.privilege !== PUBLIC);
    assert.ok(routes.length > 40, `only ${routes.length} routes`);
    const reachedWithoutRole: string[] = [];
    for (const route of routes) {
      const url = concreteUrl(route.url);
      const body = route.method === 'GET' || route.method === 'DELETE' ? {} : { body: {} };
      const anonymous = await api(route.method as string, url, body);
      assert.equal(anonymous.status, 401, `${route.method} ${route.url} without a token answered ${anonymous.status}`);
      // Logout last: it ends the session.
      if (route.url === '/v1/session/logout') continue;
      const unprivileged = await api(route.method as string, url, { token: norole, ...body });
      if (unprivileged.status !== 401 && unprivileged.status !== 403) reachedWithoutRole.push(`${route.method} ${route.url}`);
      else assert.equal(unprivileged.status, 403, `${route.method} ${route.url} (${route.privilege}) answered ${unprivileged.status} to a user without roles`);
    }
    assert.equal((await api('POST', '/v1/session/logout', { token: norole })).status, 204);
    reachedWithoutRole.push('POST /v1/session/logout');
    // The exact set a user without any role reaches: their own session and second factor (docs/privileges.md).
    const roleless = [
      'GET /v1/session/mfa',
      'GET /v1/session/who-am-i',
      'POST /v1/session/change-password',
      'POST /v1/session/logout',
      'POST /v1/session/mfa/confirm',
      'POST /v1/session/mfa/disable',
      'POST /v1/session/mfa/enroll',
      'POST /v1/session/mfa/recovery-codes',
    ];
    assert.deepEqual(reachedWithoutRole.sort(), roleless);
    assert.deepEqual(routes.filter((route) => route.privilege === SELF).map((route) => `${route.method} ${route.url}`).sort(), roleless, 'SELF is declared exactly there');
  });

  it('nothing but version, the OpenAPI document, /docs and the login route answers without a login', async () => {
    const served = servedRoutes(server.api).filter((route) => route.method !== 'HEAD' && route.method !== 'OPTIONS');
    assert.ok(served.length > registeredRoutes(server.api).length, 'every served route is recorded, not only the API routes');
    const open: string[] = [];
    for (const route of served) {
      const answer = await api(route.method, concreteUrl(route.url).replace('*', 'index.css'), route.method === 'GET' || route.method === 'DELETE' ? {} : { body: {} });
      if (answer.status !== 401) open.push(`${route.method} ${route.url}`);
    }
    const [docs, others] = [open.filter((route) => /^GET \/docs(\/|$)/.test(route)), open.filter((route) => !/^GET \/docs(\/|$)/.test(route))];
    assert.deepEqual(others.sort(), ['GET /openapi.json', 'GET /v1/session/login', 'GET /v1/version', 'POST /v1/session/login']);
    assert.ok(docs.includes('GET /docs'), docs.join(', '));
    assert.deepEqual(registeredRoutes(server.api).filter((route) => route.privilege === PUBLIC).map((route) => `${route.method} ${route.url}`).sort(), ['GET /v1/session/login', 'GET /v1/version', 'POST /v1/session/login']);
  });

  it('the live OpenAPI document gives every operation a schema for its success answer, and for its body when it takes one', async () => {
    // POST operations that take no body at all; each says why.
    const bodyless = new Map([
      ['POST /v1/session/logout', 'ends the calling session'],
      ['POST /v1/session/mfa/enroll', 'starts an enrolment for the caller'],
      ['POST /v1/maintenance/fsck', 'its one option is a query parameter'],
    ]);
    const document = (await api('GET', '/openapi.json')).json() as { paths: Record<string, Record<string, OpenApiOperation>> };
    const missing: string[] = [];
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`;
        documented.add(name);
        const successes = Object.entries(operation.responses ?? {}).filter(([status]) => /^2[0-9][0-9]$/.test(status));
        if (successes.length === 0) missing.push(`${name}: no success answer`);
        for (const [status, answer] of successes) {
          // 204 has no body; any other success answer names a schema for each of its media types.
          const described = status === '204' ? answer.content === undefined : Object.values(answer.content ?? {}).length > 0 && Object.values(answer.content ?? {}).every((media) => media.schema !== undefined);
          if (!described) missing.push(`${name}: no schema for ${status}`);
        }
        if (['post', 'put', 'patch'].includes(method)) {
          const body = Object.values(operation.requestBody?.content ?? {}).some((media) => media.schema !== undefined);
          if (!body && !bodyless.has(name)) missing.push(`${name}: no request body schema`);
          if (body && bodyless.has(name)) missing.push(`${name}: listed as bodyless but takes a body`);
        }
      }
    }
    assert.deepEqual(missing, []);
    for (const route of registeredRoutes(server.api)) {
      const name = `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`;
      assert.ok(documented.has(name), `${name} is not in the OpenAPI document`);
    }
    assert.ok(documented.size > 100, `only ${documented.size} operations`);
  });

  it('roles grant privileges at once, to users directly and through groups', async () => {
    assert.equal((await api('POST', '/v1/users', { token: adminToken, body: { name: 'bob', password: BOB_PASSWORD } })).status, 201);
    const bob = (await api('POST', '/v1/session/login', { body: { username: 'bob', password: BOB_PASSWORD } })).json().bearer_token as string;
    assert.equal((await api('GET', '/v1/users', { token: bob })).status, 403);
    assert.equal((await api('POST', '/v1/auth/roles/Observers/members', { token: adminToken, body: { member: 'bob' } })).status, 200);
    assert.equal((await api('GET', '/v1/users', { token: bob })).status, 200);
    assert.equal((await api('POST', '/v1/users', { token: bob, body: { name: 'eve', password: 'Eve-Would-Like-Access-1' } })).status, 403);
    const group = await api('POST', '/v1/groups', { token: adminToken, body: { name: 'keymasters' } });
    assert.equal(group.status, 201, group.body.toString());
    await api('POST', `/v1/groups/${group.json().id}/members`, { token: adminToken, body: { member_id: 'bob' } });
    const role = await api('POST', '/v1/auth/roles', { token: adminToken, body: { name: 'Posture', privileges: ['SECURITY_READ'] } });
    assert.equal(role.status, 201, role.body.toString());
    await api('POST', '/v1/auth/roles/Posture/members', { token: adminToken, body: { member: 'keymasters' } });
    const posture = await api('GET', '/v1/security/posture', { token: bob });
    assert.equal(posture.status, 200, posture.body.toString());
    assert.ok((posture.json().checks as Array<{ id: string; status: string }>).some((check) => check.id === 'rbac-beyond-admin' && check.status === 'pass'));
    await api('DELETE', '/v1/auth/roles/Observers/members/bob', { token: adminToken });
    assert.equal((await api('GET', '/v1/users', { token: bob })).status, 403);
  });

  it('access tokens work as bearer tokens, are listed without secrets, and die at once when revoked', async () => {
    const created = await api('POST', '/v1/auth/access-tokens', { token: adminToken, body: { user: 'admin', description: 'automation' } });
    assert.equal(created.status, 201, created.body.toString());
    const bearer = created.json().bearer_token as string;
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: bearer })).json().authenticated_by, 'access-token');
    const listed = await api('GET', '/v1/auth/access-tokens', { token: adminToken });
    assert.ok(!listed.body.toString().includes(bearer.split('.')[1] as string));
    assert.ok((listed.json().entries as Array<{ last_used_at: string | null }>).some((entry) => entry.last_used_at !== null));
    assert.equal((await api('DELETE', `/v1/auth/access-tokens/${created.json().id}`, { token: adminToken })).status, 204);
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: bearer })).status, 401);
  });

  it('locks a user out after repeated failures, even with the right password, and says when to retry', async () => {
    assert.equal((await api('POST', '/v1/users', { token: adminToken, body: { name: 'carol', password: 'Amber-Keeps-Her-Secrets-8' } })).status, 201);
    for (let attempt = 0; attempt < 5; attempt++) await api('POST', '/v1/session/login', { body: { username: 'carol', password: 'wrong-password-guess' } });
    const locked = await api('POST', '/v1/session/login', { body: { username: 'carol', password: 'Amber-Keeps-Her-Secrets-8' } });
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers['retry-after']) > 0);
  });

  it('requires the second factor once enrolled, and refuses a replayed code', async () => {
    assert.equal((await api('POST', '/v1/users', { token: adminToken, body: { name: 'dave', password: 'Maple-Uses-Two-Factors-5' } })).status, 201);
    const dave = (await api('POST', '/v1/session/login', { body: { username: 'dave', password: 'Maple-Uses-Two-Factors-5' } })).json().bearer_token as string;
    const enrolled = await api('POST', '/v1/session/mfa/enroll', { token: dave });
    assert.equal(enrolled.status, 200, enrolled.body.toString());
    const totp = OTPAuth.URI.parse(enrolled.json().otpauth_uri as string) as OTPAuth.TOTP;
    // The current step confirms and the next step logs in: the server accepts ±1 step, each once,
    // so this holds wherever the 30 s boundaries fall.
    const confirmedAt = Date.now();
    const confirm = await api('POST', '/v1/session/mfa/confirm', { token: dave, body: { code: totp.generate({ timestamp: confirmedAt }) } });
    assert.equal(confirm.status, 200, confirm.body.toString());
    const withoutCode = await api('POST', '/v1/session/login', { body: { username: 'dave', password: 'Maple-Uses-Two-Factors-5' } });
    assert.equal(withoutCode.status, 401);
    assert.equal(withoutCode.json().error_class, 'mfa_required_error');
    const code = totp.generate({ timestamp: confirmedAt + 30_000 });
    const withCode = await api('POST', '/v1/session/login', { body: { username: 'dave', password: 'Maple-Uses-Two-Factors-5', totp: code } });
    assert.equal(withCode.status, 200, `${withCode.body.toString()} (code ${code})`);
    const replayed = await api('POST', '/v1/session/login', { body: { username: 'dave', password: 'Maple-Uses-Two-Factors-5', totp: code } });
    assert.equal(replayed.status, 401);
  });

  it('with MFA required, a user without a second factor gets a session that can only enrol', async () => {
    assert.equal((await api('PUT', '/v1/security/mfa-policy', { token: adminToken, body: { required: true } })).status, 200);
    try {
      assert.equal((await api('POST', '/v1/users', { token: adminToken, body: { name: 'erin', password: 'Cobalt-Must-Enrol-First-3' } })).status, 201);
      await api('POST', '/v1/auth/roles/Observers/members', { token: adminToken, body: { member: 'erin' } });
      const login = await api('POST', '/v1/session/login', { body: { username: 'erin', password: 'Cobalt-Must-Enrol-First-3' } });
      assert.equal(login.json().scope, 'mfa-enrolment', login.body.toString());
      const limited = login.json().bearer_token as string;
      assert.equal((await api('GET', '/v1/users', { token: limited })).status, 403);
      assert.equal((await api('POST', '/v1/session/mfa/enroll', { token: limited })).status, 200);
    } finally {
      await api('PUT', '/v1/security/mfa-policy', { token: adminToken, body: { required: false } });
    }
  });

  it('files over REST obey the ACLs of the caller, and a quota on / shows in the posture', async () => {
    // The administrator owns the root of a fresh instance; a user without rights on it may not write there.
    const created = await api('POST', `/v1/files/${encodeURIComponent('/')}/entries`, { token: adminToken, body: { name: 'admin-notes', action: 'CREATE_DIRECTORY' } });
    assert.equal(created.status, 201, created.body.toString());
    await api('POST', '/v1/auth/roles', { token: adminToken, body: { name: 'FileWriters', privileges: ['FILE_READ', 'FILE_WRITE'] } });
    await api('POST', '/v1/auth/roles/FileWriters/members', { token: adminToken, body: { member: 'bob' } });
    const bob = (await api('POST', '/v1/session/login', { body: { username: 'bob', password: BOB_PASSWORD } })).json().bearer_token as string;
    const refused = await api('POST', `/v1/files/${encodeURIComponent('/admin-notes')}/entries`, { token: bob, body: { name: 'intrusion', action: 'CREATE_FILE' } });
    assert.equal(refused.status, 403, 'FILE_WRITE does not override the ACL');
    assert.equal(refused.json().error_class, 'fs_access_denied_error');
    const quota = await api('POST', '/v1/files/quotas', { token: adminToken, body: { path: '/', limit: '1000000000' } });
    assert.equal(quota.status, 201, quota.body.toString());
    const posture = (await api('GET', '/v1/security/posture', { token: adminToken })).json() as { checks: Array<{ id: string; status: string }> };
    assert.equal(posture.checks.find((check) => check.id === 'root-quota')?.status, 'pass');
  });

  it('logout ends the session, and no password or token ever reached the log', async () => {
    const login = await api('POST', '/v1/session/login', { body: { username: 'bob', password: BOB_PASSWORD } });
    const token = login.json().bearer_token as string;
    assert.equal(login.status, 200, login.body.toString());
    assert.equal((await api('POST', '/v1/session/logout', { token })).status, 204);
    assert.equal((await api('GET', '/v1/session/who-am-i', { token })).status, 401);
    const text = logs.text();
    for (const secret of [ADMIN_PASSWORD, BOB_PASSWORD, token, adminToken, 'Amber-Keeps-Her-Secrets-8']) {
      assert.ok(!text.includes(secret), 'a secret reached the log');
    }
    assert.ok(text.includes('"login"'), 'the log has login lines at all');
  });
});
