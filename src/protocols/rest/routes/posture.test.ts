import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { POSTURE_CHECK_IDS } from '../../../ops/posture.js';
import { settingsPostureInputs } from '../../../ops/posture-inputs.js';
import { SettingsStore } from '../../../settings/settings-store.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY, type TestCaller } from '../testing/api-harness.test-support.js';
import { postureRoutes } from './posture.js';

const OBSERVER: TestCaller = { name: 'observer', privileges: ['SECURITY_READ'] };

describe('GET /v1/security/posture', () => {
  let app: ApiApp;

  before(async () => {
    app = await openApiHarness(postureRoutes({ posture: settingsPostureInputs(new SettingsStore({ metadata: new MemoryMetadataStore() })) }), [TEST_ADMIN, TEST_NOBODY, OBSERVER]);
  });
  after(async () => app.close());

  it('answers {checks: [{id, title, status, fix}], summary} to SECURITY_READ', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/security/posture', headers: as(OBSERVER) });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.deepEqual(body.checks.map((check: { id: string }) => check.id), POSTURE_CHECK_IDS);
    for (const check of body.checks) {
      assert.ok(['pass', 'fail', 'not_applicable', 'not_available'].includes(check.status));
      assert.equal(typeof check.title, 'string');
      assert.equal(typeof check.fix, 'string');
    }
    assert.equal(body.summary.total, POSTURE_CHECK_IDS.length);
    assert.ok(body.summary.fail >= 1);
  });

  it('refuses callers without a session (401) or without SECURITY_READ (403)', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/posture' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/posture', headers: as(TEST_NOBODY) })).statusCode, 403);
  });
});
