/**
 * Starts an Enclave instance with its S3 server for benchmarks: a fresh data dir (defaults, so
 * chunks are encrypted at rest), user `bench` with an access key, bucket `bench` (/s3/bench, owned
 * by bench). The S3 server serves HTTPS only with the instance certificate (settings `secure:
 * true`, the product's default); BENCH_S3_SECURE=0 also accepts plain HTTP on the same port and
 * writes an http:// endpoint. Writes an env file for s3load.mjs and runs until SIGTERM/SIGINT.
 * Env: BENCH_S3_PORT (29100), BENCH_S3_ENV (/tmp/perf-suite/enclave-s3.env), BENCH_S3_SECURE (1),
 *   BENCH_S3_TLS_DIR (unset; if set, the instance certificate and key are written there as
 *   cert.pem / key.pem so that peers can serve the very same identity), BENCH_S3_AUDIT (0),
 *   BENCH_S3_PROFILE_DIR (unset; if set, SIGUSR2 toggles a measured phase: the first signal starts
 *   a V8 CPU profile (node:inspector, the profiler --cpu-prof uses) and zeroes the counters, the
 *   second writes <dir>/phase-N.cpuprofile and appends one JSON line to <dir>/phases.jsonl: wall
 *   and process CPU ms, metadata read/write transactions (count, total ms), SQLite COMMITs (count,
 *   ms the event loop was blocked in them), event-loop delay).
 *   BENCH_S3_TX_CALLERS=1 also writes <dir>/phase-N.callers.txt: which code opened each metadata
 *   transaction (stack-trace per transaction; slows the server, use for counts only).
 *   Metadata transactions are counted by wrapping instance.metadata.read/write at runtime here;
 *   nothing in src/ changes.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defaultConfig } from '../../src/config/config-schema.js';
import { systemContext } from '../../src/core/context.js';
import { S3AccessKeys } from '../../src/identity/s3-access-keys.js';
import { createLogger } from '../../src/ops/logger.js';
import { BucketStore, ensureDirectory } from '../../src/protocols/s3/buckets.js';
import { MultipartStore } from '../../src/protocols/s3/multipart.js';
import { S3Server } from '../../src/protocols/s3/server.js';
import type { ReadTransaction, WriteTransaction } from '../../src/storage/metadata/metadata-store.js';
import { serve } from '../../src/serve.js';

const port = Number(process.env.BENCH_S3_PORT ?? 29100);
const envFile = process.env.BENCH_S3_ENV ?? '/tmp/perf-suite/enclave-s3.env';
const dataDir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'enclave-s3-bench-'));
const logger = createLogger({ level: 'warn' });
// BENCH_WRITE_CACHE_BYTES sets write_cache_bytes (0: no write cache), for side-by-side runs.
const writeCache = process.env.BENCH_WRITE_CACHE_BYTES === undefined ? {} : { writeCacheBytes: Number(process.env.BENCH_WRITE_CACHE_BYTES) };
const server = await serve({ config: { ...defaultConfig(), ...writeCache, dataDir, apiPort: 0 }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: 'Correct-Horse-Battery-Staple-9' }, stdout: new Writable({ write: (_c, _e, cb) => cb() }) });
const { instance } = server;
const secure = process.env.BENCH_S3_SECURE !== '0';
const tlsDir = process.env.BENCH_S3_TLS_DIR;
if (tlsDir !== undefined) {
  mkdirSync(tlsDir, { recursive: true });
  writeFileSync(join(tlsDir, 'cert.pem'), instance.tls.certificate);
  writeFileSync(join(tlsDir, 'key.pem'), instance.tls.privateKey, { mode: 0o600 });
}
// Metadata transaction counters (runtime wrapper on this instance's store object only).
const tx = { reads: 0, readMs: 0, writes: 0, writeMs: 0, commits: 0, commitMs: 0 };
const profileDir = process.env.BENCH_S3_PROFILE_DIR;
// BENCH_S3_TX_CALLERS=1: also count which code opens each metadata transaction (the first stack
// frames outside the metadata store; costs a stack trace per transaction, so not for timing).
const traceCallers = process.env.BENCH_S3_TX_CALLERS === '1';
const callers = new Map<string, number>();
const countCaller = (kind: string): void => {
  const frames = (new Error().stack ?? '').split('\n').slice(1).map((line) => line.trim().replace(/^at /, '').replace(/\(?(file:\/\/)?\/\S*?\/(src|bench)\//, '$2/').replace(/:\d+\)?$/, ''));
  const own = frames.filter((f) => !f.includes('enclave-s3.ts') && !f.includes('storage/metadata/') && !f.startsWith('new Promise') && !f.includes('node:internal'));
  const site = `${kind} ${own.slice(0, 3).join(' < ')}`;
  callers.set(site, (callers.get(site) ?? 0) + 1);
};
if (profileDir !== undefined) {
  const store = instance.metadata;
  const read = store.read.bind(store);
  const write = store.write.bind(store);
  store.read = async <T>(fn: (t: ReadTransaction) => Promise<T>): Promise<T> => {
    tx.reads++;
    if (traceCallers) countCaller('read');
    const t0 = performance.now();
    try { return await read(fn); } finally { tx.readMs += performance.now() - t0; }
  };
  // SQLite COMMITs of the writer (one per group-commit batch; synchronous, so the event loop is
  // blocked for their whole fsync): wrapped on the statement object if this store has one.
  const commit = (store as unknown as { writerStatements?: { commit?: { run: (...args: unknown[]) => unknown } } }).writerStatements?.commit;
  if (commit !== undefined) {
    const run = commit.run.bind(commit);
    commit.run = (...args: unknown[]) => {
      tx.commits++;
      const t0 = performance.now();
      try { return run(...args); } finally { tx.commitMs += performance.now() - t0; }
    };
  }
  store.write = async <T>(fn: (t: WriteTransaction) => Promise<T>): Promise<T> => {
    tx.writes++;
    if (traceCallers) countCaller('write');
    const t0 = performance.now();
    try { return await write(fn); } finally { tx.writeMs += performance.now() - t0; }
  };
}
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
  uploads: new MultipartStore({ metadata: instance.metadata }),
  accessKeys,
  findUser: async (id) => instance.users.get(id),
  groupsOf: (id) => instance.groups.groupsOf(id),
  tls: instance.tls,
  settings: async () => ({ secure, base_path: '/s3' }),
  networkAccess: { isAllowed: () => true },
  logger,
  nowMs: () => Date.now(),
  // BENCH_S3_AUDIT=1: every request audited, as src/protocol-servers.ts wires it in production.
  ...(process.env.BENCH_S3_AUDIT === '1' ? { auditor: server.management.auditor } : {}),
});
await s3.listen('127.0.0.1', port);
writeFileSync(envFile, `S3_ENDPOINT=${secure ? 'https' : 'http'}://127.0.0.1:${port}\nS3_ACCESS_KEY=${key.accessKey.id}\nS3_SECRET_KEY=${key.secret}\nS3_BUCKET=bench\nS3_CLIENT=raw\nS3_TLS_INSECURE=1\n`);
process.stdout.write(`enclave s3 on ${secure ? 'https' : 'http'}://127.0.0.1:${port} (pid ${process.pid}), env in ${envFile}\n`);
if (profileDir !== undefined) {
  mkdirSync(profileDir, { recursive: true });
  const session = new Session();
  session.connect();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let phase: { n: number; t0: number; cpu: NodeJS.CpuUsage } | undefined;
  let phases = 0;
  let busy: Promise<void> = Promise.resolve();
  process.on('SIGUSR2', () => {
    busy = busy.then(async () => {
      if (phase === undefined) {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_S3_PROFILE_INTERVAL_US ?? 200) });
        await session.post('Profiler.start');
        Object.assign(tx, { reads: 0, readMs: 0, writes: 0, writeMs: 0, commits: 0, commitMs: 0 });
        callers.clear();
        delay.reset();
        delay.enable();
        phase = { n: ++phases, t0: performance.now(), cpu: process.cpuUsage() };
        return;
      }
      const wallMs = performance.now() - phase.t0;
      const cpu = process.cpuUsage(phase.cpu);
      const { profile } = await session.post('Profiler.stop');
      delay.disable();
      writeFileSync(join(profileDir, `phase-${phase.n}.cpuprofile`), JSON.stringify(profile));
      const line = { phase: phase.n, wallMs: Math.round(wallMs), cpuUserMs: Math.round(cpu.user / 1000), cpuSysMs: Math.round(cpu.system / 1000), ...tx, readMs: Math.round(tx.readMs), writeMs: Math.round(tx.writeMs), commitMs: Math.round(tx.commitMs), loopDelayP50Ms: delay.percentile(50) / 1e6, loopDelayP99Ms: delay.percentile(99) / 1e6, loopDelayMaxMs: delay.max / 1e6 };
      appendFileSync(join(profileDir, 'phases.jsonl'), JSON.stringify(line) + '\n');
      if (traceCallers) {
        writeFileSync(join(profileDir, `phase-${phase.n}.callers.txt`), [...callers].sort((x, y) => y[1] - x[1]).map(([site, n]) => `${n} ${site}`).join('\n') + '\n');
        callers.clear();
      }
      phase = undefined;
    }).catch((error: unknown) => {
      process.stderr.write(`profile toggle failed: ${String(error)}\n`);
    });
  });
}
const stop = async () => {
  await s3.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
