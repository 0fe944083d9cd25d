import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { openInstance } from '../src/main.js';

const NAME = 'confidential-plan.txt';
const MARKER = 'TOP-SECRET-MARKER';

function patterns(): Array<{ label: string; bytes: Buffer }> {
  const result: Array<{ label: string; bytes: Buffer }> = [];
  for (const text of [NAME, MARKER]) {
    result.push({ label: `${text} (UTF-8)`, bytes: Buffer.from(text, 'utf8') });
    result.push({ label: `${text} (UTF-16LE)`, bytes: Buffer.from(text, 'utf16le') });
    result.push({ label: `${text} (UTF-16BE)`, bytes: Buffer.from(text, 'utf16le').swap16() });
  }
  return result;
}

/** Every file below `root` that contains any of the patterns, with the pattern found. */
function scan(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const content = readFileSync(path);
      for (const pattern of patterns()) if (content.includes(pattern.bytes)) found.push(`${path}: ${pattern.label}`);
      if (name.includes(NAME) || name.includes(MARKER)) found.push(`${path}: in a file name`);
    }
  };
  walk(root);
  return found;
}

describe('encryption at rest', () => {
  it('leaves neither file names nor contents readable anywhere under the data dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'enclave-at-rest-'));
    try {
      const logger = pino({ level: 'silent' });
      const instance = await openInstance({ ...testConfig(), dataDir }, logger, { environment: { ENCLAVE_ADMIN_PASSWORD: 'at-rest-test-password-1' }, stdout: process.stderr });
      const fs = instance.fileSystem;
      const ctx = systemContext(logger);
      const root = await fs.root(ctx);
      const plans = (await fs.mkdir(ctx, root, `plans-${MARKER}`)).handle;
      const file = (await fs.create(ctx, plans, NAME)).handle;
      await fs.write(ctx, file, { offset: 0, data: Buffer.from(`${MARKER}\n`.repeat(20_000), 'utf8') });
      const small = (await fs.create(ctx, root, `${NAME}.utf16`)).handle;
      await fs.write(ctx, small, { offset: 0, data: Buffer.from(`${MARKER} in UTF-16`, 'utf16le') });
      assert.deepEqual(scan(dataDir), [], 'nothing readable while the instance runs (WAL included)');
      await instance.close();
      assert.deepEqual(scan(dataDir), [], 'nothing readable after it stopped');

      // The scan itself can fail: a plaintext copy is found.
      writeFileSync(join(dataDir, 'control'), `x ${MARKER} x`);
      assert.equal(scan(dataDir).length, 1);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
