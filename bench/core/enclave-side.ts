/**
 * Enclave as production runs it: encrypted SQLite metadata, local chunk folder behind the
 * encryption layer, the core on top, opened through the composition root (src/main.ts). If the
 * composition root cannot open (it is being written), the same stores are composed here exactly as
 * it does, so encryption stays on either way. Calls go through the FileSystem API with a superuser
 * context and a silent logger.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { BenchConfig } from './bench-config.js';
import type { BenchSide } from './side.js';
import { defaultConfig } from '../../src/config/config-schema.js';
import type { OpContext } from '../../src/core/context.js';
import type { FileSystem, NodeHandle } from '../../src/core/file-system.js';
import { openFileSystem } from '../../src/core/open-file-system.js';
import { Keyring } from '../../src/keys/keyring.js';
import { LocalKeyFileProvider, kekFilePath } from '../../src/keys/local-key-file.js';
import { openInstance } from '../../src/main.js';
import { EncryptedChunkStore } from '../../src/storage/chunks/layers/encrypted-chunk-store.js';
import { LocalChunkStore } from '../../src/storage/chunks/local/local-chunk-store.js';
import { WriteCacheChunkStore } from '../../src/storage/chunks/layers/write-cache.js';
import { DiskActivity } from '../../src/storage/disk-activity.js';
import { writeCacheGeometry } from '../../src/instance/chunk-stores.js';
import type { ChunkStore } from '../../src/storage/chunks/chunk-store.js';
import type { MetadataStore } from '../../src/storage/metadata/metadata-store.js';
import { SqliteMetadataStore } from '../../src/storage/metadata/sqlite/sqlite-metadata-store.js';

export interface OpenedEnclave {
  readonly fileSystem: FileSystem;
  readonly via: string;
  close(): Promise<void>;
}

async function viaCompositionRoot(dataDir: string, logger: Logger): Promise<OpenedEnclave> {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const instance = await openInstance({ ...defaultConfig(), ...writeCacheOverride(), dataDir }, logger, {
    environment: { ENCLAVE_ADMIN_PASSWORD: randomBytes(18).toString('base64url') },
    stdout: discard,
  });
  return { fileSystem: instance.fileSystem, via: 'openInstance (src/main.ts)', close: () => instance.close() };
}

/** BENCH_WRITE_CACHE_BYTES sets the server's write_cache_bytes (0: no write cache), for side-by-side runs. */
function writeCacheOverride(): { writeCacheBytes?: number } {
  const text = process.env.BENCH_WRITE_CACHE_BYTES;
  if (text === undefined) return {};
  const bytes = Number(text);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`BENCH_WRITE_CACHE_BYTES must be a byte count, not ${JSON.stringify(text)}`);
  return { writeCacheBytes: bytes };
}

/** The same stores as src/main.ts, in the same order, closed in reverse. */
export async function viaOwnComposition(
  dataDir: string,
  logger: Logger,
  wrap: { metadata?: (store: MetadataStore) => MetadataStore; inner?: (store: ChunkStore) => ChunkStore; outer?: (store: ChunkStore) => ChunkStore } = {},
): Promise<OpenedEnclave> {
  const config = { ...defaultConfig(), ...writeCacheOverride() };
  await mkdir(join(dataDir, 'metadata'), { recursive: true, mode: 0o700 });
  const provider = await LocalKeyFileProvider.open({ file: kekFilePath(dataDir), create: true });
  const keyring = await Keyring.open({ dir: join(dataDir, 'keys'), provider, create: true });
  const sqlite = await SqliteMetadataStore.open({
    path: join(dataDir, 'metadata', 'enclave.db'),
    encryptionKey: keyring.metadataKey(),
    logger,
    batchMax: config.metadataGroupCommitTransactionsMax,
  });
  const metadata = wrap.metadata?.(sqlite) ?? sqlite;
  const activity = new DiskActivity();
  sqlite.onCommitted(() => activity.note());
  const local = await LocalChunkStore.open({ root: join(dataDir, 'chunks'), logger });
  const cached =
    config.writeCacheBytes > 0
      ? await WriteCacheChunkStore.open({ dir: join(dataDir, 'write-cache'), tier: local, logger, activity, ...writeCacheGeometry(config.writeCacheBytes) })
      : local;
  const encrypted = new EncryptedChunkStore({ inner: wrap.inner?.(cached) ?? cached, keyring });
  const chunks = wrap.outer?.(encrypted) ?? encrypted;
  const fileSystem = await openFileSystem({ metadata, chunks, logger, gc: { sweepGraceMs: config.gcGraceSeconds * 1_000 } });
  return {
    fileSystem,
    via: 'own composition (same stores as src/main.ts)',
    close: async () => {
      await fileSystem.close();
      await chunks.close();
      await metadata.close();
      await keyring.close();
      await provider.close();
    },
  };
}

