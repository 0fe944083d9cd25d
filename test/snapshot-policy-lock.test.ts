import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { ManualClock } from '../src/core/testing/core-fixture.test-support.js';
import { openInstance, type Instance } from '../src/main.js';
import { openManagement, type Management } from '../src/management.js';
import { createLogger } from '../src/ops/logger.js';
import type { ApiApp } from '../src/protocols/rest/route.js';
import { as, openApiHarness, TEST_ADMIN } from '../src/protocols/rest/testing/api-harness.test-support.js';
import { ecdsaKeyPair } from '../src/snapshots/testing.test-support.js';

/**
 * A policy with a lock key and a time to live, run by the server's own scheduler (management.ts,
 * policy-scheduler.ts) on an injected clock: the run takes a snapshot that is locked with the key
 * and expires at the scheduled time plus the TTL; nobody can delete it early; it still expires.
 */
const logger = createLogger({ level: 'silent' });
const silent = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
const MINUTE_MS = 60_000;
const TTL_SECONDS = 3_600;

describe('a scheduled policy run with a lock key and a TTL', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-policy-lock-'));
  const clock = new ManualClock();
  let instance: Instance;
  let management: Management;
  let app: ApiApp;
  const admin = as(TEST_ADMIN);

  before(async () => {
    const config = { ...testConfig(), dataDir: join(scratch, 'data'), logLevel: 'silent' as const };
    instance = await openInstance(config, logger, { environment: { ENCLAVE_ADMIN_PASSWORD: 'Policy-Lock-Password-31' }, stdout: silent(), clock });
    management = await openManagement(instance, config, logger);
    app = await openApiHarness(management.routes, [TEST_ADMIN]);
    const ctx = systemContext(logger);
    await instance.fileSystem.mkdir(ctx, await instance.fileSystem.root(ctx), 'vault-data');
  });
  after(async () => {
    await app.close();
    await management.close();
    await instance.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('produces a locked snapshot expiring at the scheduled time plus the TTL, which cannot be deleted early and still expires', async () => {
    const pair = ecdsaKeyPair();
    const key = await app.inject({ method: 'POST', url: '/v1/security/keys', headers: admin, payload: { name: 'vault', public_key: pair.publicPem, verification_signature: pair.sign('vault') } });
    assert.equal(key.statusCode, 201, key.body);
    const keyId = key.json().id as string;
    const created = await app.inject({
      method: 'POST',
      url: '/v1/snapshots/policies',
      headers: admin,
      payload: { name: 'quarter-hourly', source_path: '/vault-data', schedule: { every: { minutes: 15 } }, ttl: TTL_SECONDS, lock_key_ref: 'vault' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const policyId = created.json().id as string;
    await management.policyScheduler.tick();
    assert.equal(instance.fileSystem.listSnapshots().length, 0, 'a new policy does not fire for runs before it existed');

    clock.advanceMs(16 * MINUTE_MS);
    await management.policyScheduler.tick();
    const { entries } = (await app.inject({ method: 'GET', url: '/v1/snapshots', headers: admin })).json() as { entries: Array<{ id: number; locked: boolean; lock_key_id: string | null; expiration: string | null; created_by: string }> };
    assert.equal(entries.length, 1);
    const [snapshot] = entries as [(typeof entries)[number]];
    const status = (await app.inject({ method: 'GET', url: `/v1/snapshots/policies/${policyId}/status`, headers: admin })).json() as { last_run: string; last_snapshot_id: string | number; last_error: string | null };
    assert.equal(status.last_error, null);
    assert.equal(String(status.last_snapshot_id), String(snapshot.id));
    assert.deepEqual(
      { locked: snapshot.locked, lock_key_id: snapshot.lock_key_id, created_by: snapshot.created_by, expiration: snapshot.expiration },
      { locked: true, lock_key_id: keyId, created_by: `policy:${policyId}`, expiration: new Date(Date.parse(status.last_run) + TTL_SECONDS * 1_000).toISOString() },
    );
    assert.ok(Date.parse(status.last_run) <= clock.nowMs() && Date.parse(status.last_run) > clock.nowMs() - 16 * MINUTE_MS, 'the run served is the one that fell due');

    const refused = await app.inject({ method: 'DELETE', url: `/v1/snapshots/${snapshot.id}`, headers: admin });
    assert.equal(refused.statusCode, 423, refused.body);
    const shortened = await app.inject({ method: 'PATCH', url: `/v1/snapshots/${snapshot.id}`, headers: admin, payload: { expiration: new Date(clock.nowMs() + MINUTE_MS).toISOString() } });
    assert.equal(shortened.statusCode, 423, shortened.body);

    // A locked snapshot still expires on schedule (core's expirer runs with the collector).
    clock.advanceMs(TTL_SECONDS * 1_000 + MINUTE_MS);
    await instance.fileSystem.maintenance.collectGarbage();
    assert.ok(!instance.fileSystem.listSnapshots().some((entry) => entry.id === snapshot.id), 'expired and deleted');
  });
});
