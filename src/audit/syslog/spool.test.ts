import { strict as assert } from 'node:assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SEGMENT_BYTES_MAX, Spool } from './spool.js';

describe('spool', () => {
  it('returns frames in order across segments, survives a reopen, and files are 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'enclave-spool-'));
    try {
      const spool = await Spool.open(join(dir, 's'));
      const frames = Array.from({ length: 40 }, (_, index) => Buffer.alloc(SEGMENT_BYTES_MAX / 16, index));
      await spool.append(frames);
      assert.equal(spool.size(), 40);
      const reopened = await Spool.open(join(dir, 's'));
      assert.equal(reopened.size(), 40);
      const seen: number[] = [];
      for (let next = await reopened.oldest(); next !== undefined; next = await reopened.oldest()) {
        if (seen.length === 0) assert.equal((await stat(join(dir, 's', '000000000001.spool'))).mode & 0o777, 0o600);
        seen.push(...next.frames.map((frame) => frame[0] as number));
        await reopened.remove(next.segment, next.frames.length);
      }
      assert.deepEqual(seen, Array.from({ length: 40 }, (_, index) => index));
      assert.equal(reopened.isEmpty(), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