export async function openEnclave(dataDir: string, log: (line: string) => void): Promise<OpenedEnclave> {
  const logger = pino({ level: 'silent' });
  try {
    return await viaCompositionRoot(dataDir, logger);
  } catch (error) {
    log(`enclave: openInstance failed (${error instanceof Error ? error.message : String(error)}); composing the stores directly`);
    const fallbackDir = `${dataDir}-composed`;
    return viaOwnComposition(fallbackDir, logger);
  }
}

export async function openEnclaveSide(dataDir: string, config: BenchConfig, log: (line: string) => void): Promise<BenchSide<NodeHandle, NodeHandle> & { via: string }> {
  return enclaveSideOver(await openEnclave(dataDir, log), config);
}

export async function enclaveSideOver(opened: OpenedEnclave, config: BenchConfig): Promise<BenchSide<NodeHandle, NodeHandle> & { via: string }> {
  const fs = opened.fileSystem;
  const ctx: OpContext = {
    principal: { uid: 0, gids: [0], superuser: true, name: 'root' },
    clientAddress: '127.0.0.1',
    protocol: 'internal',
    requestId: 'bench',
    logger: pino({ level: 'silent' }),
  };
  const root = await fs.root(ctx);
  return {
    name: 'enclave',
    via: opened.via,
    describe: {
      create: 'fs.create(exclusive) — durable when it resolves (SQLite group commit, WAL fsync)',
      stat: 'fs.lookup(dir, name) (returns attributes)',
      list: `fs.readdir(limit ${config.listPageEntries}, withAttributes) until no cursor`,
      sequential: 'fs.write 1 MiB, durable each (encrypted chunk: file fsync + dir fsync; metadata commit); read: fs.read 1 MiB',
      random: 'fs.write 4 KiB, durable each (one encrypted chunk + one metadata commit per write)',
    },
    makeDirectory: async (name) => (await fs.mkdir(ctx, root, name, { mode: 0o755 })).handle,
    createEmpty: async (directory, name) => {
      await fs.create(ctx, directory, name, { exclusive: true, mode: 0o644 });
    },
    stat: async (directory, name) => (await fs.lookup(ctx, directory, name)).attributes.size,
    list: async (directory, pageEntries) => {
      let count = 0;
      let cursor: string | undefined;
      do {
        const page = await fs.readdir(ctx, directory, { limit: pageEntries, withAttributes: true, ...(cursor === undefined ? {} : { cursor }) });
        for (const entry of page.entries) if (entry.attributes === undefined) throw new Error(`readdir gave no attributes for ${entry.name}`);
        count += page.entries.length;
        cursor = page.cursor;
      } while (cursor !== undefined);
      return count;
    },
    createFile: async (name) => (await fs.create(ctx, root, name, { exclusive: true, mode: 0o644 })).handle,
    write: async (file, offset, data) => {
      const result = await fs.write(ctx, file, { offset, data });
      if (result.bytesWritten !== data.length) throw new Error(`short write: ${result.bytesWritten} of ${data.length}`);
    },
    flush: async () => {},
    read: async (file, offset, length) => (await fs.read(ctx, file, { offset, length })).data,
    closeFile: async () => {},
    close: () => opened.close(),
  };
}
