import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { parsePublicKey, SecurityKeyStore, type KeyUsage } from '../../../snapshots/security-keys.js';
import { ecdsaKeyPair, ManualClock } from '../../../snapshots/testing.test-support.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY, type TestCaller } from '../testing/api-harness.test-support.js';
import { securityKeyRoutes } from './security-keys.js';

const READER: TestCaller = { name: 'reader', privileges: ['SECURITY_READ'] };

describe('security key routes', () => {
  let app: ApiApp;
  const admin = as(TEST_ADMIN);
  const usages = new Map<string, KeyUsage[]>();

  before(async () => {
    const keys = new SecurityKeyStore({ metadata: new MemoryMetadataStore(), clock: new ManualClock(1_700_000_000_000), keyUsages: async (id) => usages.get(id) ?? [] });
    app = await openApiHarness(securityKeyRoutes({ keys }), [TEST_ADMIN, TEST_NOBODY, READER]);
  });
  after(async () => app.close());

  it('POST /v1/security/keys {name, public_key, verification_signature} answers {id, name}; GET lists and finds it by id or name', async () => {
    const pair = ecdsaKeyPair();
    const created = await app.inject({ method: 'POST', url: '/v1/security/keys', headers: admin, payload: { name: 'vault', public_key: pair.publicPem, verification_signature: pair.sign('vault') } });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().name, 'vault');
    const id = created.json().id as string;
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/keys', headers: as(READER) })).json().entries[0].id, id);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/keys/vault', headers: admin })).json().id, id);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/security/keys/${id}`, headers: admin })).json().public_key, pair.publicPem);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/keys/none', headers: admin })).statusCode, 404);
  });

  it('refuses a bad signature or a private key with 400 and a clear description', async () => {
    const pair = ecdsaKeyPair();
    const bad = await app.inject({ method: 'POST', url: '/v1/security/keys', headers: admin, payload: { name: 'bad', public_key: pair.publicPem, verification_signature: pair.sign('other') } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().description, /verification_signature does not verify/);
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const secret = await app.inject({ method: 'POST', url: '/v1/security/keys', headers: admin, payload: { name: 'bad', public_key: privatePem, verification_signature: pair.sign('bad') } });
    assert.equal(secret.statusCode, 400);
    assert.match(secret.json().description, /PRIVATE key/);
  });

  it('PATCH disables; replace rotates with the challenge signed by both keys; DELETE refuses a key in use', async () => {
    const old = ecdsaKeyPair();
    const id = (await app.inject({ method: 'POST', url: '/v1/security/keys', headers: admin, payload: { name: 'rot', public_key: old.publicPem, verification_signature: old.sign('rot') } })).json().id as string;
    const patched = await app.inject({ method: 'PATCH', url: `/v1/security/keys/${id}`, headers: admin, payload: { disabled: true } });
    assert.equal(patched.json().disabled, true);
    const next = ecdsaKeyPair();
    const challenge = (await app.inject({ method: 'POST', url: `/v1/security/keys/${id}/key-replacement-challenge`, headers: admin, payload: { public_key: next.publicPem } })).json().challenge as string;
    assert.match(challenge, new RegExp(`key=${id}:version=1:replacement-sha256=${parsePublicKey(next.publicPem).fingerprint}$`));
    const replaced = await app.inject({ method: 'POST', url: `/v1/security/keys/${id}/replace`, headers: admin, payload: { public_key: next.publicPem, old_key_signature: old.sign(challenge), new_key_signature: next.sign(challenge) } });
    assert.equal(replaced.statusCode, 200, replaced.body);
    assert.equal(replaced.json().version, 2);
    const replay = await app.inject({ method: 'POST', url: `/v1/security/keys/${id}/replace`, headers: admin, payload: { public_key: ecdsaKeyPair().publicPem, old_key_signature: old.sign(challenge), new_key_signature: next.sign(challenge) } });
    assert.equal(replay.statusCode, 403);
    usages.set(id, [{ type: 'snapshot', id: '5' }]);
    const inUse = await app.inject({ method: 'DELETE', url: `/v1/security/keys/${id}`, headers: admin });
    assert.equal(inUse.statusCode, 409);
    assert.match(inUse.json().description, /in use \(snapshot 5\)/);
    usages.delete(id);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/security/keys/${id}`, headers: admin })).statusCode, 204);
  });

  it('needs SECURITY_READ to read and SECURITY_WRITE to change', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/keys' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/security/keys', headers: as(TEST_NOBODY) })).statusCode, 403);
    const write = await app.inject({ method: 'POST', url: '/v1/security/keys', headers: as(READER), payload: {} });
    assert.equal(write.statusCode, 403);
  });
});
