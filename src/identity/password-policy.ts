import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The password policy for new and changed passwords (NIST SP 800-63B §5.1.1.2): a minimum length,
 * no composition rules, and a check against passwords known to be common. Every reason a password
 * fails is reported at once, so a user fixes it in one go.
 *
 * The error is its own class rather than a core FsError: every caller that sets a password is a
 * management-plane call (user creation, admin reset, change of one's own password); the API maps
 * it to 400 `password_policy_error` in one place (rest/errors.ts), whichever route raised it.
 */

export const PASSWORD_POLICY_DEFAULTS = {
  /** Counted in Unicode code points, as NIST asks. */
  lengthMin: 12,
  /** Bounds argon2's work on hostile input: a megabyte "password" costs the server, not the caller. */
  bytesMax: 1_024,
  /** Names shorter than this are not looked for inside the password ("al" is in "totally"). */
  nameCharsMinForContainment: 3,
} as const;

/** Lines kept from the common-password file; a bound on memory if the file is replaced. */
export const COMMON_PASSWORDS_MAX = 1_000_000;

export const PASSWORD_POLICY_ERROR = 'password_policy_error';

export class PasswordPolicyError extends Error {
  constructor(readonly reasons: readonly string[]) {
    super(`the password does not meet the password policy: ${reasons.join('; ')}`);
    this.name = 'PasswordPolicyError';
  }
}

export interface PasswordPolicyOptions {
  readonly lengthMin?: number;
  readonly bytesMax?: number;
  /** Lowercase common passwords; defaults to the list shipped beside this module, read on first use. */
  readonly commonPasswords?: ReadonlySet<string>;
}

export interface PasswordContext {
  /** The account's name: a password that is, or contains, the name is refused. */
  readonly userName?: string;
}

export class PasswordPolicy {
  readonly lengthMin: number;
  readonly bytesMax: number;
  #commonPasswords: ReadonlySet<string> | undefined;

  constructor(options: PasswordPolicyOptions = {}) {
    this.lengthMin = options.lengthMin ?? PASSWORD_POLICY_DEFAULTS.lengthMin;
    this.bytesMax = options.bytesMax ?? PASSWORD_POLICY_DEFAULTS.bytesMax;
    if (!Number.isSafeInteger(this.lengthMin) || this.lengthMin < 1 || !Number.isSafeInteger(this.bytesMax) || this.bytesMax < this.lengthMin) {
      throw new Error(`assertion failed: bad password policy limits ${this.lengthMin}..${this.bytesMax}`);
    }
    this.#commonPasswords = options.commonPasswords;
  }

  /** Every reason `password` is refused; empty when it is acceptable. */
  evaluate(password: string, context: PasswordContext = {}): string[] {
    const reasons: string[] = [];
    const bytes = Buffer.byteLength(password);
    if (bytes > this.bytesMax) {
      // Nothing else is computed over a hostile megabyte.
      return [`it must be at most ${this.bytesMax} bytes`];
    }
    if ([...password].length < this.lengthMin) reasons.push(`it must be at least ${this.lengthMin} characters`);
    const lower = password.toLowerCase();
    const name = context.userName?.toLowerCase();
    if (name !== undefined && name !== '') {
      if (lower === name) reasons.push('it must not be the user name');
      else if (name.length >= PASSWORD_POLICY_DEFAULTS.nameCharsMinForContainment && lower.includes(name)) reasons.push('it must not contain the user name');
    }
    if (this.#isCommon(lower)) reasons.push('it is a commonly used password');
    return reasons;
  }

  /** Throws PasswordPolicyError with every reason, unless `password` is acceptable. */
  enforce(password: string, context: PasswordContext = {}): void {
    const reasons = this.evaluate(password, context);
    if (reasons.length > 0) throw new PasswordPolicyError(reasons);
  }

  /**
   * A common password, or one with a common password as its stem: padding a listed password with
   * digits and punctuation ("Summer2024!!", "password123456") is the usual way around a length rule.
   */
  #isCommon(lower: string): boolean {
    const common = this.#commonList();
    if (common.has(lower)) return true;
    const stem = lower.replace(/[\d\p{P}\p{S}\s]+$/u, '').replace(/^[\d\p{P}\p{S}\s]+/u, '');
    return stem !== lower && stem.length > 0 && common.has(stem);
  }

  #commonList(): ReadonlySet<string> {
    this.#commonPasswords ??= loadCommonPasswords();
    return this.#commonPasswords;
  }
}

/**
 * Reads a common-password list: one password per line, `#` lines are comments, compared in
 * lowercase. The default file sits beside this module in the source tree; from a build (dist/),
 * where tsc copies no text files, it is found in the source tree it was built from.
 */
export function loadCommonPasswords(path: string = defaultCommonPasswordsPath()): Set<string> {
  const passwords = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const password = line.trim().toLowerCase();
    if (password === '' || password.startsWith('#')) continue;
    passwords.add(password);
    if (passwords.size >= COMMON_PASSWORDS_MAX) break;
  }
  return passwords;
}

const COMMON_PASSWORDS_FILE = 'common-passwords.txt';

function defaultCommonPasswordsPath(): string {
  const candidates = [new URL(`./${COMMON_PASSWORDS_FILE}`, import.meta.url), new URL(`../../src/identity/${COMMON_PASSWORDS_FILE}`, import.meta.url)];
  const found = candidates.map((candidate) => fileURLToPath(candidate)).find((path) => existsSync(path));
  if (found === undefined) throw new Error(`assertion failed: ${COMMON_PASSWORDS_FILE} is missing beside ${fileURLToPath(import.meta.url)}`);
  return found;
}
