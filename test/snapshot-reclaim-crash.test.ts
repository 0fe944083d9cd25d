import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import pino from 'pino';
import { testConfig } from './support/test-config.js';
import { checkConsistency } from '../src/core/check/consistency-check.js';
import { systemContext } from '../src/core/context.js';
import { prefixEnd, RecordType, typePrefix } from '../src/core/records.js';
import { openInstance } from '../src/main.js';

const FILES = 1_500;
const FILE_BYTES = 70_000;
/** The same content as the child writes (fixtures/snapshot-reclaim-writer.ts). */
function contentFor(name: string, version: number, sizeBytes: number): Buffer {
  const seed = createHash('sha256').update(`${name}:${version}`).digest();
  const data = Buffer.alloc(sizeBytes);
  for (let offset = 0; offset < sizeBytes; offset += seed.length) seed.copy(data, offset);
  return data;
}

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('snapshot reclaim crash safety', () => {
  it('SIGKILL in the middle of reclaiming a deleted snapshot: restart, finish, nothing live lost, nothing leaked', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'enclave-reclaim-crash-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'snapshot-reclaim-writer.ts'), dataDir, String(FILES)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      const lines: string[] = [];
      for await (const line of createInterface({ input: child.stdout })) {
        lines.push(line);
        if (line === 'PROGRESS') child.kill('SIGKILL');
      }
      assert.equal(await exited, 'SIGKILL', `the child was not killed mid-reclaim: ${lines.join(' | ')} ${stderr}`);
      assert.ok(!lines.includes('FINISHED'), 'killed before reclaim finished');
      const [, , keptId] = (lines.find((line) => line.startsWith('SNAPSHOTS ')) as string).split(' ');

      const logger = pino({ level: 'silent' });
      const instance = await openInstance({ ...testConfig(), dataDir, gcGraceSeconds: 0 }, logger, { environment: {}, stdout: process.stderr });
      try {
        const fs = instance.fileSystem;
        const ctx = systemContext(logger);
        const pending = await instance.metadata.read((tx) => tx.scan({ start: typePrefix(RecordType.snapshotReclaim), end: prefixEnd(typePrefix(RecordType.snapshotReclaim)), limit: 10 }));
        assert.equal(pending.length, 1, 'the reclaim was interrupted: its work item survived the crash');
        const midway = await checkConsistency(instance.metadata, instance.chunkStore);
        assert.deepEqual(midway.problems, [], 'consistent even half-reclaimed');
        const keptBefore = midway.keptVersions;

        await fs.maintenance.collectGarbage();
        const report = await checkConsistency(instance.metadata, instance.chunkStore, { settled: true });
        assert.deepEqual(report.problems, []);
        assert.equal(report.unreferencedChunks, 0, 'no chunk leaked');
        assert.equal(report.snapshots, 1);
        assert.ok(report.keptVersions < keptBefore, `reclaim finished: ${report.keptVersions} kept versions, ${keptBefore} before`);
        // What the surviving snapshot holds: the first version of each file in keep/ (inode and segment).
        assert.equal(report.keptVersions, 2 * (FILES / 10));

        // Nothing live lost: every file has its second version; the kept snapshot its first.
        const keptRoot = await fs.snapshotRoot(ctx, Number(keptId));
        for (let index = 0; index < FILES; index++) {
          const name = `f${index}`;
          const live = await fs.resolvePath(ctx, index % 10 === 0 ? `/held/keep/${name}` : `/held/${name}`);
          const { data } = await fs.read(ctx, live.handle, { offset: 0, length: FILE_BYTES + 1 });
          assert.equal(sha(data), sha(contentFor(name, 2, FILE_BYTES)), `${name} live`);
          if (index % 10 === 0) {
            const old = await fs.lookup(ctx, keptRoot, name);
            const { data: oldData } = await fs.read(ctx, old.handle, { offset: 0, length: FILE_BYTES + 1 });
            assert.equal(sha(oldData), sha(contentFor(name, 1, FILE_BYTES)), `${name} in the kept snapshot`);
          }
        }
        // And the space accounting agrees: the kept snapshot alone holds the old keep/ data.
        assert.equal((await fs.snapshotSpace(ctx, Number(keptId))).exclusiveBytes, (FILES / 10) * FILE_BYTES);
      } finally {
        await instance.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
