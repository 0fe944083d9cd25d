import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { SettingsStore } from '../../../settings/settings-store.js';
import { WebUiSettings } from '../../../settings/web-ui-settings.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY } from '../testing/api-harness.test-support.js';
import { webUiRoutes } from './web-ui.js';

describe('web UI settings routes', () => {
  let app: ApiApp;
  let webUi: WebUiSettings;
  const admin = as(TEST_ADMIN);

  before(async () => {
    const settings = new SettingsStore({ metadata: new MemoryMetadataStore() });
    webUi = new WebUiSettings(settings);
    app = await openApiHarness(webUiRoutes({ settings }));
  });
  after(async () => app.close());

  it('defaults: no banner, 15 minutes of inactivity', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/web-ui/settings', headers: admin });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { login_banner: { enabled: false, text: '' }, inactivity_timeout_minutes: 15 });
    assert.equal((await app.inject({ method: 'GET', url: '/v1/web-ui/login-banner' })).statusCode, 404, 'the banner is served by GET /v1/session/login');
  });

  it('an enabled banner is what the login form shows, and login must acknowledge it', async () => {
    const put = await app.inject({ method: 'PUT', url: '/v1/web-ui/settings', headers: admin, payload: { login_banner: { enabled: true, text: 'Authorised use only; activity is logged.' }, inactivity_timeout_minutes: 30 } });
    assert.equal(put.statusCode, 200);
    assert.equal(put.json().inactivity_timeout_minutes, 30);
    assert.deepEqual(await webUi.loginBanner(), { enabled: true, text: 'Authorised use only; activity is logged.' });
    assert.equal(await webUi.inactivityTimeoutMs(), 30 * 60_000);
    assert.equal(await webUi.bannerRequired(), true);
    const disabled = await app.inject({ method: 'PUT', url: '/v1/web-ui/settings', headers: admin, payload: { login_banner: { enabled: false, text: 'draft' } } });
    assert.equal(disabled.json().inactivity_timeout_minutes, 30, 'a change keeps the fields it does not name');
    assert.deepEqual(await webUi.loginBanner(), { enabled: false, text: '' }, 'a disabled banner text is not shown');
    assert.equal(await webUi.bannerRequired(), false);
  });

  it('refuses out-of-range values (400) and callers without SECURITY_* (401, 403)', async () => {
    for (const payload of [{ inactivity_timeout_minutes: 0 }, { inactivity_timeout_minutes: 1441 }, { inactivity_timeout_minutes: '15' }, { login_banner: { enabled: true, text: 'x'.repeat(10_001) } }, { login_banner: { enabled: true } }, { theme: 'dark' }]) {
      const response = await app.inject({ method: 'PUT', url: '/v1/web-ui/settings', headers: admin, payload });
      assert.equal(response.statusCode, 400, JSON.stringify(payload).slice(0, 80));
    }
    assert.equal((await app.inject({ method: 'GET', url: '/v1/web-ui/settings' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/web-ui/settings', headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/web-ui/settings', headers: as(TEST_NOBODY), payload: { inactivity_timeout_minutes: 5 } })).statusCode, 403);
  });

  it('session settings: a 10 hour lifetime by default, changed within 5 minutes to 7 days by SECURITY_WRITE', async () => {
    const initial = await app.inject({ method: 'GET', url: '/v1/security/session-settings', headers: admin });
    assert.equal(initial.statusCode, 200);
    assert.deepEqual(initial.json(), { lifetime_minutes: 600 });
    const put = await app.inject({ method: 'PUT', url: '/v1/security/session-settings', headers: admin, payload: { lifetime_minutes: 30 } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), { lifetime_minutes: 30 });
    for (const payload of [{ lifetime_minutes: 4 }, { lifetime_minutes: 10_081 }, { lifetime_minutes: '60' }, { lifetime_minutes: 1.5 }, { lifetime_hours: 1 }]) {
      const refused = await app.inject({ method: 'PUT', url: '/v1/security/session-settings', headers: admin, payload });
      assert.equal(refused.statusCode, 400, JSON.stringify(payload));
      assert.equal(refused.json().error_class, 'fs_invalid_argument_error');
    }
    assert.match((await app.inject({ method: 'PUT', url: '/v1/security/session-settings', headers: admin, payload: { lifetime_hours: 1 } })).json().description, /lifetime_hours is not a known field/);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/session-settings', headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/security/session-settings', headers: as(TEST_NOBODY), payload: { lifetime_minutes: 60 } })).statusCode, 403);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/security/session-settings', headers: admin })).json(), { lifetime_minutes: 30 }, 'refusals changed nothing');
  });
});
