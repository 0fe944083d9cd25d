import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { testConfig } from './support/test-config.js';
import type { Clock } from '../src/core/clock.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';

const ADMIN_PASSWORD = 'Correct-Horse-Battery-Staple-9';

/** Wall time plus an offset the test moves forward: sessions see time pass without waiting. */
class SkewedClock implements Clock {
  private offsetMs = 0;
  nowMs(): number {
    return Date.now() + this.offsetMs;
  }
  nowNs(): bigint {
    return BigInt(this.nowMs()) * 1_000_000n;
  }
  advanceMs(ms: number): void {
    this.offsetMs += ms;
  }
}

describe('management sessions: lifetime, inactivity and the login form', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-sessions-'));
  const clock = new SkewedClock();
  let server: Server;
  let port: number;
  const api = (method: string, path: string, options: Parameters<typeof callApi>[3] = {}) => callApi(port, method, path, options);
  const login = async (extra: Record<string, unknown> = {}) => api('POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD, ...extra } });

  before(async () => {
    server = await serve({
      config: { ...testConfig(), dataDir, apiPort: 0 },
      logger: createLogger({ level: 'silent' }),
      environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdout: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
      clock,
    });
    port = server.ports.api as number;
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a session lives 10 hours by default, and a changed lifetime is honoured by new sessions', async () => {
    const first = await login();
    assert.equal(first.status, 200, first.body.toString());
    const lifetimeMs = (answer: typeof first) => Date.parse(answer.json().expires_at as string) - clock.nowMs();
    assert.ok(Math.abs(lifetimeMs(first) - 10 * 3_600_000) < 60_000, `default lifetime ${lifetimeMs(first)} ms`);
    const token = first.json().bearer_token as string;
    const changed = await api('PUT', '/v1/security/session-settings', { token, body: { lifetime_minutes: 30 } });
    assert.equal(changed.status, 200, changed.body.toString());
    const second = await login();
    assert.ok(Math.abs(lifetimeMs(second) - 30 * 60_000) < 60_000, `new lifetime ${lifetimeMs(second)} ms`);
    const shortToken = second.json().bearer_token as string;
    // Keep both sessions in use (the inactivity timeout is 15 minutes) past the new lifetime.
    for (let step = 0; step < 3; step++) {
      clock.advanceMs(11 * 60_000);
      assert.equal((await api('GET', '/v1/session/who-am-i', { token })).status, 200, 'the older session keeps its 10 hours');
      const short = await api('GET', '/v1/session/who-am-i', { token: shortToken });
      assert.equal(short.status, step < 2 ? 200 : 401, `after ${(step + 1) * 11} minutes the 30-minute session answered ${short.status}`);
    }
    assert.equal((await api('PUT', '/v1/security/session-settings', { token, body: { lifetime_minutes: 600 } })).status, 200);
  });

  it('a session unused for longer than the inactivity timeout is refused with 401 and needs a new login', async () => {
    const token = (await login()).json().bearer_token as string;
    assert.equal((await api('PUT', '/v1/web-ui/settings', { token, body: { inactivity_timeout_minutes: 5 } })).status, 200);
    clock.advanceMs(4 * 60_000);
    assert.equal((await api('GET', '/v1/session/who-am-i', { token })).status, 200, 'used within 5 minutes');
    clock.advanceMs(4 * 60_000);
    assert.equal((await api('GET', '/v1/session/who-am-i', { token })).status, 200, 'each use restarts the wait');
    clock.advanceMs(5 * 60_000 + 10_000);
    const idle = await api('GET', '/v1/session/who-am-i', { token });
    assert.equal(idle.status, 401);
    assert.equal(idle.json().error_class, 'http_unauthorized_error');
    assert.equal((await api('GET', '/v1/session/who-am-i', { token })).status, 401, 'it stays ended');
    const again = (await login()).json().bearer_token as string;
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: again })).status, 200, 'a new login works');
    const token2 = await api('POST', '/v1/auth/access-tokens', { token: again, body: { user: 'admin' } });
    assert.equal(token2.status, 201, token2.body.toString());
    clock.advanceMs(10 * 60_000);
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: token2.json().bearer_token as string })).status, 200, 'access tokens have no inactivity limit');
    assert.equal((await api('GET', '/v1/session/who-am-i', { token: again })).status, 401);
  });

  it('GET /v1/session/login tells the login form about the banner, and login must acknowledge an enabled one', async () => {
    const none = await api('GET', '/v1/session/login');
    assert.equal(none.status, 200);
    assert.deepEqual(none.json(), { banner: { enabled: false, text: '' }, banner_acknowledgement_required: false });
    const token = (await login()).json().bearer_token as string;
    const text = 'Authorised use only; activity is logged.';
    assert.equal((await api('PUT', '/v1/web-ui/settings', { token, body: { login_banner: { enabled: true, text } } })).status, 200);
    assert.deepEqual((await api('GET', '/v1/session/login')).json(), { banner: { enabled: true, text }, banner_acknowledgement_required: true });
    const unacknowledged = await login();
    assert.equal(unacknowledged.status, 400);
    assert.equal(unacknowledged.json().error_class, 'login_banner_not_acknowledged_error');
    assert.match(unacknowledged.json().description, /GET \/v1\/session\/login/);
    assert.equal((await login({ banner_acknowledged: true })).status, 200);
    assert.equal((await api('GET', '/v1/web-ui/login-banner')).status, 404, 'the banner has one public route: the login form');
  });
});
