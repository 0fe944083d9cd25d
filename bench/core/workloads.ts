/**
 * The workloads of the core benchmark, run unchanged against either side. Each returns its
 * metrics; setup (directories, pre-filling) is never inside a timed region.
 */
import { createHash } from 'node:crypto';
import type { BenchConfig } from './bench-config.js';
import type { BenchSide } from './side.js';

const MIB = 1024 * 1024;
/** MB = 10^6 bytes, as in bench/chunks. */
const MB = 1_000_000;

export interface Metric {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Whether a bigger value is better (rates) or a smaller one (seconds, memory). */
  readonly higherIsBetter: boolean;
}

/** Runs `task(index)` for index 0..count-1 with `callers` concurrent callers sharing one counter. */
export async function runConcurrently(count: number, callers: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const caller = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(callers, count) }, caller));
}

async function timeSeconds(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** A small deterministic generator (mulberry32), so both sides overwrite the same offsets. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One MiB of pseudo-random bytes per index: a shared base with the index stamped in front. */
function blockFor(base: Uint8Array, index: number): Uint8Array {
  const block = Buffer.from(base);
  block.writeUInt32BE(index >>> 0, 0);
  return block;
}

export type Log = (line: string) => void;

/** Called around each timed region, for instrumented runs (layer-timing.ts). */
export type PhaseHook = (phase: string, edge: 'start' | 'end') => void;

export async function runWorkloads<D, F>(side: BenchSide<D, F>, config: BenchConfig, log: Log, onPhase: PhaseHook = () => {}): Promise<Metric[]> {
  const timed = async (phase: string, fn: () => Promise<void>): Promise<number> => {
    onPhase(phase, 'start');
    const seconds = await timeSeconds(fn);
    onPhase(phase, 'end');
    return seconds;
  };
  const metrics: Metric[] = [];
  const random = seededRandom(config.seed);
  const base = new Uint8Array(MIB);
  for (let offset = 0; offset < MIB; offset += 4) new DataView(base.buffer).setUint32(offset, Math.floor(random() * 4_294_967_296));

  // 1. Empty files across many directories, `callersCount` concurrent creators.
  if (config.workloads.has('create')) await createAndStat(side, config, log, timed, metrics);
  if (config.workloads.has('list')) await list(side, config, log, timed, metrics);
  if (config.workloads.has('sequential')) await sequential(side, config, log, timed, metrics, base);
  if (config.workloads.has('random')) await randomOverwrites(side, config, log, timed, metrics, base, random);
  return metrics;
}

type Timed = (phase: string, fn: () => Promise<void>) => Promise<number>;

async function createAndStat<D, F>(side: BenchSide<D, F>, config: BenchConfig, log: Log, timed: Timed, metrics: Metric[]): Promise<void> {
  const directories: D[] = [];
  for (let index = 0; index < config.directoriesCount; index++) directories.push(await side.makeDirectory(`d${index}`));
  const directoryOf = (index: number): D => directories[index % directories.length] as D;
  const createSeconds = await timed('create', () =>
    runConcurrently(config.filesCount, config.callersCount, (index) => side.createEmpty(directoryOf(index), `f${index}`)),
  );
  metrics.push({ name: 'create', value: config.filesCount / createSeconds, unit: 'creates/s', higherIsBetter: true });
  log(`${side.name}: created ${config.filesCount} files in ${createSeconds.toFixed(2)} s`);

  if (!config.workloads.has('stat')) return;
  // 2. Stat every one of them (lookup by name with attributes), same concurrency.
  const statSeconds = await timed('stat', () =>
    runConcurrently(config.filesCount, config.callersCount, async (index) => {
      const size = await side.stat(directoryOf(index), `f${index}`);
      if (size !== 0) throw new Error(`f${index} has size ${size}, expected 0`);
    }),
  );
  metrics.push({ name: 'stat', value: config.filesCount / statSeconds, unit: 'stats/s', higherIsBetter: true });
  log(`${side.name}: stat ${config.filesCount} files in ${statSeconds.toFixed(2)} s`);
}

async function list<D, F>(side: BenchSide<D, F>, config: BenchConfig, log: Log, timed: Timed, metrics: Metric[]): Promise<void> {
  // 3. One big directory, filled concurrently (timed separately), then listed page by page.
  const big = await side.makeDirectory('big');
  const fillSeconds = await timed('create (one dir)', () =>
    runConcurrently(config.listEntriesCount, config.callersCount, (index) => side.createEmpty(big, `entry-${index}`)),
  );
  metrics.push({ name: 'create (one dir)', value: config.listEntriesCount / fillSeconds, unit: 'creates/s', higherIsBetter: true });
  let listed = 0;
  const listSeconds = await timed('list', async () => {
    listed = await side.list(big, config.listPageEntries);
  });
  if (listed !== config.listEntriesCount) throw new Error(`listed ${listed} entries, expected ${config.listEntriesCount}`);
  metrics.push({ name: `list ${config.listEntriesCount} entries`, value: listSeconds, unit: 's', higherIsBetter: false });
  log(`${side.name}: filled one directory in ${fillSeconds.toFixed(2)} s, listed it in ${listSeconds.toFixed(3)} s`);
}

async function sequential<D, F>(side: BenchSide<D, F>, config: BenchConfig, log: Log, timed: Timed, metrics: Metric[], base: Uint8Array): Promise<void> {
  // 4. Sequential 1 MiB writes, then reads, with a checksum over both.
  const sequential = await side.createFile('sequential');
  // The checksum of what is written is taken before the timer: hashing 1 MiB costs ~0.8 ms here,
  // which would count as write time (for both sides) if done in the loop.
  const written = createHash('sha256');
  for (let index = 0; index < config.sequentialMiB; index++) written.update(blockFor(base, index));
  const sync = side.name === 'enclave' || config.localSequentialSync === 'each';
  const writeSeconds = await timed('sequential write', async () => {
    for (let index = 0; index < config.sequentialMiB; index++) {
      await side.write(sequential, index * MIB, blockFor(base, index), { sync });
    }
    await side.flush(sequential);
  });
  const read = createHash('sha256');
  const readSeconds = await timed('sequential read', async () => {
    for (let index = 0; index < config.sequentialMiB; index++) {
      const block = await side.read(sequential, index * MIB, MIB);
      if (block.length !== MIB) throw new Error(`short read at MiB ${index}: ${block.length} bytes`);
      read.update(block);
    }
  });
  await side.closeFile(sequential);
  if (written.digest('hex') !== read.digest('hex')) throw new Error('sequential read-back checksum differs from what was written');
  const sequentialMB = (config.sequentialMiB * MIB) / MB;
  metrics.push({ name: 'sequential write', value: sequentialMB / writeSeconds, unit: 'MB/s', higherIsBetter: true });
  metrics.push({ name: 'sequential read', value: sequentialMB / readSeconds, unit: 'MB/s', higherIsBetter: true });
  log(`${side.name}: wrote ${config.sequentialMiB} MiB in ${writeSeconds.toFixed(2)} s, read it in ${readSeconds.toFixed(2)} s (checksum ok)`);
}

async function randomOverwrites<D, F>(
  side: BenchSide<D, F>,
  config: BenchConfig,
  log: Log,
  timed: Timed,
  metrics: Metric[],
  base: Uint8Array,
  random: () => number,
): Promise<void> {
  // 5. Random aligned overwrites in a pre-filled file, `callersCount` concurrent writers.
  const target = await side.createFile('random');
  for (let index = 0; index < config.randomFileMiB; index++) await side.write(target, index * MIB, blockFor(base, index), { sync: true });
  await side.flush(target);
  const slots = (config.randomFileMiB * MIB) / config.randomWriteBytes;
  const offsets = Array.from({ length: config.randomOpsCount }, () => Math.floor(random() * slots) * config.randomWriteBytes);
  const payload = base.subarray(0, config.randomWriteBytes);
  const randomSeconds = await timed('random overwrite', () =>
    runConcurrently(config.randomOpsCount, config.callersCount, (index) => side.write(target, offsets[index] as number, payload, { sync: true })),
  );
  const probe = offsets[0] as number;
  const probed = await side.read(target, probe, config.randomWriteBytes);
  if (Buffer.compare(Buffer.from(probed), Buffer.from(payload)) !== 0) throw new Error(`random overwrite at ${probe} did not read back`);
  await side.closeFile(target);
  metrics.push({ name: `random ${config.randomWriteBytes / 1024} KiB overwrite`, value: config.randomOpsCount / randomSeconds, unit: 'ops/s', higherIsBetter: true });
  log(`${side.name}: ${config.randomOpsCount} random overwrites in ${randomSeconds.toFixed(2)} s`);
}
