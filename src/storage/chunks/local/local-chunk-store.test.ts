import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newChunkId } from '../chunk-id.js';
import { chunkStoreContract, rejectsWithCode } from '../chunk-store.contract.js';
import { LocalChunkStore } from './local-chunk-store.js';

async function temporaryRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'enclave-local-chunks-'));
}

chunkStoreContract('local', async () => {
  const root = await temporaryRoot();
  const store = await LocalChunkStore.open({ root });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

describe('LocalChunkStore', () => {
  it('stores a chunk at <root>/<id[0..2]>/<id[2..4]>/<id> with mode 0600, and no temp file', async () => {
    const root = await temporaryRoot();
    try {
      const store = await LocalChunkStore.open({ root });
      const id = newChunkId(Date.UTC(2030, 0, 1));
      await store.put(id, new Uint8Array([1, 2, 3]));
      const directory = join(root, id.slice(0, 6), id.slice(6, 8));
      assert.deepEqual(await readdir(directory), [id]);
      assert.equal((await stat(join(directory, id))).mode & 0o777, 0o600);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('open removes temp files older than a minute left by a crashed put, and keeps younger ones', async () => {
    const root = await temporaryRoot();
    try {
      const id = newChunkId(1_700_000_000_000);
      const directory = join(root, id.slice(0, 6), id.slice(6, 8));
      await mkdir(directory, { recursive: true });
      const stale = join(directory, `.tmp-${id}-aaaaaaaaaaaa`);
      const young = join(directory, `.tmp-${id}-bbbbbbbbbbbb`);
      await writeFile(stale, 'half a chunk');
      await writeFile(young, 'a put in flight');
      const twoMinutesAgo = new Date(Date.now() - 120_000);
      await utimes(stale, twoMinutesAgo, twoMinutesAgo);
      const store = await LocalChunkStore.open({ root });
      assert.deepEqual(await readdir(directory), [`.tmp-${id}-bbbbbbbbbbbb`]);
      assert.deepEqual(await store.list({ limit: 10 }), []);
      await rejectsWithCode(store.get(id), 'not-found');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('list skips foreign files in the tree', async () => {
    const root = await temporaryRoot();
    try {
      const store = await LocalChunkStore.open({ root });
      const id = newChunkId(1_700_000_000_000);
      await store.put(id, new Uint8Array([1]));
      const directory = join(root, id.slice(0, 6), id.slice(6, 8));
      await writeFile(join(directory, 'README'), 'x');
      await writeFile(join(directory, newChunkId(0)), 'misplaced: wrong fan-out directory');
      await mkdir(join(root, 'lost+found'));
      assert.deepEqual(await store.list({ limit: 10 }), [id]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('chunks survive closing and reopening the store', async () => {
    const root = await temporaryRoot();
    try {
      const first = await LocalChunkStore.open({ root });
      const id = newChunkId(1_700_000_000_000);
      await first.put(id, new Uint8Array([7, 8, 9]));
      await first.close();
      await rejectsWithCode(first.get(id), 'unavailable');
      const second = await LocalChunkStore.open({ root });
      assert.deepEqual(await second.get(id), new Uint8Array([7, 8, 9]));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
