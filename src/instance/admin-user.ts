import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ADMIN_UID, ADMIN_USER_NAME, PASSWORD_CHARS_MIN, type LocalUsers } from '../identity/local-users.js';
import { replaceFileDurably } from '../keys/durable-file.js';
import { SECRET_FILE_MODE, fileExists, type DataDirLayout } from './data-dir.js';

export const ADMIN_PASSWORD_ENV = 'ENCLAVE_ADMIN_PASSWORD';
/** 18 random bytes = 144 bits, 24 characters of base64url. */
const GENERATED_PASSWORD_BYTES = 18;

/**
 * Makes the `admin` user at init, once. The password is ENCLAVE_ADMIN_PASSWORD when set (the
 * operator knows it, so it is neither printed nor stored), else generated: written to
 * `<dataDir>/initial-admin-password` (0600) before the user exists, so an init that crashes and
 * runs again reuses it, and printed once on stdout. Idempotent: an existing admin is kept.
 */
export async function ensureAdminUser(options: {
  users: LocalUsers;
  layout: DataDirLayout;
  environment: Readonly<Record<string, string | undefined>>;
  stdout: Writable;
  logger: Logger;
}): Promise<void> {
  const { users, layout, logger } = options;
  if ((await users.findByName(ADMIN_USER_NAME)) !== undefined) return;
  const fromEnvironment = options.environment[ADMIN_PASSWORD_ENV];
  if (fromEnvironment !== undefined && fromEnvironment !== '') {
    if (fromEnvironment.length < PASSWORD_CHARS_MIN) {
      logger.warn(`${ADMIN_PASSWORD_ENV} is shorter than ${PASSWORD_CHARS_MIN} characters; change the admin password`);
    }
    await users.createUser({ name: ADMIN_USER_NAME, password: fromEnvironment, uid: ADMIN_UID, allowShortPassword: true });
    logger.info(`created the admin user with the password from ${ADMIN_PASSWORD_ENV}`);
    options.stdout.write(`admin password: taken from ${ADMIN_PASSWORD_ENV}\n`);
    return;
  }
  let password: string;
  if (await fileExists(layout.initialAdminPasswordFile)) {
    password = (await readFile(layout.initialAdminPasswordFile, 'utf8')).trim();
  } else {
    password = randomBytes(GENERATED_PASSWORD_BYTES).toString('base64url');
    await replaceFileDurably(layout.initialAdminPasswordFile, Buffer.from(`${password}\n`), SECRET_FILE_MODE);
  }
  await users.createUser({ name: ADMIN_USER_NAME, password, uid: ADMIN_UID });
  logger.info({ file: layout.initialAdminPasswordFile }, 'created the admin user with a generated password');
  options.stdout.write(`admin password: ${password} (shown once; also in ${layout.initialAdminPasswordFile}, delete it after you log in)\n`);
}
