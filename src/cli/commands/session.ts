import type { Command } from 'commander';
import { ApiRequestError } from '../api-client.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type CliIo } from '../cli-io.js';
import { askNewPassword, contextOf, type CommandContext } from '../context.js';
import { isYes } from '../prompt.js';

interface LoginFlags {
  readonly username?: string;
  readonly totp?: string;
  readonly acceptBanner?: boolean;
}

interface LoginAnswer {
  readonly bearer_token: string;
  readonly expires_at: string;
  readonly scope: 'full' | 'mfa-enrolment';
}

interface WhoAmI {
  readonly id: string;
  readonly name: string;
  readonly uid: number;
  readonly primary_gid: number;
  readonly gids: readonly number[];
  readonly privileges: readonly string[];
  readonly authenticated_by: string;
}

/** `login`, `logout`, `whoami`, `change-password`: the caller's own session. */
export function registerSessionCommands(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('log in (asks for the password, and a TOTP code when the user has MFA) and store the session for this API')
    .option('-u, --username <name>', 'user name (asked when not given)')
    .option('--totp <code>', 'TOTP or recovery code, instead of being asked')
    .option('--accept-banner', 'accept the login banner without being asked')
    .action(async (flags: LoginFlags, command: Command) => login(contextOf(command, io), flags));
  program
    .command('logout')
    .description('end the stored session for this API and forget it')
    .action(async (_flags: object, command: Command) => logout(contextOf(command, io)));
  program
    .command('whoami')
    .description('the signed-in user, their ids and privileges')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const me = await context.client.call<WhoAmI>('GET', '/v1/session/who-am-i');
      context.output.record(me, ['name', 'id', 'uid', 'primary_gid', 'gids', 'authenticated_by', 'privileges']);
    });
  program
    .command('change-password')
    .description('change your own password (asks for the old and the new one); your other sessions end')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const oldPassword = await context.prompter.ask('Current password: ', { hidden: true });
      const newPassword = await askNewPassword(context, 'New password: ');
      await context.client.call('POST', '/v1/session/change-password', { body: { old_password: oldPassword, new_password: newPassword } });
      context.output.result({ changed: true }, () => 'password changed');
    });
}

interface LoginForm {
  readonly banner: { readonly enabled: boolean; readonly text: string };
  readonly banner_acknowledgement_required: boolean;
}

/** Shows the login banner, when the instance has one, and asks for its acknowledgement. */
async function acknowledgeBanner(context: CommandContext, flags: LoginFlags): Promise<boolean> {
  const form = await context.client.call<LoginForm>('GET', '/v1/session/login', { authenticated: false });
  if (!form.banner_acknowledgement_required) return false;
  context.notice(`${form.banner.text.trimEnd()}\n`);
  if (flags.acceptBanner === true) return true;
  if (!isYes(await context.prompter.ask('Accept these terms? [y/N] ', { hidden: false }))) {
    throw new CliError('the login banner was not accepted; nothing was done', EXIT_FAILURE);
  }
  return true;
}

async function login(context: CommandContext, flags: LoginFlags): Promise<void> {
  const bannerAcknowledged = await acknowledgeBanner(context, flags);
  const username = flags.username ?? (await context.prompter.ask('Username: ', { hidden: false })).trim();
  if (username === '') throw new CliError('the user name is empty', EXIT_USAGE);
  const password = await context.prompter.ask(`Password for ${username}: `, { hidden: true });
  const body = { username, password, ...(bannerAcknowledged ? { banner_acknowledged: true } : {}) };
  let answer: LoginAnswer;
  try {
    answer = await context.client.call<LoginAnswer>('POST', '/v1/session/login', {
      authenticated: false,
      body: flags.totp === undefined ? body : { ...body, totp: flags.totp },
    });
  } catch (error) {
    if (!(error instanceof ApiRequestError) || error.errorClass !== 'mfa_required_error' || flags.totp !== undefined) throw error;
    const totp = (await context.prompter.ask('TOTP code (or a recovery code): ', { hidden: true })).trim();
    answer = await context.client.call<LoginAnswer>('POST', '/v1/session/login', { authenticated: false, body: { ...body, totp } });
  }
  context.credentials.set(context.credentialKey, { bearer_token: answer.bearer_token, username, expires_at: answer.expires_at });
  // The token stays in the credentials file: it is never printed, not even with --json.
  const summary = { api: context.credentialKey, username, expires_at: answer.expires_at, scope: answer.scope, credentials_file: context.credentials.file };
  context.output.result(summary, () => `logged in to ${summary.api} as ${username} (the session ends at ${answer.expires_at})`);
  if (answer.scope === 'mfa-enrolment') {
    context.notice('MFA is required on this instance and you have no second factor yet: this session can only enrol one. Run `enclave mfa enroll`, then `enclave mfa confirm CODE`, and log in again.');
  }
  if (context.tokenSource === 'environment') context.notice('note: ENCLAVE_TOKEN is set and wins over the stored session');
}

async function logout(context: CommandContext): Promise<void> {
  const stored = context.credentials.get(context.credentialKey);
  if (stored === undefined) {
    context.output.result({ logged_out: false }, () => `not logged in to ${context.credentialKey}`);
    return;
  }
  if (context.tokenSource === 'login') {
    try {
      await context.client.call('POST', '/v1/session/logout');
    } catch (error) {
      // An expired or revoked session is as good as ended; anything else is worth knowing.
      if (!(error instanceof ApiRequestError) || error.status !== 401) throw error;
    }
  } else {
    context.notice('ENCLAVE_TOKEN is set: the stored session is forgotten here but was not ended on the server (it expires on its own)');
  }
  context.credentials.delete(context.credentialKey);
  context.output.result({ logged_out: true }, () => `logged out of ${context.credentialKey}`);
}
