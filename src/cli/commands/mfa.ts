import type { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { contextOf, type CommandContext } from '../context.js';

interface MfaStatus {
  readonly enabled: boolean;
  readonly pending: boolean;
  readonly recovery_codes_left: number;
}

/** The code from the argument, or asked for (hidden) when left out. */
async function codeOf(context: CommandContext, given: string | undefined, question: string): Promise<string> {
  return (given ?? (await context.prompter.ask(question, { hidden: true }))).trim();
}

function printRecoveryCodes(context: CommandContext, codes: readonly string[]): void {
  context.output.result({ recovery_codes: codes }, () => codes.join('\n'));
  if (!context.output.json) context.notice('these recovery codes are shown only now: keep them somewhere safe; each works once instead of a TOTP code');
}

/**
 * Your own second factor (`status`, `enroll`, `confirm`, `disable`, `recovery-codes`: these need a
 * password session, not an access token), the instance policy, and an administrator's reset.
 */
export function registerMfaCommands(program: Command, io: CliIo): void {
  const mfa = program.command('mfa').description('multi-factor authentication (TOTP)');
  mfa
    .command('status')
    .description('whether you have MFA, a pending enrolment, and recovery codes left')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      context.output.record(await context.client.call<MfaStatus>('GET', '/v1/session/mfa'));
    });
  mfa
    .command('enroll')
    .description('start TOTP enrolment: prints the otpauth:// URI and the secret for your authenticator app')
    .action(async (_flags: object, command: Command) => {
      const context = contextOf(command, io);
      const enrolment = await context.client.call<{ otpauth_uri: string; secret_base32: string }>('POST', '/v1/session/mfa/enroll');
      context.output.result(enrolment, () => `otpauth_uri  ${enrolment.otpauth_uri}\nsecret       ${enrolment.secret_base32}`);
      if (!context.output.json) {
        context.notice('add it to your authenticator app (paste the secret, or make a QR code of the URI), then run `enclave mfa confirm CODE`');
      }
    });
  mfa
    .command('confirm [code]')
    .description('finish enrolment with a current code; prints your recovery codes once')
    .action(async (code: string | undefined, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const body = { code: await codeOf(context, code, 'TOTP code: ') };
      printRecoveryCodes(context, (await context.client.call<{ recovery_codes: string[] }>('POST', '/v1/session/mfa/confirm', { body })).recovery_codes);
    });
  mfa
    .command('disable [code]')
    .description('turn your MFA off, given a current code or a recovery code')
    .action(async (code: string | undefined, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const body = { code: await codeOf(context, code, 'TOTP or recovery code: ') };
      context.output.record(await context.client.call<MfaStatus>('POST', '/v1/session/mfa/disable', { body }));
    });
  mfa
    .command('recovery-codes [code]')
    .description('replace your recovery codes with new ones, given a current code or a recovery code')
    .action(async (code: string | undefined, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const body = { code: await codeOf(context, code, 'TOTP or recovery code: ') };
      printRecoveryCodes(context, (await context.client.call<{ recovery_codes: string[] }>('POST', '/v1/session/mfa/recovery-codes', { body })).recovery_codes);
    });
  mfa
    .command('policy')
    .description('show, or with --require / --no-require change, whether every management user must use MFA')
    .option('--require', 'require MFA of every management user')
    .option('--no-require', 'stop requiring MFA')
    .action(async (flags: { require?: boolean }, command: Command) => {
      const context = contextOf(command, io);
      const policy =
        flags.require === undefined
          ? await context.client.call<{ required: boolean }>('GET', '/v1/security/mfa-policy')
          : await context.client.call<{ required: boolean }>('PUT', '/v1/security/mfa-policy', { body: { required: flags.require } });
      context.output.result(policy, () => `MFA ${policy.required ? 'is required' : 'is not required'} for management users`);
    });
  mfa
    .command('reset <user>')
    .description("remove a user's second factor and recovery codes (a lost phone); by name or id")
    .action(async (user: string, _flags: object, command: Command) => {
      const context = contextOf(command, io);
      const { id } = await context.client.call<{ id: string }>('GET', `/v1/users/${encodeURIComponent(user)}`);
      const answer = await context.client.call<{ removed: boolean }>('DELETE', `/v1/users/${encodeURIComponent(id)}/mfa`);
      context.output.result(answer, () => (answer.removed ? `MFA of ${user} removed` : `${user} had no MFA`));
    });
}
