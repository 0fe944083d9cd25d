import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Secret, TOTP, URI } from 'otpauth';
import type { Clock } from '../core/clock.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { FAILURES_FREE_MAX, Mfa, MfaError, THROTTLE_BASE_MS } from './mfa.js';
import { MetadataMfaPolicy } from './mfa-policy.js';
import { RECOVERY_CODES_COUNT } from './mfa-secrets.js';

/** A clock the test moves; starts in the middle of a 30-second step. */
class ManualClock implements Clock {
  constructor(public ms = 1_700_000_010_000) {}
  nowMs(): number {
    return this.ms;
  }
  nowNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const STEP_MS = 30_000;
const KEY = new Uint8Array(32).fill(7);

interface Fixture {
  readonly metadata: MemoryMetadataStore;
  readonly clock: ManualClock;
  readonly policy: MetadataMfaPolicy;
  readonly mfa: Mfa;
}

function makeFixture(key: Uint8Array = KEY): Fixture {
  const metadata = new MemoryMetadataStore();
  const clock = new ManualClock();
  const policy = new MetadataMfaPolicy({ metadata });
  return { metadata, clock, policy, mfa: new Mfa({ metadata, clock, key, policy }) };
}

function codeAt(secretBase32: string, timestampMs: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secretBase32), timestamp: timestampMs });
}

/** Enrols and confirms `userId`; returns the secret and the recovery codes. */
async function enable(fixture: Fixture, userId = 'user-1'): Promise<{ secretBase32: string; recoveryCodes: string[] }> {
  const { secretBase32 } = await fixture.mfa.enroll({ userId, userName: 'alice' });
  const { recoveryCodes } = await fixture.mfa.confirm({ userId, code: codeAt(secretBase32, fixture.clock.nowMs()) });
  return { secretBase32, recoveryCodes };
}

/** Every value stored in the store, as one latin1 string, to look for plaintext in. */
async function dumpStore(metadata: MetadataStore): Promise<Buffer> {
  const entries = await metadata.read((tx) => tx.scan({ start: new Uint8Array([0]), end: new Uint8Array([0xff]), limit: 10_000 }));
  return Buffer.concat(entries.flatMap((entry) => [Buffer.from(entry.key), Buffer.from(entry.value)]));
}

