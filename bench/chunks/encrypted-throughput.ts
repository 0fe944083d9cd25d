/**
 * Sequential put and get throughput of 1 MiB chunks: plain local folder vs encrypted local folder,
 * and the same over memory to isolate the cost of sealing from the cost of the disk.
 *
 *   node --import tsx bench/chunks/encrypted-throughput.ts [--chunks 256] [--dir /path/on/the/disk]
 *
 * Results go to BENCHMARKS.md with the date and the machine.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Keyring } from '../../src/keys/keyring.js';
import { kekFilePath, LocalKeyFileProvider } from '../../src/keys/local-key-file.js';
import { newChunkId } from '../../src/storage/chunks/chunk-id.js';
import type { ChunkId, ChunkStore } from '../../src/storage/chunks/chunk-store.js';
import { EncryptedChunkStore } from '../../src/storage/chunks/layers/encrypted-chunk-store.js';
import { LocalChunkStore } from '../../src/storage/chunks/local/local-chunk-store.js';
import { MemoryChunkStore } from '../../src/storage/chunks/memory/memory-chunk-store.js';

const CHUNK_BYTES = 1024 * 1024;
const { values } = parseArgs({ options: { chunks: { type: 'string', default: '256' }, dir: { type: 'string', default: tmpdir() } } });
const chunkCount = Number(values.chunks);

async function measure(label: string, store: ChunkStore): Promise<void> {
  const data = randomBytes(CHUNK_BYTES);
  const ids: ChunkId[] = Array.from({ length: chunkCount }, (_, index) => newChunkId(1_700_000_000_000 + index));
  const putStart = process.hrtime.bigint();
  for (const id of ids) await store.put(id, data);
  const putSeconds = Number(process.hrtime.bigint() - putStart) / 1e9;
  const getStart = process.hrtime.bigint();
  for (const id of ids) await store.get(id);
  const getSeconds = Number(process.hrtime.bigint() - getStart) / 1e9;
  const megabytes = (chunkCount * CHUNK_BYTES) / 1e6;
  console.log(`${label.padEnd(20)} put ${(megabytes / putSeconds).toFixed(0).padStart(6)} MB/s   get ${(megabytes / getSeconds).toFixed(0).padStart(6)} MB/s`);
}

const root = await mkdtemp(join(values.dir, 'enclave-bench-chunks-'));
try {
  const provider = await LocalKeyFileProvider.open({ file: kekFilePath(root), create: true });
  const keyring = await Keyring.open({ dir: join(root, 'keys'), provider, create: true });
  console.log(`${chunkCount} sequential 1 MiB chunks in ${root}; node ${process.version}; ${cpus()[0]?.model ?? 'unknown cpu'}`);
  await measure('memory', new MemoryChunkStore({ capacityBytes: 2 * chunkCount * CHUNK_BYTES }));
  await measure('encrypted(memory)', new EncryptedChunkStore({ inner: new MemoryChunkStore({ capacityBytes: 2 * chunkCount * CHUNK_BYTES }), keyring }));
  await measure('local', await LocalChunkStore.open({ root: join(root, 'plain') }));
  await measure('encrypted(local)', new EncryptedChunkStore({ inner: await LocalChunkStore.open({ root: join(root, 'sealed') }), keyring }));
  await keyring.close();
  await provider.close();
} finally {
  await rm(root, { recursive: true, force: true });
}
