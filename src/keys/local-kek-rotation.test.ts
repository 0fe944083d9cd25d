import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { newChunkId } from '../storage/chunks/chunk-id.js';
import { EncryptedChunkStore } from '../storage/chunks/layers/encrypted-chunk-store.js';
import { LocalChunkStore } from '../storage/chunks/local/local-chunk-store.js';
import { KeyError } from './key-errors.js';
import { Keyring, readKeyringKekId } from './keyring.js';
import { LocalKeyFileProvider } from './local-key-file.js';
import { LocalKekRotation, completeLocalKekRotation, nextKekFilePath } from './local-kek-rotation.js';

const PASSPHRASE = { envVar: 'TEST_KEK_PASSPHRASE', env: { TEST_KEK_PASSPHRASE: 'a long test passphrase' } };
const SCRYPT_COST_LOG2 = 10;

describe('LocalKekRotation', () => {
  const roots: string[] = [];
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  async function openAll(root: string, create: boolean) {
    const keysDir = join(root, 'keys');
    const file = join(keysDir, 'kek');
    const provider = await LocalKeyFileProvider.open({ file, create, passphrase: PASSPHRASE, scryptCostLog2: SCRYPT_COST_LOG2 });
    const keyring = await Keyring.open({ dir: keysDir, provider, create });
    const chunks = new EncryptedChunkStore({ inner: await LocalChunkStore.open({ root: join(root, 'chunks') }), keyring });
    const rotation = new LocalKekRotation({ file, keyring, provider, passphrase: PASSPHRASE, scryptCostLog2: SCRYPT_COST_LOG2 });
    const close = async () => {
      await chunks.close();
      await keyring.close();
      await rotation.close();
    };
    return { keysDir, file, provider, keyring, chunks, rotation, close };
  }

  it('after DEK and KEK rotation the instance reopens and reads chunks sealed under every key', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-kek-rotation-'));
    roots.push(root);
    const first = await openAll(root, true);
    const [oldChunk, newChunk] = [newChunkId(1), newChunkId(2)];
    await first.chunks.put(oldChunk, Buffer.from('sealed under data key 1'));
    assert.equal(await first.keyring.rotateDataKey(), 2);
    await first.chunks.put(newChunk, Buffer.from('sealed under data key 2'));
    const oldKekId = first.keyring.providerId;
    const oldKekBytes = await readFile(first.file);
    const newKekId = await first.rotation.rotate();
    assert.notEqual(newKekId, oldKekId);
    assert.equal(first.keyring.providerId, newKekId);
    assert.equal(await readKeyringKekId(first.keysDir), newKekId);
    assert.notDeepEqual(await readFile(first.file), oldKekBytes);
    assert.equal((await stat(first.file)).mode & 0o777, 0o600);
    assert.equal(first.rotation.provider.passphraseProtected, true);
    // The old provider is closed: its key is gone from memory.
    await assert.rejects(first.provider.wrap(Buffer.alloc(32), Buffer.alloc(0)), (error: unknown) => error instanceof KeyError && error.code === 'closed');
    // Still readable in this process, and writable under the current data key.
    assert.equal(Buffer.from(await first.chunks.get(oldChunk)).toString(), 'sealed under data key 1');
    await first.close();

    const reopened = await openAll(root, false);
    assert.equal(reopened.keyring.providerId, newKekId);
    assert.deepEqual(reopened.keyring.dataKeyVersions(), [1, 2]);
    assert.equal(Buffer.from(await reopened.chunks.get(oldChunk)).toString(), 'sealed under data key 1');
    assert.equal(Buffer.from(await reopened.chunks.get(newChunk)).toString(), 'sealed under data key 2');
    await reopened.close();
  });

  it('a stop between the rewrap and the rename is completed at the next start', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-kek-rotation-'));
    roots.push(root);
    const opened = await openAll(root, true);
    const chunk = newChunkId(1);
    await opened.chunks.put(chunk, Buffer.from('before the interrupted rotation'));
    // What rotate() does up to the rename, then "crash".
    const staged = await LocalKeyFileProvider.open({ file: nextKekFilePath(opened.file), create: true, passphrase: PASSPHRASE, scryptCostLog2: SCRYPT_COST_LOG2 });
    await opened.keyring.rewrap(staged);
    await staged.close();
    await opened.close();
    await assert.rejects(openAll(root, false), (error: unknown) => error instanceof KeyError && error.code === 'provider-mismatch');
    assert.equal(await completeLocalKekRotation({ file: opened.file, keysDir: opened.keysDir, passphrase: PASSPHRASE }), 'completed');
    const reopened = await openAll(root, false);
    assert.equal(Buffer.from(await reopened.chunks.get(chunk)).toString(), 'before the interrupted rotation');
    assert.equal(await completeLocalKekRotation({ file: reopened.file, keysDir: reopened.keysDir, passphrase: PASSPHRASE }), 'none');
    await reopened.close();
  });

  it('a staged KEK the keyring never used is discarded at the next start', async () => {
    const root = await mkdtemp(join(tmpdir(), 'enclave-kek-rotation-'));
    roots.push(root);
    const opened = await openAll(root, true);
    const staged = await LocalKeyFileProvider.open({ file: nextKekFilePath(opened.file), create: true, passphrase: PASSPHRASE, scryptCostLog2: SCRYPT_COST_LOG2 });
    await staged.close();
    const kekId = opened.keyring.providerId;
    await opened.close();
    assert.equal(await completeLocalKekRotation({ file: opened.file, keysDir: opened.keysDir, passphrase: PASSPHRASE }), 'discarded');
    const reopened = await openAll(root, false);
    assert.equal(reopened.keyring.providerId, kekId);
    await reopened.close();
  });
});
