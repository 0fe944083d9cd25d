import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyError } from './key-errors.js';
import { Keyring } from './keyring.js';
import { LocalKeyFileProvider } from './local-key-file.js';

describe('Keyring', () => {
  const roots: string[] = [];
  const keysDir = async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-keyring-'));
    roots.push(root);
    return join(root, 'keys');
  };
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  it('create makes a 0600 keyring that survives reopening with the same keys', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const keyring = await Keyring.open({ dir, provider, create: true });
    assert.equal((await stat(join(dir, 'keyring.json'))).mode & 0o777, 0o600);
    const { version, key } = keyring.currentDataKey();
    assert.equal(version, 1);
    assert.equal(key.byteLength, 32);
    const reopened = await Keyring.open({ dir, provider, create: false });
    assert.deepEqual(reopened.currentDataKey(), { version: 1, key });
    assert.deepEqual(reopened.metadataKey(), keyring.metadataKey());
    assert.notDeepEqual(keyring.metadataKey(), key);
  });

  it('the keyring file holds no key in the clear', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const keyring = await Keyring.open({ dir, provider, create: true });
    const text = await readFile(join(dir, 'keyring.json'), 'utf8');
    for (const key of [keyring.currentDataKey().key, keyring.metadataKey()]) {
      for (const encoding of ['hex', 'base64', 'base64url'] as const) assert.ok(!text.includes(Buffer.from(key).toString(encoding)));
    }
  });

  it('rotateDataKey adds a version, makes it current and keeps old versions, also after reopening', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const keyring = await Keyring.open({ dir, provider, create: true });
    const first = Buffer.from(keyring.dataKey(1));
    assert.equal(await keyring.rotateDataKey(), 2);
    assert.equal(keyring.currentDataKey().version, 2);
    assert.notDeepEqual(Buffer.from(keyring.dataKey(2)), first);
    const reopened = await Keyring.open({ dir, provider, create: false });
    assert.equal(reopened.currentDataKey().version, 2);
    assert.deepEqual(Buffer.from(reopened.dataKey(1)), first);
    assert.throws(() => reopened.dataKey(3), (error: unknown) => error instanceof KeyError && error.code === 'unknown-key-version');
  });

  it('concurrent rotations each get their own version', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const keyring = await Keyring.open({ dir, provider, create: true });
    const versions = await Promise.all([keyring.rotateDataKey(), keyring.rotateDataKey(), keyring.rotateDataKey()]);
    assert.deepEqual([...versions].sort(), [2, 3, 4]);
    const reopened = await Keyring.open({ dir, provider, create: false });
    assert.equal(reopened.currentDataKey().version, 4);
  });

  it('rewrap moves the keyring to a new KEK without changing any key; the old KEK is then refused', async () => {
    const dir = await keysDir();
    const oldProvider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const newProvider = await LocalKeyFileProvider.open({ file: join(dir, 'kek-next'), create: true });
    const keyring = await Keyring.open({ dir, provider: oldProvider, create: true });
    await keyring.rotateDataKey();
    const before = [Buffer.from(keyring.dataKey(1)), Buffer.from(keyring.dataKey(2)), Buffer.from(keyring.metadataKey())];
    await keyring.rewrap(newProvider);
    const reopened = await Keyring.open({ dir, provider: newProvider, create: false });
    assert.deepEqual([Buffer.from(reopened.dataKey(1)), Buffer.from(reopened.dataKey(2)), Buffer.from(reopened.metadataKey())], before);
    await assert.rejects(Keyring.open({ dir, provider: oldProvider, create: false }), (error: unknown) => error instanceof KeyError && error.code === 'provider-mismatch' && error.message.includes(newProvider.id));
  });

  it('a missing keyring without create is not-found; a damaged one is malformed', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    await assert.rejects(Keyring.open({ dir, provider, create: false }), (error: unknown) => error instanceof KeyError && error.code === 'not-found');
    await writeFile(join(dir, 'keyring.json'), '{"format":1}');
    await assert.rejects(Keyring.open({ dir, provider, create: true }), (error: unknown) => error instanceof KeyError && error.code === 'malformed');
  });

  it('a wrapped key moved to another slot does not unwrap', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const keyring = await Keyring.open({ dir, provider, create: true });
    await keyring.rotateDataKey();
    const file = join(dir, 'keyring.json');
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { dataKeys: { version: number; wrapped: string }[] };
    const [first, second] = parsed.dataKeys;
    assert.ok(first !== undefined && second !== undefined);
    [first.wrapped, second.wrapped] = [second.wrapped, first.wrapped];
    await writeFile(file, JSON.stringify(parsed));
    await assert.rejects(Keyring.open({ dir, provider, create: false }), (error: unknown) => error instanceof KeyError && error.code === 'unwrap-failed');
  });

  it('close zeroes the keys it held and refuses later calls', async () => {
    const dir = await keysDir();
    const provider = await LocalKeyFileProvider.open({ file: join(dir, 'kek'), create: true });
    const keyring = await Keyring.open({ dir, provider, create: true });
    const key = keyring.currentDataKey().key;
    await keyring.close();
    assert.ok(key.every((byte) => byte === 0));
    assert.throws(() => keyring.currentDataKey(), (error: unknown) => error instanceof KeyError && error.code === 'closed');
  });
});
