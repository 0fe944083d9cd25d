/**
 * Core benchmark: the same workloads through the Enclave FileSystem API (encryption on, fresh
 * data dir) and straight on the local file system, side by side.
 *
 *   npm run bench:core                        # full size (100k files, 1 GiB, 20k random writes)
 *   BENCH_SCALE=small npm run bench:core      # smoke run
 *   BENCH_SIDES=enclave node --cpu-prof --import tsx bench/core/run.ts   # profile one side
 *
 * Each side runs in its own child process (forked with the same node flags), so the resident
 * memory of one does not count against the other and a --cpu-prof profile holds one side only.
 * Prints `metric enclave local unit ratio` (ratio = enclave / local) and a markdown table; with
 * BENCH_MARKDOWN=<file> the table is also written there. Sizes: see bench-config.ts.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBenchConfig, type BenchConfig } from './bench-config.js';
import { openEnclaveSide } from './enclave-side.js';
import { openLocalSide } from './local-side.js';
import type { BenchSide } from './side.js';
import { runWorkloads, type Metric } from './workloads.js';

type SideName = 'enclave' | 'local';

interface SideResult {
  readonly side: SideName;
  readonly via: string;
  readonly describe: BenchSide<unknown, unknown>['describe'];
  readonly metrics: Metric[];
  readonly rssMaxBytes: number;
  readonly seconds: number;
}

const TARGETS: Readonly<Record<string, { readonly text: string; readonly met: (value: number) => boolean }>> = {
  create: { text: '≥ 10,000/s', met: (value) => value >= 10_000 },
  list: { text: '< 1 s', met: (value) => value < 1 },
  'sequential write': { text: '≥ 300 MB/s', met: (value) => value >= 300 },
  'sequential read': { text: '≥ 300 MB/s', met: (value) => value >= 300 },
  random: { text: '≥ 5,000/s', met: (value) => value >= 5_000 },
  'max RSS': { text: '< 500 MB', met: (value) => value < 500 },
};

function targetFor(metric: string): (typeof TARGETS)[string] | undefined {
  if (metric.startsWith('list ')) return TARGETS.list;
  if (metric.startsWith('random ')) return TARGETS.random;
  return TARGETS[metric];
}

/** Samples process.memoryUsage().rss on a timer; the event loop being blocked delays samples. */
function sampleMemory(intervalMs: number): () => number {
  let maxBytes = process.memoryUsage().rss;
  const timer = setInterval(() => {
    maxBytes = Math.max(maxBytes, process.memoryUsage().rss);
  }, intervalMs);
  return () => {
    clearInterval(timer);
    return Math.max(maxBytes, process.memoryUsage().rss);
  };
}

async function runSide(side: SideName, workDir: string, config: BenchConfig): Promise<SideResult> {
  const log = (line: string): void => console.error(line);
  const stopSampling = sampleMemory(config.memorySampleIntervalMs);
  const start = process.hrtime.bigint();
  const opened = side === 'enclave' ? await openEnclaveSide(join(workDir, 'enclave'), config, log) : await openLocalSide(join(workDir, 'local'), config);
  try {
    const metrics = await runWorkloads<unknown, unknown>(opened as BenchSide<unknown, unknown>, config, log);
    const rssMaxBytes = stopSampling();
    metrics.push({ name: 'max RSS', value: rssMaxBytes / 1e6, unit: 'MB', higherIsBetter: false });
    const via = 'via' in opened && typeof opened.via === 'string' ? opened.via : 'node:fs/promises';
    return { side, via, describe: opened.describe, metrics, rssMaxBytes, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  } finally {
    stopSampling();
    await opened.close();
  }
}

function forkSide(side: SideName, workDir: string): Promise<SideResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: process.execArgv,
      env: { ...process.env, BENCH_SIDE: side, BENCH_WORK_DIR: workDir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: SideResult | undefined;
    child.on('message', (message) => {
      result = message as SideResult;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result !== undefined && code === 0) resolve(result);
      else reject(new Error(`${side} side exited with ${signal ?? `code ${code}`}`));
    });
  });
}

