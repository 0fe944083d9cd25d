/**
 * Audit overhead (issue 7 item 7): 4 KiB writes through core by 16 concurrent callers, without and
 * with an audit event per write (`auditor.emitFor(ctx, {operation: 'fs_write_data', ...})`, what a
 * protocol edge does). The instance is opened through the composition root (encrypted SQLite
 * metadata, encrypted chunks); the auditor writes its hash-chained log into the same metadata
 * store, as in production. The audited phase's time includes `auditor.flush()`, so every event is
 * durable in the local log when the clock stops. Phases alternate (plain, audited, plain, audited)
 * to spread drift; each figure is the sum over its two runs.
 *
 *   node --import tsx bench/audit/run.ts            # 20,000 writes per run
 *   AUDIT_BENCH_WRITES=5000 node --import tsx bench/audit/run.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Auditor } from '../../src/audit/auditor.js';
import { CheckpointKey } from '../../src/audit/checkpoint-key.js';
import { LocalAuditLog } from '../../src/audit/local-log.js';
import { defaultConfig } from '../../src/config/config-schema.js';
import { systemContext } from '../../src/core/context.js';
import type { NodeHandle } from '../../src/core/file-system.js';
import { openInstance } from '../../src/main.js';
import { createLogger } from '../../src/ops/logger.js';

const WRITES = Number(process.env.AUDIT_BENCH_WRITES ?? 20_000);
const CONCURRENCY = 16;
const BLOCK = 4096;
const FILE_BLOCKS = 4096; // each caller cycles through a 16 MiB file

const logger = createLogger({ level: 'silent' });
const dir = await mkdtemp(join(tmpdir(), 'enclave-bench-audit-'));
const instance = await openInstance({ ...defaultConfig(), dataDir: join(dir, 'data') }, logger, { environment: { ENCLAVE_ADMIN_PASSWORD: 'Bench-Audit-Password-1' }, stdout: new Writable({ write: (_c, _e, cb) => cb() }) });
try {
  const fs = instance.fileSystem;
  const ctx = systemContext(logger);
  const root = await fs.root(ctx);
  const files: NodeHandle[] = [];
  for (let index = 0; index < CONCURRENCY; index++) files.push((await fs.create(ctx, root, `bench-${index}`, { mode: 0o644 })).handle);
  const log = await LocalAuditLog.open({ metadata: instance.metadata, clock: instance.clock, key: CheckpointKey.fromSeed(instance.deriveKey('audit-checkpoints/v1')) });
  const auditor = new Auditor({ log, clock: instance.clock, logger });
  const data = new Uint8Array(BLOCK).fill(0x5a);

  const run = async (audited: boolean): Promise<number> => {
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      files.map(async (handle, caller) => {
        for (;;) {
          const op = next++;
          if (op >= WRITES) return;
          const offset = ((op / CONCURRENCY) % FILE_BLOCKS | 0) * BLOCK;
          await fs.write(ctx, handle, { offset, data });
          if (audited) auditor.emitFor(ctx, { operation: 'fs_write_data', fileId: String(handle.id), path: `/bench-${caller}`, details: { offset, size: BLOCK } });
        }
      }),
    );
    if (audited) await auditor.flush();
    return Number(process.hrtime.bigint() - started) / 1e9;
  };

  await run(false); // warm-up: fills the files' first blocks
  const seconds = { plain: 0, audited: 0 };
  for (let round = 0; round < 2; round++) {
    seconds.plain += await run(false);
    seconds.audited += await run(true);
  }
  const plain = (2 * WRITES) / seconds.plain;
  const audited = (2 * WRITES) / seconds.audited;
  const verify = await log.verify();
  console.log(JSON.stringify({ writesPerRun: WRITES, concurrency: CONCURRENCY, blockBytes: BLOCK, plainWritesPerSecond: Math.round(plain), auditedWritesPerSecond: Math.round(audited), auditedOverPlain: Number((audited / plain).toFixed(3)), overheadPercent: Number(((plain / audited - 1) * 100).toFixed(1)), auditRecords: verify.records, verifyOk: verify.ok, dropped: auditor.backlog().droppedEvents }));
  await auditor.close();
} finally {
  await instance.close();
  await rm(dir, { recursive: true, force: true });
}
