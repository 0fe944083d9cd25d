import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3-multiple-ciphers';
import { MetadataStoreError } from '../metadata-store.js';
import { metadataStoreContract } from '../metadata-store.contract.js';
import { SqliteMetadataStore } from './sqlite-metadata-store.js';

for (const encrypted of [true, false]) {
  metadataStoreContract(encrypted ? 'sqlite (encrypted)' : 'sqlite (plaintext)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'enclave-metadata-'));
    const store = await SqliteMetadataStore.open({
      path: join(directory, 'metadata.db'),
      ...(encrypted ? { encryptionKey: randomBytes(32) } : {}),
      // Tiny batches in tests, so batch boundaries fall inside the concurrent tests.
      batchMax: 8,
    });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(directory, { recursive: true, force: true });
      },
    };
  });
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const decode = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

describe('SqliteMetadataStore', () => {
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'enclave-metadata-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps committed data across close and reopen with the same key', async () => {
    const path = join(directory, 'reopen.db');
    const encryptionKey = randomBytes(32);
    const first = await SqliteMetadataStore.open({ path, encryptionKey });
    await first.write(async (tx) => tx.put(text('kept'), text('across reopen')));
    await first.close();
    const second = await SqliteMetadataStore.open({ path, encryptionKey });
    assert.equal(decode(await second.read((tx) => tx.get(text('kept')))), 'across reopen');
    await second.close();
  });

  it('refuses to open with a wrong key, or with no key, with a MetadataStoreError that says so', async () => {
    const path = join(directory, 'wrong-key.db');
    const store = await SqliteMetadataStore.open({ path, encryptionKey: randomBytes(32) });
    await store.write(async (tx) => tx.put(text('k'), text('v')));
    await store.close();
    await assert.rejects(SqliteMetadataStore.open({ path, encryptionKey: randomBytes(32) }), (error: unknown) => {
      assert.ok(error instanceof MetadataStoreError);
      assert.match(error.message, /encryption key is wrong/);
      return true;
    });
    await assert.rejects(SqliteMetadataStore.open({ path }), /encrypted and no key was given/);
    await assert.rejects(SqliteMetadataStore.open({ path, encryptionKey: randomBytes(16) }), RangeError);
  });

  it('makes new databases with AEGIS-256 pages, and still opens, reads and writes SQLCipher 4 databases made before', async () => {
    const encryptionKey = randomBytes(32);
    const hexKey = encryptionKey.toString('hex');
    const rawOpen = (path: string, cipher: 'aegis' | 'sqlcipher') => {
      const db = new Database(path);
      db.pragma(`cipher='${cipher}'`);
      if (cipher === 'sqlcipher') db.pragma('legacy=4');
      db.pragma(`key="x'${hexKey}'"`);
      return db;
    };
    const readable = (path: string, cipher: 'aegis' | 'sqlcipher'): boolean => {
      const db = rawOpen(path, cipher);
      try {
        db.prepare('SELECT count(*) FROM sqlite_master').get();
        return true;
      } catch {
        return false;
      } finally {
        db.close();
      }
    };
    const fresh = join(directory, 'aegis.db');
    const store = await SqliteMetadataStore.open({ path: fresh, encryptionKey });
    await store.write(async (tx) => tx.put(text('k'), text('v')));
    await store.close();
    assert.deepEqual([readable(fresh, 'aegis'), readable(fresh, 'sqlcipher')], [true, false]);

    // A database an earlier Enclave made with SQLCipher 4 pages.
    const older = join(directory, 'sqlcipher.db');
    const db = rawOpen(older, 'sqlcipher');
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
    db.prepare('INSERT INTO kv VALUES (?, ?)').run(Buffer.from(text('old')), Buffer.from(text('kept')));
    db.close();
    const reopened = await SqliteMetadataStore.open({ path: older, encryptionKey });
    assert.equal(decode(await reopened.read((tx) => tx.get(text('old')))), 'kept');
    await reopened.write(async (tx) => tx.put(text('new'), text('written')));
    assert.equal(decode(await reopened.read((tx) => tx.get(text('new')))), 'written');
    await reopened.close();
    assert.deepEqual([readable(older, 'sqlcipher'), readable(older, 'aegis')], [true, false], 'it stays SQLCipher');
  });

  it('leaves no plaintext key or value in the database or its WAL', async () => {
    const path = join(directory, 'plaintext-scan.db');
    const marker = 'ENCLAVE-PLAINTEXT-MARKER-7f3a';
    const store = await SqliteMetadataStore.open({ path, encryptionKey: randomBytes(32) });
    await store.write(async (tx) => {
      for (let index = 0; index < 200; index++) tx.put(text(`${marker}/name-${index}`), text(`${marker}/value-${index}`));
    });
    // Checked while open, so the WAL still holds the frames (close checkpoints and removes it).
    const walSize = (await stat(`${path}-wal`)).size;
    assert.ok(walSize > 0, 'the WAL holds the committed frames');
    for (const file of [path, `${path}-wal`]) {
      const contents = await readFile(file);
      assert.equal(contents.includes(marker), false, `${file} contains the marker in plaintext`);
    }
    await store.close();
    const checkpointed = await readFile(path);
    assert.equal(checkpointed.includes(marker), false);
    // The check can fail: the same writes without a key do leave the marker readable.
    const plainPath = join(directory, 'plaintext-control.db');
    const plain = await SqliteMetadataStore.open({ path: plainPath });
    await plain.write(async (tx) => tx.put(text(marker), text(marker)));
    assert.equal((await readFile(`${plainPath}-wal`)).includes(marker), true);
    await plain.close();
  });

  it('keeps every acknowledged write when its process is killed with SIGKILL under load', async () => {
    const path = join(directory, 'crash.db');
    const encryptionKey = randomBytes(32);
    const fixture = fileURLToPath(new URL('./crash-fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, encryptionKey.toString('hex')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acknowledged: string[] = [];
    let buffered = '';
    const killed = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', () => resolve());
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        // Only complete lines count: a partial line was not fully acknowledged to us.
        for (const line of lines) if (line !== 'ready') acknowledged.push(line);
        if (acknowledged.length >= 3_000 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
    });
    await killed;
    assert.equal(child.signalCode, 'SIGKILL', 'the child was killed, not finished');
    assert.ok(acknowledged.length >= 3_000);
    const store = await SqliteMetadataStore.open({ path, encryptionKey });
    const missing: string[] = [];
    await store.read(async (tx) => {
      for (const name of acknowledged) if (decode(await tx.get(text(name))) !== `value of ${name}`) missing.push(name);
    });
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged writes lost`);
    await store.close();
  });
});

describe('SqliteMetadataStore WAL durability', () => {
  it('acknowledges a write only after an fdatasync of the WAL that began after its COMMIT; syncs coalesce', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'enclave-metadata-'));
    const syncs: Array<() => void> = [];
    let started = 0;
    const store = await SqliteMetadataStore.open({
      path: join(directory, 'metadata.db'),
      datasync: (handle) => {
        started++;
        return new Promise<void>((resolve) => syncs.push(() => handle.datasync().then(resolve)));
      },
    });
    try {
      let firstDone = false;
      const first = store.write(async (tx) => tx.put(text('a'), text('1'))).then(() => (firstDone = true));
      while (started === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      // Committed (a reader sees it) but not acknowledged while its sync is held.
      assert.equal(decode(await store.read((tx) => tx.get(text('a')))), '1');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(firstDone, false, 'a write resolves only once the WAL is synced');
      // Writes committed while the first sync runs wait for one more sync, which covers them all.
      let laterDone = 0;
      const later = Array.from({ length: 5 }, (_, index) => store.write(async (tx) => tx.put(text(`b${index}`), text('2'))).then(() => laterDone++));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(started, 1, 'no second sync until the first ends');
      (syncs.shift() as () => void)();
      await first;
      assert.equal(laterDone, 0, 'the first sync may have begun before their COMMITs');
      while (started < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      (syncs.shift() as () => void)();
      await Promise.all(later);
      assert.equal(laterDone, 5);
      assert.equal(started, 2);
    } finally {
      const closing = store.close();
      for (const release of syncs) release();
      await closing;
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('tells a transaction that failed on what an earlier one of its batch wrote only once that is durable', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'enclave-metadata-'));
    const store = await SqliteMetadataStore.open({ path: join(directory, 'metadata.db') });
    try {
      const events: string[] = [];
      // Queued in one turn, so they run in one batch: the second sees the first's uncommitted put.
      const first = store.write(async (tx) => tx.put(text('folder'), text('made'))).then(() => events.push('first acknowledged'));
      const second = store
        .write(async (tx) => {
          if ((await tx.get(text('folder'))) !== undefined) throw new Error('exists');
        })
        .catch(async (error: unknown) => {
          events.push(`second refused: ${(error as Error).message}`);
          // What the refusal was about is there for a read that follows it.
          events.push(`read after refusal: ${decode(await store.read((tx) => tx.get(text('folder'))))}`);
        });
      // A transaction that fails on its own, first in its batch, is told at once.
      await Promise.all([first, second]);
      assert.deepEqual(events, ['first acknowledged', 'second refused: exists', 'read after refusal: made']);
      await assert.rejects(
        store.write(async () => {
          throw new Error('alone');
        }),
        /alone/,
      );
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('stops accepting writes after a failed WAL fsync, and says so', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'enclave-metadata-'));
    const store = await SqliteMetadataStore.open({ path: join(directory, 'metadata.db'), datasync: async () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) });
    try {
      await assert.rejects(store.write(async (tx) => tx.put(text('a'), text('1'))), (error: unknown) => error instanceof MetadataStoreError && /fsync/.test(error.message));
      await assert.rejects(store.write(async (tx) => tx.put(text('b'), text('2'))), MetadataStoreError);
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
