/**
 * Group commit throughput: 16 concurrent writers, each committing small one-record transactions
 * one after another (each acknowledged only once durable), against the encrypted SQLite store.
 * Usage: node --import tsx bench/metadata/group-commit.ts [seconds] [batchMax] [plaintext]
 * (`plaintext` runs without encryption, to measure what encryption costs).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/storage/metadata/sqlite/sqlite-metadata-store.js';

const WRITERS = 16;
const VALUE_BYTES = 100;

async function main(): Promise<void> {
  const durationMs = Number(process.argv[2] ?? '5') * 1_000;
  const batchMax = Number(process.argv[3] ?? '256');
  const directory = await mkdtemp(join(tmpdir(), 'enclave-bench-metadata-'));
  const encrypted = process.argv[4] !== 'plaintext';
  const path = join(directory, 'metadata.db');
  const store = await SqliteMetadataStore.open({ path, batchMax, ...(encrypted ? { encryptionKey: randomBytes(32) } : {}) });
  const value = randomBytes(VALUE_BYTES);
  const started = performance.now();
  const deadline = started + durationMs;
  const counts = await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      let count = 0;
      const key = Buffer.alloc(12);
      key.writeUInt32BE(writer, 0);
      while (performance.now() < deadline) {
        key.writeUInt32BE(count, 8);
        await store.write(async (tx) => tx.put(key, value));
        count++;
      }
      return count;
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  const total = counts.reduce((sum, count) => sum + count, 0);
  await store.close();
  await rm(directory, { recursive: true, force: true });
  console.log(
    `sqlite ${encrypted ? 'encrypted' : 'plaintext'}, ${WRITERS} writers, ${VALUE_BYTES}-byte values, batchMax ${batchMax}: ` +
      `${total} txns in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} txns/s`,
  );
}

await main();
