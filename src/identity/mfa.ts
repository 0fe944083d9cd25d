import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore, ReadTransaction, WriteTransaction } from '../storage/metadata/metadata-store.js';
import { key } from '../storage/metadata/tuple.js';
import type { MfaPolicy } from './mfa-policy.js';
import {
  RECOVERY_CODES_COUNT,
  TOTP_SECRET_BYTES,
  deriveMfaKeys,
  findHash,
  generateRecoveryCode,
  hashRecoveryCode,
  matchTotpStep,
  normalizeRecoveryCode,
  openSecret,
  sealSecret,
  totpUri,
  type MfaKeys,
  type RandomBytes,
  type SealedSecret,
} from './mfa-secrets.js';

/**
 * Native multi-factor authentication: TOTP (RFC 6238) with single-use recovery codes.
 *
 * Layout (sub-tags 0x18-0x1b of Keyspace.identity belong to MFA):
 *   [identity, 0x18, user id] -> factor record (JSON): state pending | enabled, the TOTP secret
 *                                sealed with AES-256-GCM, the last TOTP step used, failure count
 *   [identity, 0x19, user id] -> recovery codes (JSON): HMAC-SHA256 hashes of the unused codes
 *   [identity, 0x1a]          -> reserved
 *   [identity, 0x1b]          -> the MFA policy (mfa-policy.ts)
 * No record means no MFA (state none).
 *
 * Guessing: a wrong code (TOTP or recovery) counts as a failure; after FAILURES_FREE_MAX failures
 * in a row every attempt must wait, doubling from THROTTLE_BASE_MS up to THROTTLE_MAX_MS, so an
 * attacker who has the password gets about 24 guesses a day at a one-in-333,333 chance each
 * (RFC 4226 §7.3 asks for throttling). A success resets the count.
 */

const FACTOR_RECORD = 0x18;
const RECOVERY_CODES_RECORD = 0x19;

export const FAILURES_FREE_MAX = 5;
export const THROTTLE_BASE_MS = 60_000;
export const THROTTLE_MAX_MS = 60 * 60_000;

export type MfaErrorCode = 'InvalidCode' | 'Throttled' | 'NotEnabled' | 'AlreadyEnabled' | 'NotPending' | 'RequiredByPolicy';

/** An expected MFA failure; the REST layer maps each code to a status (routes/mfa.ts). */
export class MfaError extends Error {
  constructor(
    readonly code: MfaErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MfaError';
  }
}

export interface MfaStatus {
  readonly enabled: boolean;
  readonly pending: boolean;
  readonly recoveryCodesLeft: number;
}

/** What a presented code did: accepted as a TOTP or a (now consumed) recovery code, or not. */
export type SecondFactorOutcome = 'totp' | 'recovery-code' | 'invalid' | 'throttled' | 'not-enabled';

/** What the login route must do about the second factor (see secondFactorRequirement). */
export type SecondFactorRequirement = 'ok' | 'missing' | 'invalid' | 'enrolment-required';

export interface MfaOptions {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /** 32 bytes from the instance keyring; never stored in the metadata store. */
  readonly key: Uint8Array;
  readonly policy: MfaPolicy;
  readonly randomBytes?: RandomBytes;
}

interface FactorRecord {
  readonly state: 'pending' | 'enabled';
  readonly secret: SealedSecret;
  /** The last TOTP step accepted; a code of this step or an earlier one is a replay. */
  readonly lastUsedStep: number;
  readonly failures: number;
  readonly throttledUntilMs: number;
  readonly createdAtMs: number;
}

interface RecoveryCodesRecord {
  readonly hashes: readonly string[];
}

export class Mfa {
  readonly #metadata: MetadataStore;
  readonly #clock: Clock;
  readonly #keys: MfaKeys;
  readonly #policy: MfaPolicy;
  readonly #randomBytes: RandomBytes;

  constructor(options: MfaOptions) {
    this.#metadata = options.metadata;
    this.#clock = options.clock;
    this.#keys = deriveMfaKeys(options.key);
    this.#policy = options.policy;
    this.#randomBytes = options.randomBytes ?? cryptoRandomBytes;
  }

