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
import { isFsError } from '../src/core/errors.js';
import { openInstance } from '../src/main.js';

const ACKS_BEFORE_KILL = 400;

function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function contentFor(name: string, version: number, sizeBytes: number): Buffer {
  const seed = createHash('sha256').update(`${name}:${version}`).digest();
  const data = Buffer.alloc(sizeBytes);
  for (let offset = 0; offset < sizeBytes; offset += seed.length) seed.copy(data, offset);
  return data;
}

interface Expected {
  name: string;
  size: number;
  version: number;
  removed: boolean;
}

/** Replays the acknowledged operations: what each worker's files must look like after restart. */
function expectedState(lines: string[]): { files: Map<string, Expected>; inFlight: Set<string> } {
  const files = new Map<string, Expected>();
  const pending = new Map<string, string>();
  for (const line of lines) {
    const [kind, worker, op, name, extra] = line.split(' ');
    if (kind === 'BEGIN') pending.set(worker as string, `${worker}/${name}`);
    if (kind !== 'ACK') continue;
    pending.delete(worker as string);
    const id = `${worker}/${name}`;
    if (op === 'create') files.set(id, { name: name as string, size: Number(extra), version: 1, removed: false });
    if (op === 'overwrite') (files.get(id) as Expected).version = 2;
    if (op === 'rename') {
      const moved = files.get(id) as Expected;
      files.delete(id);
      files.set(`${worker}/${extra}`, { ...moved, name: name as string });
    }
    if (op === 'remove' && files.has(id)) (files.get(id) as Expected).removed = true;
  }
  return { files, inFlight: new Set(pending.values()) };
}

describe('crash safety', () => {
  // Without and with the write cache (decision 0006): with it, acknowledged chunks may be only in
  // its segments when the process dies, and come back by replay.
  for (const writeCacheBytes of [0, 16 * 1_048_576]) {
    it(`keeps every acknowledged operation and a consistent store after SIGKILL during a write load (write cache ${writeCacheBytes === 0 ? 'off' : 'on'})`, { timeout: 240_000 }, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'enclave-crash-'));
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'crash-writer.ts'), dataDir, String(writeCacheBytes)], { stdio: ['ignore', 'pipe', 'pipe'] });
        const lines: string[] = [];
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
        let acks = 0;
        for await (const line of createInterface({ input: child.stdout })) {
          lines.push(line);
          if (line.startsWith('ACK') && ++acks === ACKS_BEFORE_KILL) child.kill('SIGKILL');
        }
        assert.equal(await exited, 'SIGKILL', `the writer died on its own: ${stderr}`);

        const { files, inFlight } = expectedState(lines);
        const logger = pino({ level: 'silent' });
        const instance = await openInstance({ ...testConfig(), dataDir, gcGraceSeconds: 0, writeCacheBytes }, logger, { environment: {}, stdout: process.stderr });
        try {
          const fs = instance.fileSystem;
          const ctx = systemContext(logger);
          let checked = 0;
          for (const [id, expected] of files) {
            const [worker, currentName] = id.split('/') as [string, string];
            if (inFlight.has(`${worker}/${expected.name}`) || inFlight.has(id)) continue;
            const found = await fs.resolvePath(ctx, `/w${worker}/${currentName}`).catch((error: unknown) => {
              if (isFsError(error, 'NotFound')) return undefined;
              throw error;
            });
            if (expected.removed) {
              assert.equal(found, undefined, `${id} was removed and acknowledged`);
              continue;
            }
            assert.ok(found !== undefined, `${id} was acknowledged but is missing`);
            const { data } = await fs.read(ctx, found.handle, { offset: 0, length: expected.size + 1 });
            assert.equal(sha(data), sha(contentFor(expected.name, expected.version, expected.size)), `${id} has the acknowledged content`);
            checked++;
          }
          assert.ok(checked >= ACKS_BEFORE_KILL / 4, `checked ${checked} files`);
          const before = await checkConsistency(instance.metadata, instance.chunkStore);
          assert.deepEqual(before.problems, []);
          await fs.maintenance.collectGarbage();
          const after = await checkConsistency(instance.metadata, instance.chunkStore);
          assert.deepEqual(after.problems, []);
          assert.equal(after.unreferencedChunks, 0, 'chunks of unacknowledged writes are collected');
        } finally {
          await instance.close();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});
