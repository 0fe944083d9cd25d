import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Keyring } from '../keys/keyring.js';
import type { DiskActivity } from '../storage/disk-activity.js';
import type { ChunkStore } from '../storage/chunks/chunk-store.js';
import { EncryptedChunkStore } from '../storage/chunks/layers/encrypted-chunk-store.js';
import { WriteCacheChunkStore } from '../storage/chunks/layers/write-cache.js';
import { LocalChunkStore } from '../storage/chunks/local/local-chunk-store.js';

const MIB = 1_048_576;
const SEGMENT_BYTES_MAX = 32 * MIB;
const SEGMENT_BYTES_MIN = 1 * MIB;
const SEGMENTS_MAX = 256;

export interface ChunkStoreFolders {
  readonly chunksDir: string;
  readonly writeCacheDir: string;
}

/**
 * How a write cache of `bytes` is cut into segments: 32 MiB each (less for a cache under 256 MiB,
 * at least 1 MiB), at least 2 of them, and at most SEGMENTS_MAX: each segment keeps a file open,
 * so a large cache gets larger segments (64 GiB: 256 of 256 MiB) instead of thousands of files.
 */
export function writeCacheGeometry(bytes: number): { segmentBytes: number; segmentCount: number } {
  const small = Math.min(SEGMENT_BYTES_MAX, Math.max(SEGMENT_BYTES_MIN, Math.floor(bytes / 8)));
  const segmentBytes = Math.max(small, Math.ceil(bytes / SEGMENTS_MAX / SEGMENT_BYTES_MIN) * SEGMENT_BYTES_MIN);
  return { segmentBytes, segmentCount: Math.min(SEGMENTS_MAX, Math.max(2, Math.floor(bytes / segmentBytes))) };
}

async function hasSegments(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((name) => name.startsWith('segment-'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * The chunk stack the server runs on: encryption over the write cache over the local chunk folder
 * (DESIGN.md). `writeCacheBytes` 0 leaves the cache out. `readOnly` (offline fsck) serves what a
 * stopped server left in the cache without copying it, so the check writes nothing.
 */
export async function openChunkStore(options: {
  readonly folders: ChunkStoreFolders;
  readonly keyring: Keyring;
  readonly writeCacheBytes: number;
  readonly logger: Logger;
  readonly readOnly?: boolean;
  /** Foreground work on the data disk (metadata commits): the write cache copies around it. */
  readonly activity?: DiskActivity;
}): Promise<EncryptedChunkStore> {
  const local = await LocalChunkStore.open({ root: options.folders.chunksDir, logger: options.logger.child({ component: 'chunks' }) });
  let inner: ChunkStore = local;
  try {
    // With the cache off, a cache left by an earlier run with it on is still opened: what it
    // holds is acknowledged data, replayed into the folder; every new put goes to the folder.
    const leftBehind = options.writeCacheBytes === 0 && (await hasSegments(options.folders.writeCacheDir));
    if (options.writeCacheBytes > 0 || options.readOnly === true || leftBehind) {
      inner = await WriteCacheChunkStore.open({
        dir: options.folders.writeCacheDir,
        tier: local,
        ...writeCacheGeometry(Math.max(options.writeCacheBytes, 2 * SEGMENT_BYTES_MIN)),
        logger: options.logger.child({ component: 'write-cache' }),
        ...(options.readOnly === true ? { readOnly: true } : {}),
        ...(options.writeCacheBytes === 0 ? { cachedPutsMax: 0 } : {}),
        ...(options.activity === undefined ? {} : { activity: options.activity }),
      });
    }
  } catch (error) {
    await local.close();
    throw error;
  }
  return new EncryptedChunkStore({ inner, keyring: options.keyring });
}
