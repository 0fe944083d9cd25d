import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isFsError } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { keyReplacementMessage, parsePublicKey, SecurityKeyStore, type KeyUsage } from './security-keys.js';
import { ecdsaKeyPair, ManualClock } from './testing.test-support.js';

function openStore(usages: Map<string, KeyUsage[]> = new Map()) {
  return new SecurityKeyStore({ metadata: new MemoryMetadataStore(), clock: new ManualClock(1_700_000_000_000), keyUsages: async (id) => usages.get(id) ?? [] });
}

async function rejects(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isFsError(error) && error.code === code && pattern.test(error.message));
}

describe('security keys', () => {
  it('registers a P-256 public key whose name is signed by its private key', async () => {
    const store = openStore();
    const pair = ecdsaKeyPair();
    const key = await store.create({ name: 'vault-1', public_key: pair.publicPem, verification_signature: pair.sign('vault-1') });
    assert.equal(key.id, '1');
    assert.equal(key.name, 'vault-1');
    assert.equal(key.disabled, false);
    assert.equal(key.public_key, pair.publicPem);
    assert.deepEqual((await store.list()).map((entry) => entry.name), ['vault-1']);
    assert.equal((await store.resolve('vault-1')).id, '1');
    assert.equal((await store.resolve('1')).name, 'vault-1');
  });

  it('refuses a signature of another name, by another key, or malformed', async () => {
    const store = openStore();
    const pair = ecdsaKeyPair();
    const other = ecdsaKeyPair();
    for (const signature of [pair.sign('vault-2'), other.sign('vault-1'), 'not base64!', Buffer.from('garbage').toString('base64')]) {
      await rejects(store.create({ name: 'vault-1', public_key: pair.publicPem, verification_signature: signature }), 'InvalidArgument', /verification_signature does not verify/);
    }
    assert.deepEqual(await store.list(), []);
  });

  it('refuses private keys, other curves and RSA with a clear error', async () => {
    const pair = ecdsaKeyPair();
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(() => parsePublicKey(privatePem), /PRIVATE key; never send it/);
    assert.throws(() => parsePublicKey(ecdsaKeyPair('P-384').publicPem), /EC key on secp384r1; only ECDSA P-256/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.throws(() => parsePublicKey(rsa), /a rsa key; only ECDSA P-256/);
    assert.throws(() => parsePublicKey('hello'), /must be one PEM public key/);
    const store = openStore();
    await rejects(store.create({ name: 'k', public_key: privatePem, verification_signature: pair.sign('k') }), 'InvalidArgument', /PRIVATE key/);
  });

  it('names are unique, 1 to 64 characters, and unknown fields are refused', async () => {
    const store = openStore();
    const pair = ecdsaKeyPair();
    await store.create({ name: 'k', public_key: pair.publicPem, verification_signature: pair.sign('k') });
    await rejects(store.create({ name: 'k', public_key: pair.publicPem, verification_signature: pair.sign('k') }), 'Exists', /named "k" exists/);
    const long = 'x'.repeat(65);
    await rejects(store.create({ name: long, public_key: pair.publicPem, verification_signature: pair.sign(long) }), 'InvalidArgument', /security_key.name/);
    await rejects(store.create({ name: 'j', public_key: pair.publicPem, verification_signature: pair.sign('j'), private_key: 'x' }), 'InvalidArgument', /private_key is not a known field/);
  });

  it('disables and enables; a key a policy uses cannot be disabled; a disabled key cannot lock', async () => {
    const usages = new Map<string, KeyUsage[]>();
    const store = openStore(usages);
    const pair = ecdsaKeyPair();
    const key = await store.create({ name: 'k', public_key: pair.publicPem, verification_signature: pair.sign('k') });
    assert.equal((await store.update(key.id, { disabled: true })).disabled, true);
    await rejects(store.resolveForLocking('k'), 'InvalidArgument', /disabled; it can unlock but not lock/);
    assert.equal((await store.update('k', { disabled: false, comment: 'offline vault' })).comment, 'offline vault');
    usages.set(key.id, [{ type: 'snapshot_policy', id: '7' }]);
    await rejects(store.update(key.id, { disabled: true }), 'Conflict', /used by snapshot policies 7/);
  });

  it('rotates with signatures of the replacement message by the old and the new key; id and name stay', async () => {
    const store = openStore();
    const old = ecdsaKeyPair();
    const next = ecdsaKeyPair();
    const key = await store.create({ name: 'k', public_key: old.publicPem, verification_signature: old.sign('k') });
    const message = await store.replacementMessage('k', next.publicPem);
    assert.equal(message, keyReplacementMessage({ keyId: key.id, version: 1, replacementFingerprintSha256: parsePublicKey(next.publicPem).fingerprint }));
    await rejects(store.replace(key.id, { public_key: next.publicPem, old_key_signature: next.sign(message), new_key_signature: next.sign(message) }), 'PermissionDenied', /old_key_signature/);
    await rejects(store.replace(key.id, { public_key: next.publicPem, old_key_signature: old.sign(message), new_key_signature: old.sign(message) }), 'InvalidArgument', /new_key_signature/);
    const rotated = await store.replace(key.id, { public_key: next.publicPem, old_key_signature: old.sign(message), new_key_signature: next.sign(message) });
    assert.equal(rotated.id, key.id);
    assert.equal(rotated.name, 'k');
    assert.equal(rotated.version, 2);
    assert.equal(rotated.public_key, next.publicPem);
    // The same signatures cannot replace it again: the message names version 1.
    const third = ecdsaKeyPair();
    const stale = keyReplacementMessage({ keyId: key.id, version: 1, replacementFingerprintSha256: parsePublicKey(third.publicPem).fingerprint });
    await rejects(store.replace(key.id, { public_key: third.publicPem, old_key_signature: old.sign(stale), new_key_signature: third.sign(stale) }), 'PermissionDenied', /version 2/);
  });

  it('deletes only an unused key', async () => {
    const usages = new Map<string, KeyUsage[]>();
    const store = openStore(usages);
    const pair = ecdsaKeyPair();
    const key = await store.create({ name: 'k', public_key: pair.publicPem, verification_signature: pair.sign('k') });
    usages.set(key.id, [{ type: 'snapshot', id: '42' }]);
    await rejects(store.delete('k'), 'Conflict', /in use \(snapshot 42\)/);
    usages.delete(key.id);
    await store.delete('k');
    assert.equal(await store.find('k'), undefined);
    await rejects(store.delete('k'), 'NotFound', /no security key/);
  });
});
