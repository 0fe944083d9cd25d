import { isIPv4, isIPv6 } from 'node:net';
import type { Clock } from '../core/clock.js';

/**
 * Login throttling: after repeated failures within a window, a user name or a client address is
 * locked out for a while (OWASP Authentication Cheat Sheet, "account lockout"; NIST SP 800-63B
 * §5.2.2 rate limiting). A lockout that follows an earlier one lasts twice as long, up to
 * `lockoutMaxMs`. A success clears the user's failures and lockout level (not the address's: one
 * attacker address guessing many users stays throttled when it guesses one right).
 *
 * In memory only: a restart forgets every counter, which costs an attacker a restart each time.
 * Every call does a constant amount of work; each map holds at most `entriesMax` keys, the least
 * recently touched evicted first, so a flood of distinct names or addresses costs bounded memory.
 *
 * How a login uses it:
 *   throttle.check({ user, address })          // before verifying; throws LoginLockedError (429)
 *   verified ? throttle.recordSuccess(...) : throttle.recordFailure(...)
 * The route should copy `error.retryAfterSeconds` into a `Retry-After` header.
 */

export const LOGIN_THROTTLE_DEFAULTS = {
  userFailuresMax: 5,
  addressFailuresMax: 20,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
  lockoutMaxMs: 60 * 60_000,
  entriesMax: 100_000,
} as const;

/** Longest user-name key kept; longer names are not valid names and are cut to bound memory. */
const USER_KEY_CHARS_MAX = 64;

/** A locked-out login; the API answers 429 `login_locked_error` with Retry-After (rest/errors.ts). */
export class LoginLockedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed logins; try again in ${retryAfterSeconds} seconds`);
    this.name = 'LoginLockedError';
  }
}

export interface LoginAttempt {
  /** The user name as typed; compared case-insensitively, like user names. */
  readonly user: string;
  /** The client's IP address; IPv6 addresses count per /64, what one host usually holds. */
  readonly address: string;
}

export interface LoginThrottleOptions {
  readonly clock: Clock;
  readonly userFailuresMax?: number;
  readonly addressFailuresMax?: number;
  readonly windowMs?: number;
  readonly lockoutMs?: number;
  readonly lockoutMaxMs?: number;
  readonly entriesMax?: number;
}

interface Counter {
  windowStartMs: number;
  failures: number;
  lockedUntilMs: number;
  /** Lockouts so far; the next lasts lockoutMs * 2^lockouts, capped. */
  lockouts: number;
  lastFailureMs: number;
}

export class LoginThrottle {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #lockoutMs: number;
  readonly #lockoutMaxMs: number;
  readonly #users: BoundedCounters;
  readonly #addresses: BoundedCounters;

  constructor(options: LoginThrottleOptions) {
    const settings = { ...LOGIN_THROTTLE_DEFAULTS, ...withoutUndefined(options) };
    for (const [name, value] of Object.entries(settings)) {
      if (name !== 'clock' && (!Number.isSafeInteger(value) || (value as number) < 1)) throw new Error(`assertion failed: ${name} must be a positive integer`);
    }
    this.#clock = options.clock;
    this.#windowMs = settings.windowMs;
    this.#lockoutMs = settings.lockoutMs;
    this.#lockoutMaxMs = Math.max(settings.lockoutMaxMs, settings.lockoutMs);
    this.#users = new BoundedCounters(settings.userFailuresMax, settings.entriesMax);
    this.#addresses = new BoundedCounters(settings.addressFailuresMax, settings.entriesMax);
  }

  /** Throws LoginLockedError while the user name or the address is locked out. */
  check(attempt: LoginAttempt): void {
    const nowMs = this.#clock.nowMs();
    const untilMs = Math.max(this.#lockedUntil(this.#users, userKey(attempt.user), nowMs), this.#lockedUntil(this.#addresses, addressKey(attempt.address), nowMs));
    if (untilMs > nowMs) throw new LoginLockedError(Math.max(1, Math.ceil((untilMs - nowMs) / 1000)));
  }

  recordFailure(attempt: LoginAttempt): void {
    const nowMs = this.#clock.nowMs();
    this.#fail(this.#users, userKey(attempt.user), nowMs);
    this.#fail(this.#addresses, addressKey(attempt.address), nowMs);
  }

  recordSuccess(attempt: LoginAttempt): void {
    this.#users.delete(userKey(attempt.user));
  }

  /** Keys held, for tests of the bound. */
  get sizes(): { users: number; addresses: number } {
    return { users: this.#users.size, addresses: this.#addresses.size };
  }

  #lockedUntil(counters: BoundedCounters, key: string, nowMs: number): number {
    const counter = counters.peek(key);
    return counter === undefined ? 0 : counter.lockedUntilMs;
  }

  #fail(counters: BoundedCounters, key: string, nowMs: number): void {
    let counter = counters.peek(key);
    // A key quiet for longer than a window plus the longest lockout starts afresh, level included.
    if (counter !== undefined && counter.lockedUntilMs <= nowMs && nowMs - counter.lastFailureMs > this.#windowMs + this.#lockoutMaxMs) counter = undefined;
    counter ??= { windowStartMs: nowMs, failures: 0, lockedUntilMs: 0, lockouts: 0, lastFailureMs: nowMs };
    if (counter.lockedUntilMs > nowMs) {
      // Already locked: the login route refuses before verifying, so this is a racing attempt.
      counter.lastFailureMs = nowMs;
    } else {
      if (nowMs - counter.windowStartMs >= this.#windowMs) {
        counter.windowStartMs = nowMs;
        counter.failures = 0;
      }
      counter.failures += 1;
      counter.lastFailureMs = nowMs;
      if (counter.failures >= counters.failuresMax) {
        counter.lockedUntilMs = nowMs + Math.min(this.#lockoutMaxMs, this.#lockoutMs * 2 ** Math.min(counter.lockouts, 30));
        counter.lockouts += 1;
        counter.failures = 0;
        counter.windowStartMs = nowMs;
      }
    }
    counters.touch(key, counter);
  }
}

/** A Map used as an LRU: re-inserting a key moves it to the end; the first key is the oldest. */
class BoundedCounters {
  readonly #entries = new Map<string, Counter>();

  constructor(
    readonly failuresMax: number,
    readonly entriesMax: number,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  peek(key: string): Counter | undefined {
    return this.#entries.get(key);
  }

  touch(key: string, counter: Counter): void {
    this.#entries.delete(key);
    this.#entries.set(key, counter);
    if (this.#entries.size > this.entriesMax) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

function userKey(user: string): string {
  return user.slice(0, USER_KEY_CHARS_MAX).toLowerCase();
}

/** IPv4-mapped IPv6 as IPv4; other IPv6 addresses by their /64; anything else as given, cut short. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(address)) return address;
  const unscoped = address.split('%')[0] ?? address;
  if (!isIPv6(unscoped)) return address.slice(0, 64);
  const [head = '', tail = ''] = unscoped.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = unscoped.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

function withoutUndefined(options: LoginThrottleOptions): Partial<typeof LOGIN_THROTTLE_DEFAULTS> {
  const { clock: _clock, ...rest } = options;
  return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
}
