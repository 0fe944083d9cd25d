import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { LoginLockedError, LoginThrottle, addressKey } from './login-throttle.js';

class ManualClock implements Clock {
  constructor(private ms = 1_700_000_000_000) {}
  nowMs(): number {
    return this.ms;
  }
  nowNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
  advanceMs(ms: number): void {
    this.ms += ms;
  }
}

const MINUTE_MS = 60_000;

function lockedFor(throttle: LoginThrottle, attempt: { user: string; address: string }): number | undefined {
  try {
    throttle.check(attempt);
    return undefined;
  } catch (error) {
    // The API's 429 login_locked_error with Retry-After is asserted where it is made (rest/errors.ts,
    // test/management-api.test.ts); here, the lockout and its duration.
    assert.ok(error instanceof LoginLockedError);
    return error.retryAfterSeconds;
  }
}

function failTimes(throttle: LoginThrottle, attempt: { user: string; address: string }, times: number): void {
  for (let index = 0; index < times; index++) throttle.recordFailure(attempt);
}

describe('login throttle', () => {
  it('locks a user out after 5 failures for 15 minutes, then lets it try again', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({ clock });
    const attempt = { user: 'alice', address: '192.0.2.1' };
    failTimes(throttle, attempt, 4);
    assert.equal(lockedFor(throttle, attempt), undefined);
    throttle.recordFailure(attempt);
    assert.equal(lockedFor(throttle, attempt), 15 * 60);
    assert.equal(lockedFor(throttle, { user: 'ALICE', address: '198.51.100.7' }), 15 * 60, 'per user name, case-insensitive, from any address');
    assert.equal(lockedFor(throttle, { user: 'bob', address: '192.0.2.1' }), undefined, 'the address is not locked after 5');
    clock.advanceMs(15 * MINUTE_MS - 1_500);
    assert.equal(lockedFor(throttle, attempt), 2, 'Retry-After rounds up');
    clock.advanceMs(1_500);
    assert.equal(lockedFor(throttle, attempt), undefined);
  });

  it('failures older than the window are forgotten', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({ clock });
    const attempt = { user: 'alice', address: '192.0.2.1' };
    failTimes(throttle, attempt, 4);
    clock.advanceMs(15 * MINUTE_MS);
    failTimes(throttle, attempt, 4);
    assert.equal(lockedFor(throttle, attempt), undefined);
  });

  it('a repeated lockout doubles, up to one hour', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({ clock });
    const attempt = { user: 'alice', address: '192.0.2.1' };
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      failTimes(throttle, attempt, 5);
      const seconds = lockedFor(throttle, attempt);
      assert.ok(seconds !== undefined);
      durations.push(seconds);
      clock.advanceMs(seconds * 1000);
    }
    assert.deepEqual(durations, [15 * 60, 30 * 60, 60 * 60, 60 * 60]);
  });

  it('a success resets the user: its failures and its lockout level', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({ clock });
    const attempt = { user: 'alice', address: '192.0.2.1' };
    failTimes(throttle, attempt, 5);
    clock.advanceMs(15 * MINUTE_MS);
    failTimes(throttle, attempt, 4);
    throttle.recordSuccess(attempt);
    failTimes(throttle, attempt, 4);
    assert.equal(lockedFor(throttle, attempt), undefined);
    throttle.recordFailure(attempt);
    assert.equal(lockedFor(throttle, attempt), 15 * 60, 'back to the first level');
  });

  it('locks an address out after 20 failures across user names, whatever user it tries next', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({ clock });
    for (let index = 0; index < 20; index++) throttle.recordFailure({ user: `user${index}`, address: '203.0.113.9' });
    assert.equal(lockedFor(throttle, { user: 'someone-new', address: '203.0.113.9' }), 15 * 60);
    assert.equal(lockedFor(throttle, { user: 'someone-new', address: '203.0.113.10' }), undefined);
    throttle.recordSuccess({ user: 'user1', address: '203.0.113.9' });
    assert.equal(lockedFor(throttle, { user: 'user1', address: '203.0.113.9' }), 15 * 60, 'a success does not unlock the address');
  });

  it('counts IPv6 addresses per /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    const throttle = new LoginThrottle({ clock: new ManualClock(), addressFailuresMax: 2 });
    throttle.recordFailure({ user: 'a', address: '2001:db8:1:2::1' });
    throttle.recordFailure({ user: 'b', address: '2001:db8:1:2::2' });
    assert.ok(lockedFor(throttle, { user: 'c', address: '2001:db8:1:2::3' }) !== undefined);
  });

  it('holds at most entriesMax keys per map, evicting the least recently touched', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({ clock, entriesMax: 3, userFailuresMax: 2 });
    throttle.recordFailure({ user: 'old', address: '10.0.0.1' });
    throttle.recordFailure({ user: 'old', address: '10.0.0.1' });
    assert.ok(lockedFor(throttle, { user: 'old', address: '10.0.0.9' }) !== undefined);
    for (let index = 0; index < 3; index++) throttle.recordFailure({ user: `new${index}`, address: `10.0.1.${index}` });
    assert.deepEqual(throttle.sizes, { users: 3, addresses: 3 });
    assert.equal(lockedFor(throttle, { user: 'old', address: '10.0.0.9' }), undefined, 'the oldest entry was evicted');
    for (let index = 0; index < 1_000; index++) throttle.recordFailure({ user: `flood${index}`, address: `10.1.${index >> 8}.${index & 255}` });
    assert.deepEqual(throttle.sizes, { users: 3, addresses: 3 });
  });

  it('refuses nonsense limits', () => {
    assert.throws(() => new LoginThrottle({ clock: new ManualClock(), userFailuresMax: 0 }), /assertion failed/);
    assert.throws(() => new LoginThrottle({ clock: new ManualClock(), windowMs: 1.5 }), /assertion failed/);
  });
});
