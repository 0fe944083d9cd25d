import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isFsError } from '../core/errors.js';
import { canDeleteOrShorten, checkLockAllows, LockChallenges, type LockableSnapshot, type LockKey } from './lock-challenges.js';
import { ecdsaKeyPair, ManualClock } from './testing.test-support.js';

const HOUR_NS = 3_600_000_000_000n;

function setUp(options: { challengesMax?: number } = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const pair = ecdsaKeyPair();
  const keys = new Map<string, LockKey>([['1', { id: '1', public_key: pair.publicPem, version: 1 }]]);
  const challenges = new LockChallenges({ clock, randomBytes, findKey: async (id) => keys.get(id), ...options });
  const snapshot: LockableSnapshot = { id: '10', expirationNs: clock.nowNs() + 24n * HOUR_NS, lockKeyId: '1' };
  return { clock, pair, keys, challenges, snapshot };
}

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isFsError(error, 'PermissionDenied') && pattern.test(error.message));
}

describe('lock challenges', () => {
  it('a challenge names the snapshot, its expiration and its key, and is unique', async () => {
    const { challenges, snapshot } = setUp();
    const first = await challenges.issueChallenge(snapshot);
    const second = await challenges.issueChallenge(snapshot);
    assert.match(first, new RegExp(`^enclave-snapshot-unlock:v1:snapshot=10:expiration_ns=${snapshot.expirationNs}:key=1:key_version=1:issued_ms=\\d+:nonce=[A-Za-z0-9_-]{43}$`));
    assert.notEqual(first, second);
  });

  it('unlocks with the signed challenge, once: a replayed signature is refused', async () => {
    const { challenges, snapshot, pair } = setUp();
    const signature = pair.sign(await challenges.issueChallenge(snapshot));
    await challenges.verifyUnlock(snapshot, signature);
    await refused(challenges.verifyUnlock(snapshot, signature), /no unlock challenge is outstanding/);
  });

  it('two concurrent unlocks with one signature: exactly one succeeds', async () => {
    const { challenges, snapshot, pair } = setUp();
    const signature = pair.sign(await challenges.issueChallenge(snapshot));
    const results = await Promise.allSettled([challenges.verifyUnlock(snapshot, signature), challenges.verifyUnlock(snapshot, signature)]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['fulfilled', 'rejected']);
  });

  it('refuses a signature by the wrong key, without spoiling the challenge', async () => {
    const { challenges, snapshot, pair } = setUp();
    const challenge = await challenges.issueChallenge(snapshot);
    await refused(challenges.verifyUnlock(snapshot, ecdsaKeyPair().sign(challenge)), /does not sign an outstanding unlock challenge/);
    await refused(challenges.verifyUnlock(snapshot, 'bm90IGEgc2lnbmF0dXJl'), /does not sign/);
    await challenges.verifyUnlock(snapshot, pair.sign(challenge));
  });

  it('refuses a signature of another snapshot\'s challenge', async () => {
    const { challenges, snapshot, pair } = setUp();
    const other: LockableSnapshot = { ...snapshot, id: '11' };
    const otherSignature = pair.sign(await challenges.issueChallenge(other));
    await challenges.issueChallenge(snapshot);
    await refused(challenges.verifyUnlock(snapshot, otherSignature), /does not sign/);
    await challenges.verifyUnlock(other, otherSignature);
  });

  it('a change of expiration makes the challenge stale', async () => {
    const { challenges, snapshot, pair } = setUp();
    const signature = pair.sign(await challenges.issueChallenge(snapshot));
    const extended = { ...snapshot, expirationNs: (snapshot.expirationNs ?? 0n) + HOUR_NS };
    await refused(challenges.verifyUnlock(extended, signature), /stale: its expiration or lock key changed/);
    await refused(challenges.verifyUnlock(snapshot, signature), /no unlock challenge is outstanding/);
  });

  it('a key rotation makes the challenge stale', async () => {
    const { challenges, snapshot, pair, keys } = setUp();
    const signature = pair.sign(await challenges.issueChallenge(snapshot));
    keys.set('1', { id: '1', public_key: pair.publicPem, version: 2 });
    await refused(challenges.verifyUnlock(snapshot, signature), /stale/);
  });

  it('a challenge expires after ten minutes', async () => {
    const { challenges, snapshot, pair, clock } = setUp();
    const signature = pair.sign(await challenges.issueChallenge(snapshot));
    clock.advance(10 * 60_000);
    await refused(challenges.verifyUnlock(snapshot, signature), /no unlock challenge is outstanding/);
  });

  it('outstanding challenges are bounded, per snapshot and in all', async () => {
    const { challenges, snapshot, pair } = setUp({ challengesMax: 6 });
    const first = await challenges.issueChallenge(snapshot);
    for (let index = 0; index < 4; index++) await challenges.issueChallenge(snapshot);
    assert.equal(challenges.size, 4);
    await refused(challenges.verifyUnlock(snapshot, pair.sign(first)), /does not sign/);
    for (let index = 0; index < 10; index++) await challenges.issueChallenge({ ...snapshot, id: String(100 + index) });
    assert.equal(challenges.size, 6);
  });

  it('an unlocked snapshot has no challenge', async () => {
    const { challenges, snapshot } = setUp();
    await assert.rejects(challenges.issueChallenge({ ...snapshot, lockKeyId: null }), (error: unknown) => isFsError(error, 'Conflict'));
  });
});

