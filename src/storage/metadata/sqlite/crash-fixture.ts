/**
 * Child process for the kill -9 test in sqlite-metadata-store.test.ts: writes transactions from
 * 16 concurrent writers until killed, printing each key on stdout once its write is acknowledged.
 * Usage: node --import tsx crash-fixture.ts <database path> <encryption key hex>
 * (stdout to a pipe is synchronous on Linux, so a printed line is never lost before the kill).
 */
import { SqliteMetadataStore } from './sqlite-metadata-store.js';

const WRITERS = 16;
const WRITES_PER_WRITER_MAX = 1_000_000;

async function main(): Promise<void> {
  const [path, keyHex] = process.argv.slice(2);
  if (path === undefined || keyHex === undefined) throw new Error('usage: crash-fixture.ts <path> <key hex>');
  const store = await SqliteMetadataStore.open({ path, encryptionKey: Buffer.from(keyHex, 'hex') });
  const encoder = new TextEncoder();
  process.stdout.write('ready\n');
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      for (let sequence = 0; sequence < WRITES_PER_WRITER_MAX; sequence++) {
        const name = `w${writer}-${sequence}`;
        await store.write(async (tx) => {
          tx.put(encoder.encode(name), encoder.encode(`value of ${name}`));
        });
        process.stdout.write(`${name}\n`);
      }
    }),
  );
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
