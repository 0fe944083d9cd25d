import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FsError, isFsError } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { PolicyScheduler } from './policy-scheduler.js';
import { PolicyStore } from './policy-store.js';
import type { StoredPolicy } from './policy.js';
import { ManualClock } from './testing.test-support.js';

const at = (iso: string) => Date.parse(iso);

function setUp(startIso: string, metadata: MetadataStore = new MemoryMetadataStore()) {
  const clock = new ManualClock(at(startIso));
  const policies = new PolicyStore({
    metadata,
    clock,
    resolveLockKey: async (ref) => {
      if (ref === 'vault' || ref === '1') return { id: '1' };
      throw new FsError('NotFound', `no security key "${ref}"`);
    },
  });
  const taken: Array<{ policy: string; scheduled: string }> = [];
  let failWith: string | undefined;
  const timers: Array<{ delayMs: number }> = [];
  const scheduler = new PolicyScheduler({
    policies,
    clock,
    takeSnapshot: async (policy: StoredPolicy, scheduledMs: number) => {
      if (failWith !== undefined) throw new Error(failWith);
      taken.push({ policy: policy.name, scheduled: new Date(scheduledMs).toISOString() });
      return { id: String(taken.length) };
    },
    setTimer: (_callback, delayMs) => {
      timers.push({ delayMs });
      return timers.length;
    },
    clearTimer: () => undefined,
  });
  return { clock, policies, scheduler, taken, timers, metadata, fail: (message: string | undefined) => (failWith = message) };
}

const hourly = { name: 'hourly', source_path: '/data', schedule: { every: { hours: 1 } }, time_zone: 'America/New_York', ttl: 86_400 };

describe('snapshot policy store', () => {
  it('creates with defaults, resolves the lock key by name, and keeps names unique', async () => {
    const { policies } = setUp('2026-03-01T00:00:00Z');
    const policy = await policies.create({ ...hourly, lock_key_ref: 'vault' });
    assert.equal(policy.id, '1');
    assert.equal(policy.enabled, true);
    assert.equal(policy.lock_key_ref, '1');
    assert.deepEqual(await policies.usagesOf('1'), [{ type: 'snapshot_policy', id: '1' }]);
    await assert.rejects(policies.create(hourly), (error: unknown) => isFsError(error, 'Exists'));
  });

  it('refuses bad input with the field named', async () => {
    const { policies } = setUp('2026-03-01T00:00:00Z');
    const cases: Array<[unknown, RegExp]> = [
      [{ ...hourly, time_zone: 'Mars/Olympus' }, /time_zone "Mars\/Olympus" is not an IANA time zone/],
      [{ ...hourly, schedule: { daily: { at: '25:00' } } }, /schedule.daily.at/],
      [{ ...hourly, schedule: { daily: { at: '01:00' }, weekly: { at: '01:00', days: ['MON'] } } }, /exactly one of every, daily, weekly, monthly \(it has daily, weekly\)/],
      [{ ...hourly, schedule: { monthly: { at: '01:00', day_of_month: 32 } } }, /schedule.monthly.day_of_month/],
      [{ ...hourly, schedule: { weekly: { at: '01:00', days: [] } } }, /schedule.weekly.days/],
      [{ ...hourly, schedule: { weekly: { at: '01:00', days: ['MONDAY'] } } }, /schedule.weekly.days.0 must be one of/],
      [{ ...hourly, schedule: { every: { minutes: 0 } } }, /schedule.every/],
      [{ ...hourly, schedule: { every: { hours: 1 }, window: { start: '09:00', end: '09:00' } } }, /start and end are the same time/],
      [{ ...hourly, source_path: undefined }, /exactly one of source_path and source_file_id/],
      [{ ...hourly, source_path: 'data' }, /absolute path/],
      [{ ...hourly, ttl: 5 }, /snapshot_policy.ttl/],
      [{ ...hourly, lock_key_ref: 'nope' }, /lock_key_ref: no security key "nope"/],
      [{ ...hourly, colour: 'red' }, /colour is not a known field/],
    ];
    for (const [input, pattern] of cases) {
      await assert.rejects(policies.create(input), (error: unknown) => isFsError(error, 'InvalidArgument') && pattern.test(error.message), String(pattern));
    }
  });

  it('PATCH keeps the other fields; PUT takes defaults; a stale If-Match version conflicts', async () => {
    const { policies } = setUp('2026-03-01T00:00:00Z');
    const created = await policies.create({ ...hourly, enabled: false });
    const patched = await policies.update(created.id, { ttl: null });
    assert.equal(patched.ttl, null);
    assert.equal(patched.enabled, false);
    assert.equal(patched.version, 2);
    const replaced = await policies.replace(created.id, { name: 'hourly', source_file_id: '7', schedule: { daily: { at: '03:00' } } });
    assert.equal(replaced.enabled, true);
    assert.equal(replaced.time_zone, 'UTC');
    assert.equal(replaced.source_path, undefined);
    await assert.rejects(policies.update(created.id, { ttl: 600 }, { ifVersion: 1 }), (error: unknown) => isFsError(error, 'Conflict'));
  });
});