describe('lock rule: canDeleteOrShorten', () => {
  const now = 1_000n * HOUR_NS;
  const locked: LockableSnapshot = { id: '1', expirationNs: now + 10n * HOUR_NS, lockKeyId: '3' };
  const lockedForever: LockableSnapshot = { ...locked, expirationNs: null };
  const unlocked: LockableSnapshot = { ...locked, lockKeyId: null };
  const cases: Array<[string, LockableSnapshot, Parameters<typeof canDeleteOrShorten>[1], bigint, boolean]> = [
    ['a locked snapshot cannot be deleted', locked, { kind: 'delete' }, now, false],
    ['a locked snapshot\'s expiration cannot be shortened', locked, { kind: 'set-expiration', expirationNs: now + HOUR_NS }, now, false],
    ['a locked snapshot\'s expiration cannot be removed', locked, { kind: 'set-expiration', expirationNs: null }, now, false],
    ['a locked snapshot\'s expiration can be extended', locked, { kind: 'set-expiration', expirationNs: now + 20n * HOUR_NS }, now, true],
    ['setting the same expiration is allowed', locked, { kind: 'set-expiration', expirationNs: now + 10n * HOUR_NS }, now, true],
    ['a snapshot locked with no expiration cannot be given one', lockedForever, { kind: 'set-expiration', expirationNs: now + HOUR_NS }, now, false],
    ['a locked snapshot still expires on schedule', locked, { kind: 'expire' }, now + 10n * HOUR_NS, true],
    ['a locked snapshot does not expire early', locked, { kind: 'expire' }, now + 10n * HOUR_NS - 1n, false],
    ['a snapshot with no expiration never expires', lockedForever, { kind: 'expire' }, now * 10n, false],
    ['an unlocked snapshot can be deleted', unlocked, { kind: 'delete' }, now, true],
    ['an unlocked snapshot\'s expiration can be shortened', unlocked, { kind: 'set-expiration', expirationNs: now }, now, true],
  ];
  for (const [title, snapshot, change, nowNs, allowed] of cases) {
    it(title, () => {
      assert.equal(canDeleteOrShorten(snapshot, change, nowNs).allowed, allowed);
    });
  }

  it('checkLockAllows throws Locked with the reason', () => {
    assert.throws(() => checkLockAllows(locked, { kind: 'delete' }, now), (error: unknown) => isFsError(error, 'Locked') && /is locked; unlock it/.test(error.message));
  });
});
