import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import { assert } from '../core/errors.js';

/**
 * The cryptography of native MFA, kept apart from storage so each piece can be read on one screen:
 * TOTP parameters and code computation, the encryption of TOTP secrets, recovery codes and their
 * hashes. Everything here is synchronous and pure apart from the random bytes passed in.
 */

/**
 * RFC 6238 with the parameters every authenticator app supports (Google Authenticator ignores
 * anything else): HMAC-SHA1, 6 digits, 30-second steps, a 160-bit secret (RFC 4226 §4 R6
 * recommends 160 bits).
 */
export const TOTP_ISSUER = 'Enclave';
export const TOTP_ALGORITHM = 'SHA1';
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_SECRET_BYTES = 20;
/** Steps accepted either side of the current one, for clock drift (RFC 6238 §5.2 suggests one). */
export const TOTP_WINDOW_STEPS = 1;

export const RECOVERY_CODES_COUNT = 10;
/** Three groups of four base32 characters: 60 random bits per code. */
const RECOVERY_CODE_GROUPS = 3;
const RECOVERY_CODE_GROUP_CHARS = 4;
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export const TOTP_CODE_PATTERN = /^[0-9]{6}$/;
/** Case-insensitive; the hyphens are optional, as people retype codes from paper. */
export const RECOVERY_CODE_PATTERN = /^[a-z2-7]{4}-?[a-z2-7]{4}-?[a-z2-7]{4}$/i;

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type RandomBytes = (size: number) => Uint8Array;

/** A TOTP secret encrypted with AES-256-GCM; fields are base64. */
export interface SealedSecret {
  readonly nonce: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/**
 * The two keys MFA derives from the one key it is given (HKDF-SHA256, RFC 5869), so the
 * encryption key and the recovery-code hashing key are never the same bytes.
 */
export interface MfaKeys {
  readonly secretEncryption: Buffer;
  readonly recoveryCodeHashing: Buffer;
}

export function deriveMfaKeys(key: Uint8Array): MfaKeys {
  assert(key.length === KEY_BYTES, `the MFA key must be ${KEY_BYTES} bytes, got ${key.length}`);
  const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', key, new Uint8Array(0), info, KEY_BYTES));
  return {
    secretEncryption: derive('enclave mfa totp-secret aes-256-gcm v1'),
    recoveryCodeHashing: derive('enclave mfa recovery-code hmac-sha256 v1'),
  };
}

/**
 * The associated data binds a sealed secret to its user: a secret copied onto another user's
 * record fails authentication instead of letting that user sign in with the first one's phone.
 */
function secretAad(userId: string): Buffer {
  return Buffer.from(`enclave/mfa/totp-secret/v1\0${userId}`, 'utf8');
}

export function sealSecret(options: { key: Buffer; userId: string; secret: Uint8Array; randomBytes: RandomBytes }): SealedSecret {
  const nonce = Buffer.from(options.randomBytes(NONCE_BYTES));
  const cipher = createCipheriv('aes-256-gcm', options.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(secretAad(options.userId));
  const ciphertext = Buffer.concat([cipher.update(options.secret), cipher.final()]);
  return { nonce: nonce.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** Throws if the record was tampered with, moved to another user, or sealed with another key. */
export function openSecret(options: { key: Buffer; userId: string; sealed: SealedSecret }): Uint8Array {
  const decipher = createDecipheriv('aes-256-gcm', options.key, Buffer.from(options.sealed.nonce, 'base64'), { authTagLength: TAG_BYTES });
  decipher.setAAD(secretAad(options.userId));
  decipher.setAuthTag(Buffer.from(options.sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(options.sealed.ciphertext, 'base64')), decipher.final()]);
}

function otpSecret(secret: Uint8Array): Secret {
  return new Secret({ buffer: Uint8Array.from(secret).buffer });
}

/** The `otpauth://totp/Enclave:<name>?...` URI an authenticator app reads from a QR code. */
export function totpUri(options: { secret: Uint8Array; userName: string }): { otpauthUri: string; secretBase32: string } {
  const secret = otpSecret(options.secret);
  const totp = new TOTP({
    issuer: TOTP_ISSUER,
    label: options.userName,
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret,
  });
  return { otpauthUri: totp.toString(), secretBase32: secret.base32 };
}

export function totpStepAt(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * The step within the window whose code equals `code`, or undefined. Every step of the window is
 * computed and compared in constant time, with no early exit, so the timing says nothing about
 * which step (if any) matched.
 */
export function matchTotpStep(options: { secret: Uint8Array; code: string; nowMs: number }): number | undefined {
  if (!TOTP_CODE_PATTERN.test(options.code)) return undefined;
  const secret = otpSecret(options.secret);
  const candidate = Buffer.from(options.code, 'ascii');
  const current = totpStepAt(options.nowMs);
  let matched: number | undefined;
  for (let step = current - TOTP_WINDOW_STEPS; step <= current + TOTP_WINDOW_STEPS; step++) {
    const expected = Buffer.from(HOTP.generate({ secret, algorithm: TOTP_ALGORITHM, digits: TOTP_DIGITS, counter: step }), 'ascii');
    if (timingSafeEqual(expected, candidate) && matched === undefined) matched = step;
  }
  return matched;
}

export function generateRecoveryCode(randomBytes: RandomBytes): string {
  const chars = RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_CHARS;
  // One random byte per character, reduced mod 32: 256 is a multiple of 32, so there is no bias.
  const bytes = randomBytes(chars);
  const groups: string[] = [];
  for (let group = 0; group < RECOVERY_CODE_GROUPS; group++) {
    let text = '';
    for (let index = 0; index < RECOVERY_CODE_GROUP_CHARS; index++) {
      text += BASE32_ALPHABET[(bytes[group * RECOVERY_CODE_GROUP_CHARS + index] as number) % 32];
    }
    groups.push(text);
  }
  return groups.join('-');
}

/** The canonical form hashed and compared: lower case, no separators. */
export function normalizeRecoveryCode(code: string): string | undefined {
  return RECOVERY_CODE_PATTERN.test(code) ? code.toLowerCase().replaceAll('-', '') : undefined;
}

/**
 * A recovery code is stored as HMAC-SHA256(key, user id, code), hex. A fast hash is enough here
 * where it would not be for passwords: a code has 60 uniformly random bits, so there is no
 * dictionary to try, and online guesses are throttled. The HMAC key (derived from the instance
 * key, which never lives in the metadata store) means a stolen copy of the store alone allows no
 * offline guessing at all, and the user id in the input makes equal codes of two users differ.
 */
export function hashRecoveryCode(options: { key: Buffer; userId: string; normalizedCode: string }): string {
  return createHmac('sha256', options.key).update(options.userId, 'utf8').update('\0').update(options.normalizedCode, 'ascii').digest('hex');
}

/**
 * The index of `candidateHash` in `storedHashes`, or undefined; compares against every stored hash
 * in constant time, without an early exit.
 */
export function findHash(storedHashes: readonly string[], candidateHash: string): number | undefined {
  const candidate = Buffer.from(candidateHash, 'hex');
  let found: number | undefined;
  storedHashes.forEach((stored, index) => {
    const bytes = Buffer.from(stored, 'hex');
    if (bytes.length === candidate.length && timingSafeEqual(bytes, candidate) && found === undefined) found = index;
  });
  return found;
}
