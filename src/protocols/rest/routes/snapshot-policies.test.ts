import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../../../core/errors.js';
import { PolicyScheduler } from '../../../snapshots/policy-scheduler.js';
import { PolicyStore } from '../../../snapshots/policy-store.js';
import { ManualClock } from '../../../snapshots/testing.test-support.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY, type TestCaller } from '../testing/api-harness.test-support.js';
import { snapshotPolicyRoutes } from './snapshot-policies.js';

const READER: TestCaller = { name: 'reader', privileges: ['SNAPSHOT_READ'] };
const daily = { name: 'nightly', source_path: '/data', schedule: { daily: { at: '02:30' } }, time_zone: 'America/New_York', ttl: 604_800 };

describe('snapshot policy routes', () => {
  let app: ApiApp;
  const admin = as(TEST_ADMIN);
  const clock = new ManualClock(Date.parse('2026-03-07T12:00:00Z'));

  before(async () => {
    const policies = new PolicyStore({
      metadata: new MemoryMetadataStore(),
      clock,
      resolveLockKey: async (ref) => {
        if (ref === 'vault') return { id: '1' };
        throw new FsError('NotFound', `no security key "${ref}"`);
      },
    });
    const scheduler = new PolicyScheduler({ policies, clock, takeSnapshot: async () => ({ id: '1' }) });
    app = await openApiHarness(snapshotPolicyRoutes({ policies, scheduler }), [TEST_ADMIN, TEST_NOBODY, READER]);
  });
  after(async () => app.close());

  it('POST creates, GET lists and reads with an ETag, status names the next run', async () => {
    const created = await app.inject({ method: 'POST', url: '/v1/snapshots/policies', headers: admin, payload: { ...daily, lock_key_ref: 'vault' } });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers.etag, '"1"');
    assert.equal(created.json().lock_key_ref, '1');
    assert.equal(created.json().enabled, true);
    const id = created.json().id as string;
    assert.equal((await app.inject({ method: 'GET', url: '/v1/snapshots/policies', headers: as(READER) })).json().entries.length, 1);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/snapshots/policies/${id}`, headers: admin })).json().name, 'nightly');
    const status = await app.inject({ method: 'GET', url: `/v1/snapshots/policies/${id}/status`, headers: as(READER) });
    assert.deepEqual(status.json(), { id, enabled: true, last_run: null, last_attempt: null, last_error: null, last_snapshot_id: null, next_run: '2026-03-08T07:00:00.000Z' });
  });

  it('PATCH changes some fields, PUT the whole policy, If-Match guards both, DELETE removes', async () => {
    const id = (await app.inject({ method: 'POST', url: '/v1/snapshots/policies', headers: admin, payload: { ...daily, name: 'edit-me' } })).json().id as string;
    const patched = await app.inject({ method: 'PATCH', url: `/v1/snapshots/policies/${id}`, headers: { ...admin, 'if-match': '"1"' }, payload: { enabled: false } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().ttl, 604_800);
    assert.equal(patched.json().enabled, false);
    const stale = await app.inject({ method: 'PUT', url: `/v1/snapshots/policies/${id}`, headers: { ...admin, 'if-match': '"1"' }, payload: { ...daily, name: 'edit-me' } });
    assert.equal(stale.statusCode, 412);
    const put = await app.inject({ method: 'PUT', url: `/v1/snapshots/policies/${id}`, headers: admin, payload: { name: 'edit-me', source_file_id: '9', schedule: { monthly: { at: '00:00', day_of_month: 31 } } } });
    assert.equal(put.json().time_zone, 'UTC');
    assert.equal(put.json().source_file_id, '9');
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/snapshots/policies/${id}`, headers: admin })).statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/snapshots/policies/${id}`, headers: admin })).statusCode, 404);
  });

  it('invalid policies answer 400 naming the problem', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...daily, name: 'tz', time_zone: 'Not/AZone' }, /not an IANA time zone/],
      [{ ...daily, name: 'sched', schedule: { hourly: 1 } }, /exactly one of every, daily, weekly, monthly/],
      [{ ...daily, name: 'key', lock_key_ref: 'missing' }, /lock_key_ref: no security key/],
      [{ ...daily, name: 'extra', private_key: 'x' }, /private_key is not a known field/],
    ];
    for (const [payload, pattern] of cases) {
      const response = await app.inject({ method: 'POST', url: '/v1/snapshots/policies', headers: admin, payload: payload as object });
      assert.equal(response.statusCode, 400, response.body);
      assert.match(response.json().description, pattern);
    }
  });

  it('needs SNAPSHOT_READ to read and SNAPSHOT_WRITE to change', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/snapshots/policies', headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/snapshots/policies', headers: as(READER), payload: daily })).statusCode, 403);
  });
});
