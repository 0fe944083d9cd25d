/**
 * Where Enclave's time goes: runs the core workloads (Enclave side only, own composition of the
 * production stores) with timing wrappers around each layer, and prints per workload:
 *
 * - metadata: latency of `write`/`read` transactions as the core sees them (queue + run + commit),
 *   and the time inside the core's transaction function;
 * - SQLite: main-thread time in each kind of statement (better-sqlite3 is synchronous, so this is
 *   time the event loop is blocked; COMMIT includes the WAL fsync);
 * - chunks: latency of put/get on the encryption layer and on the local folder below it (their
 *   difference is sealing/opening plus event-loop queueing).
 *
 *   BENCH_WORKLOADS=random BENCH_RANDOM_OPS=5000 node --import tsx bench/core/layer-timing.ts
 *
 * The wrappers patch better-sqlite3's Statement prototype for this process only; this is a
 * diagnostic, its absolute numbers carry the overhead of the measuring. Same env vars as run.ts.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { readBenchConfig } from './bench-config.js';
import { enclaveSideOver, viaOwnComposition } from './enclave-side.js';
import { runWorkloads } from './workloads.js';
import type { ChunkStore } from '../../src/storage/chunks/chunk-store.js';
import type { MetadataStore } from '../../src/storage/metadata/metadata-store.js';

class Counters {
  private readonly totals = new Map<string, { count: number; ms: number }>();
  add(label: string, ms: number): void {
    const total = this.totals.get(label) ?? { count: 0, ms: 0 };
    total.count++;
    total.ms += ms;
    this.totals.set(label, total);
  }
  reset(): void {
    this.totals.clear();
  }
  print(wallMs: number): void {
    const rows = [...this.totals.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    for (const [label, { count, ms }] of rows) {
      const share = ((100 * ms) / wallMs).toFixed(0);
      console.log(`  ${label.padEnd(34)} n=${String(count).padStart(7)}  sum ${ms.toFixed(0).padStart(7)} ms (${share.padStart(4)}% of wall)  mean ${(ms / count).toFixed(3)} ms`);
    }
  }
}

const counters = new Counters();

async function timedAsync<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    counters.add(label, performance.now() - start);
  }
}

function timedChunks(layer: string, inner: ChunkStore): ChunkStore {
  return {
    put: (id, data) => timedAsync(`chunks.${layer}.put`, () => inner.put(id, data)),
    get: (id, range) => timedAsync(`chunks.${layer}.get`, () => inner.get(id, range)),
    delete: (id) => timedAsync(`chunks.${layer}.delete`, () => inner.delete(id)),
    list: (options) => inner.list(options),
    capacity: () => inner.capacity(),
    close: () => inner.close(),
  };
}

function timedMetadata(inner: MetadataStore): MetadataStore {
  return {
    read: (fn) => timedAsync('metadata.read (latency)', () => inner.read((tx) => timedAsync('metadata.read fn (core logic)', () => fn(tx)))),
    write: (fn) => timedAsync('metadata.write (latency)', () => inner.write((tx) => timedAsync('metadata.write fn (core logic)', () => fn(tx)))),
    close: () => inner.close(),
  };
}

/** Times every synchronous statement call by its SQL's first words. */
function patchSqlite(): void {
  const probe = new Database(':memory:');
  const statementPrototype = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  const databasePrototype = Object.getPrototypeOf(probe) as Record<string, unknown>;
  probe.close();
  const labelOf = (source: string): string => {
    const sql = source.trim().toUpperCase();
    if (sql.startsWith('SELECT VALUE FROM KV WHERE KEY =')) return 'sqlite get';
    if (sql.startsWith('SELECT')) return sql.includes('SQLITE_MASTER') ? 'sqlite snapshot probe' : 'sqlite scan';
    if (sql.startsWith('INSERT')) return 'sqlite put';
    return `sqlite ${sql.split(' ')[0]?.toLowerCase() ?? '?'}`;
  };
  for (const method of ['run', 'get', 'all']) {
    const original = statementPrototype[method] as (...args: unknown[]) => unknown;
    statementPrototype[method] = function (this: { source: string }, ...args: unknown[]) {
      const start = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        counters.add(labelOf(this.source), performance.now() - start);
      }
    };
  }
  const prepare = databasePrototype.prepare as (...args: unknown[]) => unknown;
  databasePrototype.prepare = function (this: unknown, ...args: unknown[]) {
    const start = performance.now();
    try {
      return prepare.apply(this, args);
    } finally {
      counters.add('sqlite prepare', performance.now() - start);
    }
  };
}

const config = readBenchConfig(process.env);
patchSqlite();
const workDir = await mkdtemp(join(config.baseDir, 'enclave-bench-layers-'));
try {
  const opened = await viaOwnComposition(join(workDir, 'enclave'), pino({ level: 'silent' }), {
    metadata: timedMetadata,
    inner: (store) => timedChunks('local', store),
    outer: (store) => timedChunks('encrypted', store),
  });
  const side = await enclaveSideOver(opened, config);
  let phaseStart = 0;
  try {
    await runWorkloads(side, config, (line) => console.log(line), (phase, edge) => {
      if (edge === 'start') {
        counters.reset();
        phaseStart = performance.now();
        return;
      }
      const wallMs = performance.now() - phaseStart;
      const memory = process.memoryUsage();
      console.log(`${phase}: wall ${wallMs.toFixed(0)} ms; rss ${(memory.rss / 1e6).toFixed(0)} MB (V8 heap ${(memory.heapUsed / 1e6).toFixed(0)} MB, external ${(memory.external / 1e6).toFixed(0)} MB)`);
      counters.print(wallMs);
    });
  } finally {
    await side.close();
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}