function format(value: number | undefined): string {
  if (value === undefined) return '—';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

function report(results: readonly SideResult[], config: BenchConfig): string {
  const enclave = results.find((result) => result.side === 'enclave');
  const local = results.find((result) => result.side === 'local');
  const names = (enclave ?? local)?.metrics.map((metric) => metric.name) ?? [];
  const rows: string[] = [];
  console.log('metric enclave local unit ratio');
  for (const name of names) {
    const enclaveMetric = enclave?.metrics.find((metric) => metric.name === name);
    const localMetric = local?.metrics.find((metric) => metric.name === name);
    const unit = (enclaveMetric ?? localMetric)?.unit ?? '';
    const ratio = enclaveMetric !== undefined && localMetric !== undefined ? enclaveMetric.value / localMetric.value : undefined;
    const target = targetFor(name);
    const verdict = target === undefined || enclaveMetric === undefined ? '' : `${target.text}: ${target.met(enclaveMetric.value) ? 'met' : '**missed**'}`;
    console.log(`${name.replaceAll(' ', '_')} ${enclaveMetric?.value.toFixed(3) ?? '-'} ${localMetric?.value.toFixed(3) ?? '-'} ${unit} ${ratio?.toFixed(3) ?? '-'}`);
    rows.push(`| ${name} | ${format(enclaveMetric?.value)} | ${format(localMetric?.value)} | ${unit} | ${ratio === undefined ? '—' : ratio.toFixed(2)} | ${verdict} |`);
  }
  const describe = (key: keyof SideResult['describe']): string =>
    `| ${key} | ${enclave?.describe[key] ?? '—'} | ${local?.describe[key] ?? '—'} |`;
  return [
    `Sizes: ${config.filesCount} files in ${config.directoriesCount} directories, ${config.callersCount} concurrent callers; ` +
      `one directory of ${config.listEntriesCount} entries listed in pages of ${config.listPageEntries}; ` +
      `${config.sequentialMiB} MiB sequential in 1 MiB calls; ${config.randomOpsCount} random ${config.randomWriteBytes}-byte overwrites in a ${config.randomFileMiB} MiB file. ` +
      `Enclave opened via ${enclave?.via ?? '—'}. Ratio = enclave / local. MB = 10^6 bytes.`,
    '',
    '| metric | enclave | local fs | unit | ratio | target (enclave) |',
    '| --- | ---: | ---: | --- | ---: | --- |',
    ...rows,
    '',
    '| workload | enclave does | local fs does |',
    '| --- | --- | --- |',
    ...(['create', 'stat', 'list', 'sequential', 'random'] as const).map(describe),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const config = readBenchConfig(process.env);
  const childSide = process.env.BENCH_SIDE;
  const childWorkDir = process.env.BENCH_WORK_DIR;
  if ((childSide === 'enclave' || childSide === 'local') && childWorkDir !== undefined && process.send !== undefined) {
    const result = await runSide(childSide, childWorkDir, config);
    await new Promise<void>((resolve, reject) => process.send?.(result, (error: Error | null) => (error ? reject(error) : resolve())));
    return;
  }
  const sides = (process.env.BENCH_SIDES ?? 'enclave,local').split(',').map((side) => side.trim());
  for (const side of sides) if (side !== 'enclave' && side !== 'local') throw new Error(`BENCH_SIDES lists enclave and/or local, not ${side}`);
  const workDir = await mkdtemp(join(config.baseDir, 'enclave-bench-core-'));
  console.error(`bench:core scale=${config.scale} in ${workDir}; node ${process.version}`);
  try {
    const results: SideResult[] = [];
    for (const side of sides as SideName[]) {
      const result = await forkSide(side, workDir);
      console.error(`${side}: done in ${result.seconds.toFixed(1)} s`);
      results.push(result);
    }
    const markdown = report(results, config);
    console.log(`\n${markdown}`);
    if (process.env.BENCH_MARKDOWN !== undefined) await writeFile(process.env.BENCH_MARKDOWN, markdown);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

await main();
