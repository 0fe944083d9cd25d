import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyError } from './key-errors.js';
import type { KeyErrorCode } from './key-errors.js';
import { kekFilePath, LocalKeyFileProvider } from './local-key-file.js';

/** Tests use a small scrypt cost (the production default is 2^17). */
const SCRYPT_COST_LOG2_TEST = 12;
const ENV_VAR = 'ENCLAVE_KEK_PASSPHRASE';

async function rejectsWithKeyError(promise: Promise<unknown>, code: KeyErrorCode, messageIncludes?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KeyError, String(error));
    assert.equal(error.code, code, error.message);
    if (messageIncludes !== undefined) assert.ok(error.message.includes(messageIncludes), error.message);
    return true;
  });
}

describe('LocalKeyFileProvider', () => {
  const roots: string[] = [];
  const dataDir = async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-kek-'));
    roots.push(root);
    return root;
  };
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  it('init creates a 0600 key file in a 0700 directory, and reopening yields the same KEK', async () => {
    const file = kekFilePath(await dataDir());
    const created = await LocalKeyFileProvider.open({ file, create: true });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(file))).mode & 0o777, 0o700);
    const aad = Buffer.from('purpose');
    const wrapped = await created.wrap(Buffer.from('a data key of 32 bytes, roughly.'), aad);
    const reopened = await LocalKeyFileProvider.open({ file, create: false });
    assert.equal(reopened.id, created.id);
    assert.equal(Buffer.from(await reopened.unwrap(wrapped, aad)).toString(), 'a data key of 32 bytes, roughly.');
  });

  it('unwrap with another aad, altered bytes or another KEK fails with unwrap-failed', async () => {
    const provider = await LocalKeyFileProvider.open({ file: kekFilePath(await dataDir()), create: true });
    const other = await LocalKeyFileProvider.open({ file: kekFilePath(await dataDir()), create: true });
    assert.notEqual(provider.id, other.id);
    const wrapped = Buffer.from(await provider.wrap(Buffer.alloc(32, 7), Buffer.from('data-key/1')));
    await rejectsWithKeyError(provider.unwrap(wrapped, Buffer.from('data-key/2')), 'unwrap-failed');
    await rejectsWithKeyError(other.unwrap(wrapped, Buffer.from('data-key/1')), 'unwrap-failed');
    wrapped[20] = (wrapped[20] ?? 0) ^ 1;
    await rejectsWithKeyError(provider.unwrap(wrapped, Buffer.from('data-key/1')), 'unwrap-failed');
  });

  it('a missing key file is not-found unless create is set', async () => {
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file: kekFilePath(await dataDir()), create: false }), 'not-found');
  });

  it('a key file with mode 0644 is refused, naming the file', async () => {
    const file = kekFilePath(await dataDir());
    await LocalKeyFileProvider.open({ file, create: true });
    await chmod(file, 0o644);
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file, create: false }), 'insecure-permissions', file);
  });

  it('a passphrase-protected KEK needs its passphrase: missing and wrong ones fail clearly', async () => {
    const file = kekFilePath(await dataDir());
    const passphrase = { envVar: ENV_VAR, env: { [ENV_VAR]: 'correct horse battery staple' } };
    const created = await LocalKeyFileProvider.open({ file, create: true, passphrase, scryptCostLog2: SCRYPT_COST_LOG2_TEST });
    const contents = await readFile(file);
    assert.equal(contents.byteLength, 85);
    const reopened = await LocalKeyFileProvider.open({ file, create: false, passphrase });
    assert.equal(reopened.id, created.id);
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file, create: false }), 'passphrase-required', file);
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file, create: false, passphrase: { envVar: ENV_VAR, env: {} } }), 'passphrase-required', ENV_VAR);
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file, create: false, passphrase: { envVar: ENV_VAR, env: { [ENV_VAR]: 'wrong' } } }), 'passphrase-wrong', ENV_VAR);
  });

  it('the default scrypt cost (2^17) works within its memory bound', async () => {
    const file = kekFilePath(await dataDir());
    const passphrase = { envVar: ENV_VAR, env: { [ENV_VAR]: 'a long passphrase' } };
    const created = await LocalKeyFileProvider.open({ file, create: true, passphrase });
    assert.equal((await readFile(file))[6], 17);
    assert.equal((await LocalKeyFileProvider.open({ file, create: false, passphrase })).id, created.id);
  });

  it('a plain key file with a passphrase configured is refused rather than silently unprotected', async () => {
    const file = kekFilePath(await dataDir());
    await LocalKeyFileProvider.open({ file, create: true });
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file, create: false, passphrase: { envVar: ENV_VAR, env: { [ENV_VAR]: 'x' } } }), 'passphrase-unexpected');
  });

  it('a damaged key file is malformed', async () => {
    const file = kekFilePath(await dataDir());
    await LocalKeyFileProvider.open({ file, create: true });
    await writeFile(file, 'not a key');
    await rejectsWithKeyError(LocalKeyFileProvider.open({ file, create: false }), 'malformed', file);
  });

  it('after close, wrap rejects with closed', async () => {
    const provider = await LocalKeyFileProvider.open({ file: kekFilePath(await dataDir()), create: true });
    await provider.close();
    await rejectsWithKeyError(provider.wrap(Buffer.alloc(1), Buffer.alloc(0)), 'closed');
  });
});
