import { randomBytes } from 'node:crypto';
import type { ChunkId } from './chunk-store.js';

/**
 * A chunk id is 16 bytes as 32 hex characters: 6 bytes of creation time in milliseconds, then 10
 * random bytes. Ids therefore sort by creation time, which lets the garbage collector's sweep
 * leave alone chunks younger than a grace period (a writer may not have committed them yet).
 */
export const CHUNK_ID_PATTERN = /^[0-9a-f]{32}$/;

export function newChunkId(nowMs: number = Date.now(), random: (size: number) => Buffer = randomBytes): ChunkId {
  const time = Buffer.alloc(6);
  time.writeUIntBE(Math.floor(nowMs), 0, 6);
  return time.toString('hex') + random(10).toString('hex');
}

export function chunkIdTimeMs(id: ChunkId): number {
  return Number.parseInt(id.slice(0, 12), 16);
}

export function isChunkId(value: string): boolean {
  return CHUNK_ID_PATTERN.test(value);
}
