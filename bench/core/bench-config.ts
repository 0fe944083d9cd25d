/**
 * Sizes of the core benchmark, read from the environment. `BENCH_SCALE=small` gives a smoke run of
 * a few seconds; every size can be set on its own on top of either scale.
 */
import { tmpdir } from 'node:os';

export type SequentialSync = 'each' | 'end';

export const WORKLOAD_NAMES = ['create', 'stat', 'list', 'sequential', 'random'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface BenchConfig {
  readonly scale: 'full' | 'small';
  /** Parent folder of the fresh data dirs; each side gets its own and removes it at the end. */
  readonly baseDir: string;
  readonly filesCount: number;
  readonly directoriesCount: number;
  readonly callersCount: number;
  readonly listEntriesCount: number;
  readonly listPageEntries: number;
  readonly sequentialMiB: number;
  readonly randomFileMiB: number;
  readonly randomOpsCount: number;
  readonly randomWriteBytes: number;
  /** Local side of the sequential write: fdatasync after every MiB, or one fsync at the end. */
  readonly localSequentialSync: SequentialSync;
  readonly memorySampleIntervalMs: number;
  readonly seed: number;
  /** BENCH_WORKLOADS, a comma list; stat needs create. Default: all. */
  readonly workloads: ReadonlySet<WorkloadName>;
}

type Sizes = Pick<BenchConfig, 'filesCount' | 'directoriesCount' | 'callersCount' | 'listEntriesCount' | 'listPageEntries' | 'sequentialMiB' | 'randomFileMiB' | 'randomOpsCount'>;

const FULL: Sizes = {
  filesCount: 100_000,
  directoriesCount: 100,
  callersCount: 16,
  listEntriesCount: 100_000,
  listPageEntries: 1_000,
  sequentialMiB: 1_024,
  randomFileMiB: 256,
  randomOpsCount: 20_000,
};

const SMALL: Sizes = {
  filesCount: 2_000,
  directoriesCount: 100,
  callersCount: 16,
  listEntriesCount: 5_000,
  listPageEntries: 1_000,
  sequentialMiB: 32,
  randomFileMiB: 16,
  randomOpsCount: 1_000,
};

function positiveInteger(environment: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = environment[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return value;
}

export function readBenchConfig(environment: NodeJS.ProcessEnv): BenchConfig {
  const scaleText = environment.BENCH_SCALE ?? 'full';
  if (scaleText !== 'full' && scaleText !== 'small') throw new Error(`BENCH_SCALE must be full or small, not ${JSON.stringify(scaleText)}`);
  const defaults = scaleText === 'small' ? SMALL : FULL;
  const syncText = environment.BENCH_LOCAL_SEQ_SYNC ?? 'each';
  if (syncText !== 'each' && syncText !== 'end') throw new Error(`BENCH_LOCAL_SEQ_SYNC must be each or end, not ${JSON.stringify(syncText)}`);
  const workloadNames = (environment.BENCH_WORKLOADS ?? WORKLOAD_NAMES.join(',')).split(',').map((name) => name.trim());
  for (const name of workloadNames) {
    if (!(WORKLOAD_NAMES as readonly string[]).includes(name)) throw new Error(`BENCH_WORKLOADS lists ${WORKLOAD_NAMES.join(', ')}; not ${JSON.stringify(name)}`);
  }
  const workloads = new Set(workloadNames as WorkloadName[]);
  if (workloads.has('stat') && !workloads.has('create')) throw new Error('BENCH_WORKLOADS: stat needs create');
  const config: BenchConfig = {
    scale: scaleText,
    baseDir: environment.BENCH_DIR ?? tmpdir(),
    filesCount: positiveInteger(environment, 'BENCH_FILES', defaults.filesCount),
    directoriesCount: positiveInteger(environment, 'BENCH_DIRS', defaults.directoriesCount),
    callersCount: positiveInteger(environment, 'BENCH_CALLERS', defaults.callersCount),
    listEntriesCount: positiveInteger(environment, 'BENCH_LIST_ENTRIES', defaults.listEntriesCount),
    listPageEntries: positiveInteger(environment, 'BENCH_LIST_PAGE', defaults.listPageEntries),
    sequentialMiB: positiveInteger(environment, 'BENCH_SEQ_MIB', defaults.sequentialMiB),
    randomFileMiB: positiveInteger(environment, 'BENCH_RANDOM_FILE_MIB', defaults.randomFileMiB),
    randomOpsCount: positiveInteger(environment, 'BENCH_RANDOM_OPS', defaults.randomOpsCount),
    randomWriteBytes: positiveInteger(environment, 'BENCH_RANDOM_BYTES', 4_096),
    localSequentialSync: syncText,
    memorySampleIntervalMs: positiveInteger(environment, 'BENCH_MEMORY_SAMPLE_MS', 100),
    seed: positiveInteger(environment, 'BENCH_SEED', 20_261_127),
    workloads,
  };
  if ((config.randomFileMiB * 1024 * 1024) % config.randomWriteBytes !== 0) throw new Error('BENCH_RANDOM_BYTES must divide the random file size');
  return config;
}
