import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Keyring } from '../../../keys/keyring.js';
import { LocalKekRotation } from '../../../keys/local-kek-rotation.js';
import { LocalKeyFileProvider } from '../../../keys/local-key-file.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY, type TestCaller } from '../testing/api-harness.test-support.js';
import { encryptionRoutes } from './encryption.js';

const READER: TestCaller = { name: 'reader', privileges: ['ENCRYPTION_READ'] };

describe('/v1/encryption', () => {
  let root: string;
  let app: ApiApp;
  let keyring: Keyring;
  let rotation: LocalKekRotation;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'enclave-encryption-route-'));
    const file = join(root, 'keys', 'kek');
    const provider = await LocalKeyFileProvider.open({ file, create: true });
    keyring = await Keyring.open({ dir: join(root, 'keys'), provider, create: true });
    rotation = new LocalKekRotation({ file, keyring, provider });
    app = await openApiHarness(encryptionRoutes({ keyring, kek: rotation, metadataEncryption: 'AEGIS-256 pages (SQLite3 Multiple Ciphers)' }), [TEST_ADMIN, TEST_NOBODY, READER]);
  });
  after(async () => {
    await app.close();
    await keyring.close();
    await rotation.close();
    await rm(root, { recursive: true, force: true });
  });

  it('status names the cipher, the provider and its KEK id, and the data key versions, never a key', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/encryption/status', headers: as(READER) });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.algorithm, 'AES-256-GCM');
    assert.equal(body.key_provider, 'local-key-file');
    assert.equal(body.kek_id, keyring.providerId);
    assert.match(body.kek_id, /^local-file:[0-9a-f]{16}$/);
    assert.equal(body.passphrase_protected, false);
    assert.equal(body.data_key_version, 1);
    assert.equal(body.data_key_versions, 1);
    assert.equal(body.metadata_encryption, 'AEGIS-256 pages (SQLite3 Multiple Ciphers)');
    for (const key of [keyring.currentDataKey().key, keyring.metadataKey()]) {
      for (const encoding of ['hex', 'base64', 'base64url'] as const) assert.ok(!response.body.includes(Buffer.from(key).toString(encoding)));
    }
  });

  it('rotate-keys with {} or with DATA_KEY adds a data key version', async () => {
    const bare = await app.inject({ method: 'POST', url: '/v1/encryption/rotate-keys', headers: as(TEST_ADMIN), payload: {} });
    assert.equal(bare.statusCode, 200, bare.body);
    assert.equal(bare.json().rotated, 'DATA_KEY');
    assert.equal(bare.json().data_key_version, 2);
    const explicit = await app.inject({ method: 'POST', url: '/v1/encryption/rotate-keys', headers: as(TEST_ADMIN), payload: { scope: 'DATA_KEY' } });
    assert.equal(explicit.statusCode, 200, explicit.body);
    assert.equal(explicit.json().data_key_version, 3);
    assert.equal(explicit.json().data_key_versions, 3);
    assert.equal(keyring.currentDataKey().version, 3);
  });

  it('rotate-keys with KEK changes the KEK id and keeps the data keys', async () => {
    const before = keyring.providerId;
    const response = await app.inject({ method: 'POST', url: '/v1/encryption/rotate-keys', headers: as(TEST_ADMIN), payload: { scope: 'KEK' } });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().rotated, 'KEK');
    assert.notEqual(response.json().kek_id, before);
    assert.equal(response.json().kek_id, keyring.providerId);
    assert.equal(response.json().data_key_versions, 3);
  });

  it('refuses an unknown scope (400), callers without a session (401) or the privilege (403)', async () => {
    assert.equal((await app.inject({ method: 'POST', url: '/v1/encryption/rotate-keys', headers: as(TEST_ADMIN), payload: { scope: 'EVERYTHING' } })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/encryption/status' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/encryption/status', headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/encryption/rotate-keys', headers: as(READER), payload: {} })).statusCode, 403);
  });
});
