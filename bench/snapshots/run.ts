/**
 * Snapshot benchmarks (issue 4): through the core API on the production stores (encrypted SQLite
 * metadata, encrypted local chunks, opened by src/main.ts openInstance).
 *
 * 1. Snapshot creation with 1,000 and with 1,000,000 files below (the million created by 16
 *    concurrent creators, 1,000 directories of 1,000 files).
 * 2. Write throughput (1 MiB overwrites of 16 files of 4 MiB) with 0 and with 100 snapshots of the
 *    written directory held, in interleaved rounds: 100 snapshots are taken right before the run,
 *    so every overwrite closes and keeps a version they see (the worst case); then deleted and
 *    reclaimed before the next round. BENCH_PARTS=create,write,diff picks parts.
 * 3. changes-since: 1 change in the 1,000,000-file tree (snapshot vs live), and 100,000 changes
 *    (snapshot vs snapshot, read in pages of 10,000).
 *
 * The machine is shared: each figure is the median of BENCH_RUNS runs (default 5; 3 for writes).
 * Sizes: BENCH_BIG_FILES (default 1,000,000), BENCH_CHANGES (default 100,000).
 * Usage: node --import tsx bench/snapshots/run.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { defaultConfig } from '../../src/config/config-schema.js';
import { systemContext } from '../../src/core/context.js';
import type { NodeHandle } from '../../src/core/file-system.js';
import { openInstance } from '../../src/main.js';

const env = process.env;
const BIG_FILES = Number(env.BENCH_BIG_FILES ?? 1_000_000);
const CHANGES = Number(env.BENCH_CHANGES ?? 100_000);
const RUNS = Number(env.BENCH_RUNS ?? 5);
const CREATORS = 16;
const FILES_PER_DIR = 1_000;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const fmt = (values: number[]): string => `${median(values).toFixed(2)} (runs: ${values.map((v) => v.toFixed(1)).join(', ')})`;
const log = (text: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${text}\n`);
};

const dataDir = mkdtempSync(join(env.BENCH_DIR ?? tmpdir(), 'enclave-bench-snapshots-'));
const logger = pino({ level: 'silent' });
const instance = await openInstance({ ...defaultConfig(), dataDir }, logger, {
  environment: { ENCLAVE_ADMIN_PASSWORD: randomBytes(18).toString('base64url') },
  stdout: new Writable({ write: (_c, _e, done) => done() }),
});
const fs = instance.fileSystem;
const ctx = systemContext(logger, 'bench');
const root = await fs.root(ctx);

async function populate(parent: NodeHandle, files: number): Promise<NodeHandle[]> {
  const dirCount = Math.ceil(files / FILES_PER_DIR);
  const dirs: NodeHandle[] = [];
  for (let d = 0; d < dirCount; d++) dirs.push((await fs.mkdir(ctx, parent, `d${d}`)).handle);
  let next = 0;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CREATORS }, async () => {
      for (;;) {
        const index = next++;
        if (index >= files) return;
        const dir = dirs[Math.floor(index / FILES_PER_DIR)] as NodeHandle;
        await fs.create(ctx, dir, `f${index % FILES_PER_DIR}`);
        if (++done % 100_000 === 0) log(`created ${done} files (${Math.round(done / ((performance.now() - started) / 1000))}/s)`);
      }
    }),
  );
  return dirs;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const results: string[] = [];
try {
  const parts = new Set((env.BENCH_PARTS ?? 'create,write,diff').split(','));
  // ---- 1. creation with 1,000 and with 1,000,000 files below
  const small = (await fs.mkdir(ctx, root, 'small')).handle;
  await populate(small, 1_000);
  const big = (await fs.mkdir(ctx, root, 'big')).handle;
  const populateStarted = performance.now();
  const bigDirs = parts.has('create') || parts.has('diff') ? await populate(big, BIG_FILES) : [];
  const populateSeconds = (performance.now() - populateStarted) / 1000;
  log(`populated ${BIG_FILES} files in ${populateSeconds.toFixed(0)} s`);
  const smallTimes: number[] = [];
  const bigTimes: number[] = [];
  for (let run = 0; run < (parts.has('create') ? RUNS : 0); run++) {
    for (const [dir, times] of [[small, smallTimes], [big, bigTimes]] as const) {
      let id = 0;
      times.push(await timed(async () => {
        id = (await fs.createSnapshot(ctx, dir, { name: `bench${run}` })).id;
      }));
      await fs.deleteSnapshot(ctx, id);
    }
  }
  if (parts.has('create')) results.push(`| snapshot creation, 1,000 files below | ${fmt(smallTimes)} ms |`);
  if (parts.has('create')) results.push(`| snapshot creation, ${BIG_FILES.toLocaleString('en')} files below (populated in ${populateSeconds.toFixed(0)} s by ${CREATORS} creators) | ${fmt(bigTimes)} ms |`);
  log(results.join('\n'));

  // ---- 2. write throughput with 0 and with 100 snapshots held
  if (parts.has('write')) {
  const w = (await fs.mkdir(ctx, root, 'w')).handle;
  const files: NodeHandle[] = [];
  const MiB = 1024 * 1024;
  const block = randomBytes(MiB);
  for (let i = 0; i < 16; i++) files.push((await fs.create(ctx, w, `f${i}`)).handle);
  const writeAll = async (): Promise<number> => {
    const seconds = (await timed(() => Promise.all(files.map(async (file) => {
      for (let offset = 0; offset < 4 * MiB; offset += MiB) await fs.write(ctx, file, { offset, data: block });
    })))) / 1000;
    return (files.length * 4) / seconds;
  };
  await writeAll();
  // Interleaved rounds, so drift on the shared machine hits both sides alike: a run with no
  // snapshot, then 100 snapshots of the directory are taken and a run overwrites everything they
  // see (every overwrite closes and keeps a version), then they are deleted and reclaimed.
  const WRITE_RUNS = Math.max(5, RUNS);
  const without: number[] = [];
  const withSnapshots: number[] = [];
  for (let run = 0; run < WRITE_RUNS; run++) {
    await fs.maintenance.collectGarbage();
    without.push(await writeAll());
    const held: number[] = [];
    for (let i = 0; i < 100; i++) held.push((await fs.createSnapshot(ctx, w, { name: `held${run}-${i}` })).id);
    withSnapshots.push(await writeAll());
    for (const id of held) await fs.deleteSnapshot(ctx, id);
    await fs.maintenance.collectGarbage();
  }
  results.push(`| write throughput, 0 snapshots held | ${fmt(without)} MiB/s |`);
  results.push(`| write throughput, 100 snapshots of the directory held | ${fmt(withSnapshots)} MiB/s |`);
  results.push(`| ratio (100 / 0) | ${(median(withSnapshots) / median(without)).toFixed(2)} (per round: ${withSnapshots.map((value, index) => (value / (without[index] as number)).toFixed(2)).join(', ')}) |`);
  log(results.join('\n'));
  }

  // ---- 3. changes-since
  if (parts.has('diff')) {
  const base = await fs.createSnapshot(ctx, big, { name: 'base' });
  const one = (await fs.lookup(ctx, bigDirs[Math.floor(bigDirs.length / 2)] as NodeHandle, 'f500')).handle;
  await fs.write(ctx, one, { offset: 0, data: Buffer.from('changed') });
  const oneTimes: number[] = [];
  let oneCount = 0;
  for (let run = 0; run < RUNS; run++) {
    oneTimes.push(await timed(async () => {
      oneCount = (await fs.changesSince(ctx, { newer: 'live', older: base.id, limit: 1000 })).entries.length;
    }));
  }
  results.push(`| changes-since, 1 change in ${BIG_FILES.toLocaleString('en')} files (snapshot vs live; ${oneCount} entry) | ${fmt(oneTimes)} ms |`);
  log(results.join('\n'));

  const before = await fs.createSnapshot(ctx, big, { name: 'before-changes' });
  let next = 0;
  const changeStarted = performance.now();
  await Promise.all(Array.from({ length: CREATORS }, async () => {
    for (;;) {
      const index = next++;
      if (index >= CHANGES) return;
      // Spread over the tree: every tenth file.
      const fileIndex = (index * 10) % BIG_FILES;
      const dir = bigDirs[Math.floor(fileIndex / FILES_PER_DIR)] as NodeHandle;
      const file = (await fs.lookup(ctx, dir, `f${fileIndex % FILES_PER_DIR}`)).handle;
      await fs.write(ctx, file, { offset: 0, data: Buffer.from('x') });
    }
  }));
  log(`made ${CHANGES} changes in ${((performance.now() - changeStarted) / 1000).toFixed(0)} s`);
  const after = await fs.createSnapshot(ctx, big, { name: 'after-changes' });
  const manyTimes: number[] = [];
  let manyCount = 0;
  for (let run = 0; run < Math.min(RUNS, 3); run++) {
    manyTimes.push(await timed(async () => {
      let cursor: string | undefined;
      manyCount = 0;
      do {
        const page = await fs.changesSince(ctx, { newer: after.id, older: before.id, limit: 10_000, ...(cursor === undefined ? {} : { cursor }) });
        manyCount += page.entries.length;
        cursor = page.cursor;
      } while (cursor !== undefined);
    }));
  }
  results.push(`| changes-since, ${CHANGES.toLocaleString('en')} changes (snapshot vs snapshot, pages of 10,000; ${manyCount} entries) | ${fmt(manyTimes)} ms |`);
  }
} finally {
  process.stdout.write(`| measurement | median (runs) |\n| --- | ---: |\n${results.join('\n')}\n`);
  await instance.close();
  rmSync(dataDir, { recursive: true, force: true });
}