describe('policy scheduler', () => {
  it('takes a snapshot at each scheduled run, and sleeps at most a minute', async () => {
    const { clock, policies, scheduler, taken, timers } = setUp('2026-03-01T10:30:00Z');
    await policies.create(hourly);
    await scheduler.start();
    assert.deepEqual(taken, []);
    clock.advance(30 * 60_000);
    await scheduler.tick();
    assert.deepEqual(taken, [{ policy: 'hourly', scheduled: '2026-03-01T11:00:00.000Z' }]);
    await scheduler.tick();
    assert.equal(taken.length, 1);
    assert.ok(timers.length > 0 && timers.every((timer) => timer.delayMs >= 0 && timer.delayMs <= 60_000), JSON.stringify(timers));
    const status = await scheduler.status((await policies.list())[0] as StoredPolicy);
    assert.equal(status.last_run_ms, at('2026-03-01T11:00:00Z'));
    assert.equal(status.next_run_ms, at('2026-03-01T12:00:00Z'));
    assert.equal(status.last_snapshot_id, '1');
    await scheduler.stop();
  });

  it('after downtime, a restart takes one catch-up snapshot, not a burst', async () => {
    const metadata = new MemoryMetadataStore();
    const first = setUp('2026-03-01T10:30:00Z', metadata);
    await first.policies.create(hourly);
    first.clock.advance(30 * 60_000);
    await first.scheduler.tick();
    assert.equal(first.taken.length, 1);
    await first.scheduler.stop();
    // Down for three days, across New York's spring-forward night.
    const second = setUp('2026-03-09T15:10:00Z', metadata);
    await second.scheduler.start();
    assert.deepEqual(second.taken, [{ policy: 'hourly', scheduled: '2026-03-09T15:00:00.000Z' }]);
    await second.scheduler.tick();
    assert.equal(second.taken.length, 1);
    await second.scheduler.stop();
  });

  it('a new policy does not fire for runs before it existed', async () => {
    const { clock, policies, scheduler, taken } = setUp('2026-03-01T10:59:00Z');
    await policies.create({ ...hourly, schedule: { daily: { at: '05:00' } }, time_zone: 'UTC' });
    clock.advance(60_000);
    await scheduler.tick();
    assert.deepEqual(taken, []);
  });

  it('disabled policies do not run, and enabling one does not catch up what it missed meanwhile', async () => {
    const { clock, policies, scheduler, taken } = setUp('2026-03-01T10:30:00Z');
    const policy = await policies.create({ ...hourly, enabled: false });
    clock.advance(5 * 3_600_000);
    await scheduler.tick();
    assert.deepEqual(taken, []);
    assert.equal((await scheduler.status(policy)).next_run_ms, null);
    await policies.update(policy.id, { enabled: true });
    await scheduler.tick();
    assert.deepEqual(taken, []);
    clock.advance(30 * 60_000);
    await scheduler.tick();
    assert.deepEqual(taken, [{ policy: 'hourly', scheduled: '2026-03-01T16:00:00.000Z' }]);
  });

  it('a failed snapshot records its error and is not retried until the next run', async () => {
    const { clock, policies, scheduler, taken, fail } = setUp('2026-03-01T10:30:00Z');
    const policy = await policies.create(hourly);
    fail('source directory is gone');
    clock.advance(30 * 60_000);
    await scheduler.tick();
    await scheduler.tick();
    const status = await scheduler.status(policy);
    assert.equal(status.last_error, 'source directory is gone');
    assert.equal(status.last_run_ms, at('2026-03-01T11:00:00Z'));
    fail(undefined);
    clock.advance(60 * 60_000);
    await scheduler.tick();
    assert.equal(taken.length, 1);
    assert.equal((await scheduler.status(policy)).last_error, null);
  });
});
