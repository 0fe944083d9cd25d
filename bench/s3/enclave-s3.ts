/**
 * Starts an Enclave instance with its S3 server for benchmarks: a fresh data dir, user `bench`
 * with an access key, bucket `bench` (/s3/bench, owned by bench), plain HTTP allowed (secure:
 * false; the peer s3rver is plain HTTP too). Writes an env file for s3load.mjs and runs until
 * SIGTERM/SIGINT. Env: BENCH_S3_PORT (29100), BENCH_S3_ENV (/tmp/perf-suite/enclave-s3.env).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { defaultConfig } from '../../src/config/config-schema.js';
import { systemContext } from '../../src/core/context.js';
import { S3AccessKeys } from '../../src/identity/s3-access-keys.js';
import { createLogger } from '../../src/ops/logger.js';
import { BucketStore, ensureDirectory } from '../../src/protocols/s3/buckets.js';
import { MultipartStore } from '../../src/protocols/s3/multipart.js';
import { ObjectMetadataStore } from '../../src/protocols/s3/object-metadata.js';
import { S3Server } from '../../src/protocols/s3/server.js';
import { serve } from '../../src/serve.js';

const port = Number(process.env.BENCH_S3_PORT ?? 29100);
const envFile = process.env.BENCH_S3_ENV ?? '/tmp/perf-suite/enclave-s3.env';
const dataDir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'enclave-s3-bench-'));
const logger = createLogger({ level: 'warn' });
const server = await serve({ config: { ...defaultConfig(), dataDir, apiPort: 0 }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: 'Correct-Horse-Battery-Staple-9' }, stdout: new Writable({ write: (_c, _e, cb) => cb() }) });
const { instance } = server;
const user = await instance.users.createUser({ name: 'bench', password: 'violet-Quarry-Lantern-42' });
const accessKeys = new S3AccessKeys({ metadata: instance.metadata, clock: instance.clock, key: instance.deriveKey('s3-secrets/v1') });
const key = await accessKeys.create({ userId: user.id });
const buckets = new BucketStore({ metadata: instance.metadata });
const ctx = systemContext(logger);
const dir = await ensureDirectory(instance.fileSystem, ctx, '/s3/bench', { mustCreate: true, uid: user.uid, gid: user.primaryGid });
const attributes = await instance.fileSystem.getattr(ctx, dir.handle);
await buckets.add({ name: 'bench', path: '/s3/bench', rootId: attributes.id, rootGeneration: attributes.generation, createdAtMs: Date.now(), ownerUid: user.uid });
const s3 = new S3Server({
  fs: instance.fileSystem,
  buckets,
  objects: new ObjectMetadataStore({ metadata: instance.metadata }),
  uploads: new MultipartStore({ metadata: instance.metadata }),
  accessKeys,
  findUser: async (id) => instance.users.get(id),
  groupsOf: (id) => instance.groups.groupsOf(id),
  tls: instance.tls,
  settings: async () => ({ secure: false, base_path: '/s3' }),
  networkAccess: { isAllowed: () => true },
  logger,
  nowMs: () => Date.now(),
  // BENCH_S3_AUDIT=1: every request audited, as src/protocol-servers.ts wires it in production.
  ...(process.env.BENCH_S3_AUDIT === '1' ? { auditor: server.management.auditor } : {}),
});
await s3.listen('127.0.0.1', port);
writeFileSync(envFile, `S3_ENDPOINT=http://127.0.0.1:${port}\nS3_ACCESS_KEY=${key.accessKey.id}\nS3_SECRET_KEY=${key.secret}\nS3_BUCKET=bench\nS3_CLIENT=raw\n`);
process.stdout.write(`enclave s3 on 127.0.0.1:${port}, env in ${envFile}\n`);
const stop = async () => {
  await s3.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
