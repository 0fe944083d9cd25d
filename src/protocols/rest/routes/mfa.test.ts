import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP, URI } from 'otpauth';
import type { Clock } from '../../../core/clock.js';
import { Mfa } from '../../../identity/mfa.js';
import { MetadataMfaPolicy } from '../../../identity/mfa-policy.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import { generate } from 'selfsigned';
import { createLogger } from '../../../ops/logger.js';
import { setCaller } from '../caller.js';
import type { ApiApp } from '../route.js';
import { createApiServer } from '../server.js';
import { TEST_ADMIN, TEST_NOBODY, as, openApiHarness } from '../testing/api-harness.test-support.js';
import { mfaRoutes } from './mfa.js';

const STEP_MS = 30_000;

describe('MFA routes', () => {
  let app: ApiApp;
  const clock = { ms: 1_700_000_010_000, nowMs(): number { return this.ms; }, nowNs(): bigint { return BigInt(this.ms) * 1_000_000n; } } satisfies Clock & { ms: number };

  before(async () => {
    const metadata = new MemoryMetadataStore();
    const policy = new MetadataMfaPolicy({ metadata });
    const mfa = new Mfa({ metadata, clock, key: new Uint8Array(32).fill(3), policy });
    app = await openApiHarness(mfaRoutes({ mfa, policy, userExists: async (id) => id.startsWith('user-') }));
  });

  after(async () => {
    await app.close();
  });

  function errorClass(response: { json(): unknown }): string {
    return (response.json() as { error_class: string }).error_class;
  }

  it('every route answers 401 without a caller', async () => {
    const calls = [
      { method: 'GET', url: '/v1/session/mfa' },
      { method: 'POST', url: '/v1/session/mfa/enroll' },
      { method: 'POST', url: '/v1/session/mfa/confirm', payload: { code: '123456' } },
      { method: 'POST', url: '/v1/session/mfa/disable', payload: { code: '123456' } },
      { method: 'POST', url: '/v1/session/mfa/recovery-codes', payload: { code: '123456' } },
      { method: 'GET', url: '/v1/security/mfa-policy' },
      { method: 'PUT', url: '/v1/security/mfa-policy', payload: { required: true } },
      { method: 'DELETE', url: '/v1/users/user-nobody/mfa' },
    ] as const;
    for (const call of calls) {
      const response = await app.inject(call);
      assert.equal(response.statusCode, 401, `${call.method} ${call.url}`);
      assert.equal(errorClass(response), 'http_unauthorized_error');
    }
  });

  it('the administrative routes answer 403 to a caller without the privilege', async () => {
    const headers = as(TEST_NOBODY);
    const calls = [
      { method: 'GET', url: '/v1/security/mfa-policy', headers },
      { method: 'PUT', url: '/v1/security/mfa-policy', headers, payload: { required: false } },
      { method: 'DELETE', url: '/v1/users/user-admin/mfa', headers },
    ] as const;
    for (const call of calls) {
      const response = await app.inject(call);
      assert.equal(response.statusCode, 403, `${call.method} ${call.url}`);
      assert.equal(errorClass(response), 'http_forbidden_error');
    }
  });

  it('a user with no privileges enrols, confirms, renews recovery codes and disables their own MFA', async () => {
    const headers = as(TEST_NOBODY);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/session/mfa', headers })).json(), { enabled: false, pending: false, recovery_codes_left: 0 });

    const enrolled = await app.inject({ method: 'POST', url: '/v1/session/mfa/enroll', headers });
    assert.equal(enrolled.statusCode, 200);
    const { otpauth_uri: uri, secret_base32: secretBase32 } = enrolled.json() as { otpauth_uri: string; secret_base32: string };
    const totp = URI.parse(uri);
    assert.ok(totp instanceof TOTP);
    assert.equal(totp.issuer, 'Enclave');
    assert.equal(totp.label, 'nobody');
    assert.equal(totp.secret.base32, secretBase32);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/session/mfa', headers })).json<{ pending: boolean }>().pending, true);

    const code = (): string => TOTP.generate({ secret: Secret.fromBase32(secretBase32), timestamp: clock.ms });
    const confirmed = await app.inject({ method: 'POST', url: '/v1/session/mfa/confirm', headers, payload: { code: code() } });
    assert.equal(confirmed.statusCode, 200);
    const recoveryCodes = confirmed.json<{ recovery_codes: string[] }>().recovery_codes;
    assert.equal(recoveryCodes.length, 10);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/session/mfa', headers })).json(), { enabled: true, pending: false, recovery_codes_left: 10 });

    const again = await app.inject({ method: 'POST', url: '/v1/session/mfa/enroll', headers });
    assert.equal(again.statusCode, 409);
    assert.equal(errorClass(again), 'mfa_already_enabled_error');

    const replayed = await app.inject({ method: 'POST', url: '/v1/session/mfa/recovery-codes', headers, payload: { code: code() } });
    assert.equal(replayed.statusCode, 400, 'the confirming code cannot be used again');
    assert.equal(errorClass(replayed), 'invalid_code_error');

    const renewed = await app.inject({ method: 'POST', url: '/v1/session/mfa/recovery-codes', headers, payload: { code: recoveryCodes[0] } });
    assert.equal(renewed.statusCode, 200);
    const newCodes = renewed.json<{ recovery_codes: string[] }>().recovery_codes;
    assert.equal(newCodes.length, 10);
    assert.ok(!newCodes.includes(recoveryCodes[1] as string));

    const oldCode = await app.inject({ method: 'POST', url: '/v1/session/mfa/disable', headers, payload: { code: recoveryCodes[1] } });
    assert.equal(oldCode.statusCode, 400, 'old recovery codes are gone');

    clock.ms += STEP_MS;
    const disabled = await app.inject({ method: 'POST', url: '/v1/session/mfa/disable', headers, payload: { code: code() } });
    assert.equal(disabled.statusCode, 200);
    assert.deepEqual(disabled.json(), { enabled: false, pending: false, recovery_codes_left: 0 });
  });

  it('confirm without a pending enrolment answers 409', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/session/mfa/confirm', headers: as(TEST_ADMIN), payload: { code: '123456' } });
    assert.equal(response.statusCode, 409);
    assert.equal(errorClass(response), 'mfa_not_pending_error');
  });

  it('malformed bodies answer 400', async () => {
    const headers = as(TEST_ADMIN);
    const bodies = [
      { url: '/v1/session/mfa/confirm', payload: {} },
      { url: '/v1/session/mfa/confirm', payload: { code: '12345' } },
      { url: '/v1/session/mfa/confirm', payload: { code: 'abcd-efgh-ijkl' } },
      { url: '/v1/session/mfa/disable', payload: { code: '1234567' } },
      { url: '/v1/session/mfa/disable', payload: { code: 'abcd-efgh-ijk1' } },
      { url: '/v1/session/mfa/recovery-codes', payload: { code: { value: '123456' } } },
    ];
    for (const body of bodies) {
      const response = await app.inject({ method: 'POST', url: body.url, headers, payload: body.payload });
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(errorClass(response), 'http_bad_request_error');
    }
    const policy = await app.inject({ method: 'PUT', url: '/v1/security/mfa-policy', headers, payload: { required: 'maybe' } });
    assert.equal(policy.statusCode, 400);
  });

  it('an unknown property or an array for a string answers 400', async () => {
    const response = await app.inject({ method: 'PUT', url: '/v1/security/mfa-policy', headers: as(TEST_ADMIN), payload: { required: false, scope: 'everyone' } });
    assert.equal(response.statusCode, 400);
    const array = await app.inject({ method: 'POST', url: '/v1/session/mfa/confirm', headers: as(TEST_ADMIN), payload: { code: ['123456'] } });
    assert.equal(array.statusCode, 400);
  });

  it('an administrator reads and sets the MFA policy', async () => {
    const headers = as(TEST_ADMIN);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/security/mfa-policy', headers })).json(), { required: false });
    const set = await app.inject({ method: 'PUT', url: '/v1/security/mfa-policy', headers, payload: { required: true } });
    assert.equal(set.statusCode, 200);
    assert.deepEqual(set.json(), { required: true });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/security/mfa-policy', headers })).json(), { required: true });
    await app.inject({ method: 'PUT', url: '/v1/security/mfa-policy', headers, payload: { required: false } });
  });

  it('an administrator resets a user\'s MFA; an unknown user answers 404', async () => {
    const enrolled = await app.inject({ method: 'POST', url: '/v1/session/mfa/enroll', headers: as(TEST_NOBODY) });
    assert.equal(enrolled.statusCode, 200);
    const reset = await app.inject({ method: 'DELETE', url: '/v1/users/user-nobody/mfa', headers: as(TEST_ADMIN) });
    assert.equal(reset.statusCode, 200);
    assert.deepEqual(reset.json(), { removed: true });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/session/mfa', headers: as(TEST_NOBODY) })).json(), { enabled: false, pending: false, recovery_codes_left: 0 });
    const unknown = await app.inject({ method: 'DELETE', url: '/v1/users/nope/mfa', headers: as(TEST_ADMIN) });
    assert.equal(unknown.statusCode, 404);
  });
});