function mfaErrorWith(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof MfaError, `expected MfaError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

describe('MFA enrolment', () => {
  it('enrol answers an otpauth URI for Enclave with SHA1, 6 digits, 30 s and a 160-bit secret', async () => {
    const { mfa } = makeFixture();
    const enrolment = await mfa.enroll({ userId: 'user-1', userName: 'alice' });
    const parsed = URI.parse(enrolment.otpauthUri);
    assert.ok(parsed instanceof TOTP);
    assert.match(enrolment.otpauthUri, /^otpauth:\/\/totp\/Enclave:alice\?/);
    assert.equal(parsed.issuer, 'Enclave');
    assert.equal(parsed.label, 'alice');
    assert.equal(parsed.algorithm, 'SHA1');
    assert.equal(parsed.digits, 6);
    assert.equal(parsed.period, 30);
    assert.equal(parsed.secret.base32, enrolment.secretBase32);
    assert.equal(parsed.secret.bytes.length, 20);
    assert.deepEqual(await mfa.status('user-1'), { enabled: false, pending: true, recoveryCodesLeft: 0 });
  });

  it('two enrolments get different secrets, and the second replaces the first', async () => {
    const fixture = makeFixture();
    const first = await fixture.mfa.enroll({ userId: 'user-1', userName: 'alice' });
    const second = await fixture.mfa.enroll({ userId: 'user-1', userName: 'alice' });
    assert.notEqual(first.secretBase32, second.secretBase32);
    await assert.rejects(fixture.mfa.confirm({ userId: 'user-1', code: codeAt(first.secretBase32, fixture.clock.nowMs()) }), mfaErrorWith('InvalidCode'));
    await fixture.mfa.confirm({ userId: 'user-1', code: codeAt(second.secretBase32, fixture.clock.nowMs()) });
    assert.equal((await fixture.mfa.status('user-1')).enabled, true);
  });

  it('confirm with the current code enables MFA and answers 10 distinct recovery codes', async () => {
    const fixture = makeFixture();
    const { recoveryCodes } = await enable(fixture);
    assert.equal(recoveryCodes.length, RECOVERY_CODES_COUNT);
    assert.equal(new Set(recoveryCodes).size, RECOVERY_CODES_COUNT);
    for (const code of recoveryCodes) assert.match(code, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    assert.deepEqual(await fixture.mfa.status('user-1'), { enabled: true, pending: false, recoveryCodesLeft: 10 });
  });

  it('confirm with a wrong code fails with InvalidCode and leaves the enrolment pending', async () => {
    const fixture = makeFixture();
    const { secretBase32 } = await fixture.mfa.enroll({ userId: 'user-1', userName: 'alice' });
    const right = codeAt(secretBase32, fixture.clock.nowMs());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    await assert.rejects(fixture.mfa.confirm({ userId: 'user-1', code: wrong }), mfaErrorWith('InvalidCode'));
    assert.deepEqual(await fixture.mfa.status('user-1'), { enabled: false, pending: true, recoveryCodesLeft: 0 });
  });

  it('confirm without an enrolment fails with NotPending; enrolling again once enabled fails with AlreadyEnabled', async () => {
    const fixture = makeFixture();
    await assert.rejects(fixture.mfa.confirm({ userId: 'user-1', code: '123456' }), mfaErrorWith('NotPending'));
    await enable(fixture);
    await assert.rejects(fixture.mfa.enroll({ userId: 'user-1', userName: 'alice' }), mfaErrorWith('AlreadyEnabled'));
    await assert.rejects(fixture.mfa.confirm({ userId: 'user-1', code: '123456' }), mfaErrorWith('NotPending'));
  });
});

describe('MFA verification', () => {
  it('a code is refused when replayed in the same step, and an older step after a newer one', async () => {
    const fixture = makeFixture();
    const { secretBase32 } = await enable(fixture);
    const confirmedWith = codeAt(secretBase32, fixture.clock.nowMs());
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', confirmedWith), 'invalid', 'the confirming code is used up');
    fixture.clock.advance(STEP_MS);
    const next = codeAt(secretBase32, fixture.clock.nowMs());
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', next), 'totp');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', next), 'invalid', 'replay of the same step');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', confirmedWith), 'invalid', 'an older step of the window');
  });

  it('accepts codes one step either side of now, and refuses two steps away', async () => {
    const fixture = makeFixture();
    const { secretBase32 } = await enable(fixture);
    fixture.clock.advance(10 * STEP_MS);
    const now = fixture.clock.nowMs();
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', codeAt(secretBase32, now - 2 * STEP_MS)), 'invalid');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', codeAt(secretBase32, now - STEP_MS)), 'totp');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', codeAt(secretBase32, now + 2 * STEP_MS)), 'invalid');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', codeAt(secretBase32, now + STEP_MS)), 'totp');
  });

  it('a recovery code works once, in any case and without hyphens', async () => {
    const fixture = makeFixture();
    const { recoveryCodes } = await enable(fixture);
    const [first, second] = recoveryCodes as [string, string];
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', first), 'recovery-code');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', first), 'invalid');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', second.toUpperCase().replaceAll('-', '')), 'recovery-code');
    assert.equal((await fixture.mfa.status('user-1')).recoveryCodesLeft, 8);
  });

  it('recovery codes belong to their user', async () => {
    const fixture = makeFixture();
    const alice = await enable(fixture, 'user-1');
    await enable(fixture, 'user-2');
    assert.equal(await fixture.mfa.verifySecondFactor('user-2', alice.recoveryCodes[0] as string), 'invalid');
  });

  it('a user without MFA is not-enabled, whatever the code', async () => {
    const fixture = makeFixture();
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', '123456'), 'not-enabled');
    await fixture.mfa.enroll({ userId: 'user-1', userName: 'alice' });
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', '123456'), 'not-enabled');
  });

  it(`after ${FAILURES_FREE_MAX} wrong codes even the right one waits, then works`, async () => {
    const fixture = makeFixture();
    const { secretBase32 } = await enable(fixture);
    fixture.clock.advance(STEP_MS);
    const right = codeAt(secretBase32, fixture.clock.nowMs());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    for (let attempt = 0; attempt < FAILURES_FREE_MAX; attempt++) assert.equal(await fixture.mfa.verifySecondFactor('user-1', wrong), 'invalid');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', right), 'throttled');
    fixture.clock.advance(THROTTLE_BASE_MS);
    const later = codeAt(secretBase32, fixture.clock.nowMs());
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', later), 'totp');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', wrong), 'invalid', 'a success resets the count');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', codeAt(secretBase32, fixture.clock.nowMs() + STEP_MS)), 'totp');
  });
});

describe('MFA secrets at rest', () => {
  it('the store holds neither the TOTP secret (raw or base32) nor any recovery code', async () => {
    const fixture = makeFixture();
    const { secretBase32, recoveryCodes } = await enable(fixture);
    const dump = await dumpStore(fixture.metadata);
    assert.ok(dump.length > 0);
    const rawSecret = Buffer.from(Secret.fromBase32(secretBase32).bytes);
    assert.equal(dump.indexOf(rawSecret), -1, 'raw secret');
    assert.equal(dump.indexOf(Buffer.from(rawSecret.toString('base64'))), -1, 'base64 secret');
    assert.equal(dump.indexOf(Buffer.from(rawSecret.toString('hex'))), -1, 'hex secret');
    const text = dump.toString('latin1').toLowerCase();
    assert.ok(!text.includes(secretBase32.toLowerCase()), 'base32 secret');
    for (const code of recoveryCodes) {
      assert.ok(!text.includes(code), `recovery code ${code}`);
      assert.ok(!text.includes(code.replaceAll('-', '')), `normalised recovery code ${code}`);
    }
  });

  it('a secret cannot be opened with another key, nor when moved to another user', async () => {
    const fixture = makeFixture();
    await enable(fixture);
    const otherKey = new Mfa({ metadata: fixture.metadata, clock: fixture.clock, key: randomBytes(32), policy: fixture.policy });
    await assert.rejects(otherKey.verifySecondFactor('user-1', '123456'), /cannot be decrypted/);
    await fixture.metadata.write(async (tx) => {
      const [record] = await tx.scan({ start: new Uint8Array([0x20, 0x18]), end: new Uint8Array([0x20, 0x19]), limit: 1 });
      assert.ok(record);
      const movedKey = Buffer.concat([Buffer.from([0x20, 0x18]), Buffer.from('user-2'), Buffer.from([0, 1])]);
      tx.put(movedKey, record.value);
    });
    assert.equal((await fixture.mfa.status('user-2')).enabled, true);
    await assert.rejects(fixture.mfa.verifySecondFactor('user-2', '123456'), /cannot be decrypted/);
  });

  it('a key that is not 32 bytes is a programmer error', () => {
    assert.throws(() => makeFixture(new Uint8Array(16)), /assertion failed/);
  });
});

describe('MFA disable, reset and new recovery codes', () => {
  it('disable takes a valid code; a wrong one is refused', async () => {
    const fixture = makeFixture();
    const { secretBase32 } = await enable(fixture);
    await assert.rejects(fixture.mfa.disable({ userId: 'user-1', code: '000000' === codeAt(secretBase32, fixture.clock.nowMs()) ? '111111' : '000000' }), mfaErrorWith('InvalidCode'));
    fixture.clock.advance(STEP_MS);
    await fixture.mfa.disable({ userId: 'user-1', code: codeAt(secretBase32, fixture.clock.nowMs()) });
    assert.deepEqual(await fixture.mfa.status('user-1'), { enabled: false, pending: false, recoveryCodesLeft: 0 });
    await assert.rejects(fixture.mfa.disable({ userId: 'user-1', code: '123456' }), mfaErrorWith('NotEnabled'));
  });

  it('disable takes a recovery code too, and is refused while the policy requires MFA', async () => {
    const fixture = makeFixture();
    const { recoveryCodes } = await enable(fixture);
    await fixture.policy.setRequired(true);
    await assert.rejects(fixture.mfa.disable({ userId: 'user-1', code: recoveryCodes[0] as string }), mfaErrorWith('RequiredByPolicy'));
    assert.equal((await fixture.mfa.status('user-1')).recoveryCodesLeft, 10, 'the refused call consumed nothing');
    await fixture.policy.setRequired(false);
    await fixture.mfa.disable({ userId: 'user-1', code: recoveryCodes[0] as string });
    assert.equal((await fixture.mfa.status('user-1')).enabled, false);
  });

  it('an administrator reset removes the factor in any state', async () => {
    const fixture = makeFixture();
    await enable(fixture);
    assert.deepEqual(await fixture.mfa.reset('user-1'), { removed: true });
    assert.deepEqual(await fixture.mfa.status('user-1'), { enabled: false, pending: false, recoveryCodesLeft: 0 });
    assert.deepEqual(await fixture.mfa.reset('user-1'), { removed: false });
    assert.equal((await dumpStore(fixture.metadata)).length, 0);
  });

  it('new recovery codes replace the old ones', async () => {
    const fixture = makeFixture();
    const { secretBase32, recoveryCodes: old } = await enable(fixture);
    fixture.clock.advance(STEP_MS);
    const { recoveryCodes } = await fixture.mfa.regenerateRecoveryCodes({ userId: 'user-1', code: codeAt(secretBase32, fixture.clock.nowMs()) });
    assert.equal(recoveryCodes.length, 10);
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', old[1] as string), 'invalid');
    assert.equal(await fixture.mfa.verifySecondFactor('user-1', recoveryCodes[1] as string), 'recovery-code');
    await assert.rejects(fixture.mfa.regenerateRecoveryCodes({ userId: 'user-1', code: old[2] as string }), mfaErrorWith('InvalidCode'));
  });
});

describe('MFA policy and the login rule', () => {
  it('the policy is off on a fresh instance and keeps what is set', async () => {
    const { policy, metadata } = makeFixture();
    assert.equal(await policy.isRequired(), false);
    await policy.setRequired(true);
    assert.equal(await policy.isRequired(), true);
    assert.equal(await new MetadataMfaPolicy({ metadata }).isRequired(), true, 'stored, not cached');
    await policy.setRequired(false);
    assert.equal(await policy.isRequired(), false);
  });

  it('a user with MFA must give a valid code: missing, invalid, ok', async () => {
    const fixture = makeFixture();
    const { secretBase32 } = await enable(fixture);
    fixture.clock.advance(STEP_MS);
    const user = { id: 'user-1' };
    assert.equal(await fixture.mfa.secondFactorRequirement(user), 'missing');
    assert.equal(await fixture.mfa.secondFactorRequirement(user, ''), 'missing');
    const right = codeAt(secretBase32, fixture.clock.nowMs());
    assert.equal(await fixture.mfa.secondFactorRequirement(user, right === '000000' ? '111111' : '000000'), 'invalid');
    assert.equal(await fixture.mfa.secondFactorRequirement(user, right), 'ok');
    assert.equal(await fixture.mfa.secondFactorRequirement(user, right), 'invalid', 'replayed');
  });

  it('a user with MFA is asked for it whether or not the policy requires it', async () => {
    const fixture = makeFixture();
    await enable(fixture);
    await fixture.policy.setRequired(true);
    assert.equal(await fixture.mfa.secondFactorRequirement({ id: 'user-1' }), 'missing');
  });

  it('a user without MFA: enrolment-required under the policy (pending counts as without), ok otherwise', async () => {
    const fixture = makeFixture();
    assert.equal(await fixture.mfa.secondFactorRequirement({ id: 'user-1' }), 'ok');
    assert.equal(await fixture.mfa.secondFactorRequirement({ id: 'user-1' }, '123456'), 'ok');
    await fixture.policy.setRequired(true);
    assert.equal(await fixture.mfa.secondFactorRequirement({ id: 'user-1' }), 'enrolment-required');
    await fixture.mfa.enroll({ userId: 'user-1', userName: 'alice' });
    assert.equal(await fixture.mfa.secondFactorRequirement({ id: 'user-1' }, '123456'), 'enrolment-required');
  });
});