  async status(userId: string): Promise<MfaStatus> {
    return this.#metadata.read(async (tx) => {
      const record = await readFactor(tx, userId);
      const codes = await readRecoveryCodes(tx, userId);
      return { enabled: record?.state === 'enabled', pending: record?.state === 'pending', recoveryCodesLeft: codes.hashes.length };
    });
  }

  /**
   * Starts (or restarts) enrolment with a new secret; a pending one is replaced. Fails with
   * AlreadyEnabled when MFA is on: disabling first takes a valid code, so a stolen session cannot
   * swap the factor.
   */
  async enroll(options: { userId: string; userName: string }): Promise<{ otpauthUri: string; secretBase32: string }> {
    const secret = this.#randomBytes(TOTP_SECRET_BYTES);
    const sealed = sealSecret({ key: this.#keys.secretEncryption, userId: options.userId, secret, randomBytes: this.#randomBytes });
    await this.#metadata.write(async (tx) => {
      const existing = await readFactor(tx, options.userId);
      if (existing?.state === 'enabled') throw new MfaError('AlreadyEnabled', 'MFA is already enabled; disable it first');
      const record: FactorRecord = { state: 'pending', secret: sealed, lastUsedStep: -1, failures: 0, throttledUntilMs: 0, createdAtMs: this.#clock.nowMs() };
      putFactor(tx, options.userId, record);
    });
    return totpUri({ secret, userName: options.userName });
  }

  /** Completes enrolment with a current code from the app; returns the recovery codes, once. */
  async confirm(options: { userId: string; code: string }): Promise<{ recoveryCodes: string[] }> {
    const codes = this.#newRecoveryCodes(options.userId);
    const outcome = await this.#metadata.write(async (tx) => {
      const record = await readFactor(tx, options.userId);
      if (record?.state !== 'pending') throw new MfaError('NotPending', 'no MFA enrolment is pending; start one first');
      // Only a TOTP can confirm: the point is to prove the app holds the secret.
      const checked = this.#checkCode({ userId: options.userId, record, code: options.code, recoveryHashes: [] });
      const enabled = checked.outcome === 'totp';
      putFactor(tx, options.userId, enabled ? { ...checked.record, state: 'enabled' } : checked.record);
      if (enabled) putRecoveryCodes(tx, options.userId, codes.hashes);
      return checked.outcome;
    });
    throwUnlessAccepted(outcome);
    return { recoveryCodes: codes.plain };
  }

  /**
   * The login check: accepts a current TOTP (±1 step, each step once) or an unused recovery code,
   * which is consumed. Never throws for a wrong code; the outcome says what happened.
   */
  async verifySecondFactor(userId: string, code: string): Promise<SecondFactorOutcome> {
    return this.#metadata.write(async (tx) => {
      const record = await readFactor(tx, userId);
      if (record?.state !== 'enabled') return 'not-enabled';
      return this.#checkAndRecord(tx, userId, record, code);
    });
  }

  /**
   * The rule of the login route: a user with MFA must give a valid code; a user without MFA on an
   * instance whose policy requires it gets 'enrolment-required' (the login route then issues a
   * session limited to SELF routes, so the user can enrol and nothing else). A throttled user gets
   * 'invalid': the login answer must not tell a password guesser more.
   */
  async secondFactorRequirement(user: { readonly id: string }, totp?: string): Promise<SecondFactorRequirement> {
    const status = await this.status(user.id);
    if (status.enabled) {
      if (totp === undefined || totp === '') return 'missing';
      const outcome = await this.verifySecondFactor(user.id, totp);
      return outcome === 'totp' || outcome === 'recovery-code' ? 'ok' : 'invalid';
    }
    return (await this.#policy.isRequired()) ? 'enrolment-required' : 'ok';
  }

  /** Turns MFA off with a valid code. Refused while the policy requires MFA (RequiredByPolicy). */
  async disable(options: { userId: string; code: string }): Promise<void> {
    if (await this.#policy.isRequired()) {
      throw new MfaError('RequiredByPolicy', 'MFA is required for every management user on this instance; it cannot be turned off');
    }
    const outcome = await this.#metadata.write(async (tx) => {
      const record = await readFactor(tx, options.userId);
      if (record?.state !== 'enabled') throw new MfaError('NotEnabled', 'MFA is not enabled');
      const checked = await this.#checkAndRecord(tx, options.userId, record, options.code);
      if (isAccepted(checked)) deleteAll(tx, options.userId);
      return checked;
    });
    throwUnlessAccepted(outcome);
  }

  /** Replaces every recovery code with new ones, after a valid code (TOTP or recovery). */
  async regenerateRecoveryCodes(options: { userId: string; code: string }): Promise<{ recoveryCodes: string[] }> {
    const codes = this.#newRecoveryCodes(options.userId);
    const outcome = await this.#metadata.write(async (tx) => {
      const record = await readFactor(tx, options.userId);
      if (record?.state !== 'enabled') throw new MfaError('NotEnabled', 'MFA is not enabled');
      const checked = await this.#checkAndRecord(tx, options.userId, record, options.code);
      if (isAccepted(checked)) putRecoveryCodes(tx, options.userId, codes.hashes);
      return checked;
    });
    throwUnlessAccepted(outcome);
    return { recoveryCodes: codes.plain };
  }

  /** An administrator's reset (lost phone): removes the factor in any state. Idempotent. */
  async reset(userId: string): Promise<{ removed: boolean }> {
    return this.#metadata.write(async (tx) => {
      const removed = (await readFactor(tx, userId)) !== undefined;
      deleteAll(tx, userId);
      return { removed };
    });
  }

  /**
   * Checks `code` for an enabled factor and writes the consequences into `tx`: the step used, the
   * recovery code consumed, the failure count. The caller's transaction commits them even when
   * the code was wrong, so failures count.
   */
  async #checkAndRecord(tx: WriteTransaction, userId: string, record: FactorRecord, code: string): Promise<SecondFactorOutcome> {
    const recoveryHashes = (await readRecoveryCodes(tx, userId)).hashes;
    const checked = this.#checkCode({ userId, record, code, recoveryHashes });
    putFactor(tx, userId, checked.record);
    if (checked.recoveryHashes !== recoveryHashes) putRecoveryCodes(tx, userId, checked.recoveryHashes);
    return checked.outcome;
  }

  /** Pure: the outcome of `code`, and the records as they must be after it. */
  #checkCode(options: { userId: string; record: FactorRecord; code: string; recoveryHashes: readonly string[] }): {
    outcome: SecondFactorOutcome;
    record: FactorRecord;
    recoveryHashes: readonly string[];
  } {
    const { userId, record, code, recoveryHashes } = options;
    const nowMs = this.#clock.nowMs();
    if (record.throttledUntilMs > nowMs) return { outcome: 'throttled', record, recoveryHashes };
    const step = matchTotpStep({ secret: this.#openSecret(userId, record), code, nowMs });
    // RFC 6238 §5.2: a code must not be accepted twice. Refusing every step up to the last one
    // used also refuses an older code of the window after a newer one was accepted.
    if (step !== undefined && step > record.lastUsedStep) {
      return { outcome: 'totp', record: { ...record, lastUsedStep: step, failures: 0, throttledUntilMs: 0 }, recoveryHashes };
    }
    const normalized = normalizeRecoveryCode(code);
    const index =
      normalized === undefined ? undefined : findHash(recoveryHashes, hashRecoveryCode({ key: this.#keys.recoveryCodeHashing, userId, normalizedCode: normalized }));
    if (index !== undefined) {
      const left = recoveryHashes.filter((_, other) => other !== index);
      return { outcome: 'recovery-code', record: { ...record, failures: 0, throttledUntilMs: 0 }, recoveryHashes: left };
    }
    const failures = record.failures + 1;
    const delayMs = Math.min(THROTTLE_MAX_MS, THROTTLE_BASE_MS * 2 ** Math.min(failures - FAILURES_FREE_MAX, 16));
    const throttledUntilMs = failures < FAILURES_FREE_MAX ? 0 : nowMs + delayMs;
    return { outcome: 'invalid', record: { ...record, failures, throttledUntilMs }, recoveryHashes };
  }

  #openSecret(userId: string, record: FactorRecord): Uint8Array {
    try {
      return openSecret({ key: this.#keys.secretEncryption, userId, sealed: record.secret });
    } catch (error) {
      throw new Error(`the MFA secret of user ${userId} cannot be decrypted: a different key, or a damaged record`, { cause: error });
    }
  }

  #newRecoveryCodes(userId: string): { plain: string[]; hashes: string[] } {
    const plain = Array.from({ length: RECOVERY_CODES_COUNT }, () => generateRecoveryCode(this.#randomBytes));
    const hashes = plain.map((code) => hashRecoveryCode({ key: this.#keys.recoveryCodeHashing, userId, normalizedCode: normalizeRecoveryCode(code) as string }));
    return { plain, hashes };
  }
}

function isAccepted(outcome: SecondFactorOutcome): boolean {
  return outcome === 'totp' || outcome === 'recovery-code';
}

function throwUnlessAccepted(outcome: SecondFactorOutcome): void {
  if (outcome === 'throttled') throw new MfaError('Throttled', 'too many wrong codes; wait a minute and try again');
  if (!isAccepted(outcome)) throw new MfaError('InvalidCode', 'the code is not valid');
}

async function readFactor(tx: ReadTransaction, userId: string): Promise<FactorRecord | undefined> {
  const value = await tx.get(factorKey(userId));
  return value === undefined ? undefined : decodeJson<FactorRecord>(value);
}

async function readRecoveryCodes(tx: ReadTransaction, userId: string): Promise<RecoveryCodesRecord> {
  const value = await tx.get(recoveryCodesKey(userId));
  return value === undefined ? { hashes: [] } : decodeJson<RecoveryCodesRecord>(value);
}

function putFactor(tx: WriteTransaction, userId: string, record: FactorRecord): void {
  tx.put(factorKey(userId), encodeJson(record));
}

function putRecoveryCodes(tx: WriteTransaction, userId: string, hashes: readonly string[]): void {
  tx.put(recoveryCodesKey(userId), encodeJson({ hashes } satisfies RecoveryCodesRecord));
}

function deleteAll(tx: WriteTransaction, userId: string): void {
  tx.delete(factorKey(userId));
  tx.delete(recoveryCodesKey(userId));
}

function factorKey(userId: string): Uint8Array {
  return key().byte(Keyspace.identity).byte(FACTOR_RECORD).string(userId).build();
}

function recoveryCodesKey(userId: string): Uint8Array {
  return key().byte(Keyspace.identity).byte(RECOVERY_CODES_RECORD).string(userId).build();
}

function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}