describe('MFA routes with an access token', () => {
  it('an access-token caller reads its status but cannot enrol, confirm, disable or renew codes', async () => {
    const metadata = new MemoryMetadataStore();
    const policy = new MetadataMfaPolicy({ metadata });
    const clock: Clock = { nowMs: () => 1_700_000_010_000, nowNs: () => 1_700_000_010_000_000_000n };
    const mfa = new Mfa({ metadata, clock, key: new Uint8Array(32).fill(5), policy });
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const app = await createApiServer({
      tls: { certificate: pems.cert, privateKey: pems.private },
      logger: createLogger({ level: 'silent' }),
      version: { name: 'enclave', version: '0.0.0-test' },
      bodyBytesMax: 1024 * 1024,
      routes: mfaRoutes({ mfa, policy }),
      authorize: async (request) => {
        setCaller(request, {
          userId: 'user-script',
          name: 'script',
          principal: { uid: 3001, gids: [100], name: 'script' },
          privileges: new Set(),
          authenticatedBy: 'access-token',
          credentialId: 'token-1',
        });
      },
    });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/v1/session/mfa' })).statusCode, 200);
      for (const url of ['/v1/session/mfa/enroll', '/v1/session/mfa/confirm', '/v1/session/mfa/disable', '/v1/session/mfa/recovery-codes']) {
        const response = await app.inject({ method: 'POST', url, payload: { code: '123456' } });
        assert.equal(response.statusCode, 403, url);
      }
      assert.deepEqual(await mfa.status('user-script'), { enabled: false, pending: false, recoveryCodesLeft: 0 });
    } finally {
      await app.close();
    }
  });
});
