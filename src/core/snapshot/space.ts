import type { ReadTransaction } from '../../storage/metadata/metadata-store.js';
import { KeyReader } from '../../storage/metadata/tuple.js';
import type { OpContext } from '../context.js';
import type { Engine } from '../engine.js';
import { FsError } from '../errors.js';
import { isSuperuser } from '../permissions.js';
import { changeByEpochPrefix, chunkRefKey, decodeJson, prefixEnd, RecordType, typePrefix, type SegmentRecord } from '../records.js';

const LOG_PAGE = 5_000;
const VERSIONS_PER_RECORD_MAX = 10_000;

/**
 * Space held by snapshots, computed on demand from the change log (cost: the changes since the
 * snapshot, never the tree), in one consistent read.
 *
 * A version a snapshot holds is a closed version (diedEpoch set) of a record that changed after
 * the snapshot: every record whose version closed logged its prefix in the epoch it closed (the
 * change log). So the walk visits each segment record changed after the epoch once, and sums,
 * per chunk, the references of the closed versions that would go. A chunk is freed when every one
 * of its references goes: its stored reference count equals the references counted. Its size is
 * how far its slices reach into it (chunks are written whole by one write, so that is the chunk,
 * unless a truncate cut a slice and nothing kept the uncut one: then the cut tail is not counted).
 *
 * Only data bytes count (chunks, and small chunks kept inline in the metadata store); metadata
 * versions (inodes, entries) are not counted.
 */
async function freedBytes(
  tx: ReadTransaction,
  afterEpoch: number,
  goes: (nodeId: number, born: number, died: number) => Promise<boolean>,
): Promise<number> {
  const seen = new Set<string>();
  const references = new Map<string, { count: number; end: number }>();
  const end = prefixEnd(typePrefix(RecordType.changeByEpoch));
  let start = changeByEpochPrefix(afterEpoch + 1);
  for (;;) {
    const page = await tx.scan({ start, end, limit: LOG_PAGE });
    for (const entry of page) {
      const recordPrefix = entry.key.subarray(9);
      if (recordPrefix[0] !== RecordType.segment) continue;
      const text = Buffer.from(recordPrefix).toString('latin1');
      if (seen.has(text)) continue;
      seen.add(text);
      const nodeId = new KeyReader(recordPrefix.subarray(1)).uint();
      const versions = await tx.scan({ start: recordPrefix, end: prefixEnd(recordPrefix), limit: VERSIONS_PER_RECORD_MAX });
      for (const version of versions) {
        if (version.key.length !== recordPrefix.length + 8) continue;
        const record = decodeJson<SegmentRecord>(version.value);
        if (record.diedEpoch === undefined) continue;
        const born = new KeyReader(version.key.subarray(recordPrefix.length)).uint();
        if (!(await goes(nodeId, born, record.diedEpoch))) continue;
        for (const slice of record.slices) {
          if (slice.zero === true) continue;
          const known = references.get(slice.chunkId) ?? { count: 0, end: 0 };
          known.count++;
          known.end = Math.max(known.end, slice.chunkOffset + slice.length);
          references.set(slice.chunkId, known);
        }
      }
    }
    const last = page.at(-1);
    if (page.length < LOG_PAGE || last === undefined) break;
    start = prefixEnd(last.key);
  }
  let bytes = 0;
  for (const [chunkId, { count, end: chunkEnd }] of references) {
    const stored = await tx.get(chunkRefKey(chunkId));
    if (stored !== undefined && decodeJson<number>(stored) === count) bytes += chunkEnd;
  }
  return bytes;
}

export interface SnapshotSpace {
  /** Data bytes only this snapshot holds: what deleting it frees. */
  readonly exclusiveBytes: number;
}

/** What deleting snapshot `id` would free (its versions no other snapshot sees). */
export async function snapshotSpace(engine: Engine, ctx: OpContext, id: number): Promise<SnapshotSpace> {
  if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', 'only an administrator may read snapshot capacity');
  const snapshot = engine.snapshots.get(id);
  if (snapshot === undefined) throw new FsError('NotFound', `no snapshot ${id}`);
  const registry = engine.snapshots;
  return engine.metadata.read(async (tx) => {
    // Exactly what reclaim (reclaim.ts) drops once the snapshot is deleted.
    const exclusiveBytes = await freedBytes(tx, snapshot.epoch, async (nodeId, born, died) => {
      if (born > snapshot.epoch || died <= snapshot.epoch) return false;
      return !(await registry.retainedBetween(tx, nodeId, born, died, id));
    });
    return { exclusiveBytes };
  });
}

/**
 * The data bytes every snapshot together holds: what deleting them all would free. Versions of
 * snapshots already deleted and not yet reclaimed are not counted (they are being freed).
 */
export async function snapshotsTotalBytes(engine: Engine, ctx: OpContext): Promise<number> {
  if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', 'only an administrator may read snapshot capacity');
  return computeTotal(engine);
}

async function computeTotal(engine: Engine): Promise<number> {
  const registry = engine.snapshots;
  const oldest = registry.list()[0];
  if (oldest === undefined) {
    engine.snapshotBytes = { bytes: 0, atMs: engine.clock.nowMs() };
    return 0;
  }
  const bytes = await engine.metadata.read((tx) => freedBytes(tx, oldest.epoch, (nodeId, born, died) => registry.retainedBetween(tx, nodeId, born, died)));
  engine.snapshotBytes = { bytes, atMs: engine.clock.nowMs() };
  return bytes;
}

const STATFS_SNAPSHOT_BYTES_MAX_AGE_MS = 60_000;

/**
 * statfs's figure: the last computed total, refreshed in the background when older than a minute
 * (statfs is frequent, from NFS FSSTAT and SMB; the walk costs the changes since the oldest
 * snapshot, so it is not repeated on every call).
 */
export function cachedSnapshotsTotalBytes(engine: Engine): number {
  const cached = engine.snapshotBytes;
  const stale = cached === undefined || engine.clock.nowMs() - cached.atMs > STATFS_SNAPSHOT_BYTES_MAX_AGE_MS;
  if (engine.snapshots.size === 0) return 0;
  if (stale && engine.snapshotBytesRefresh === undefined) {
    engine.snapshotBytesRefresh = computeTotal(engine)
      .catch((error: unknown) => engine.logger.warn({ err: error }, 'computing the bytes held by snapshots failed'))
      .finally(() => {
        engine.snapshotBytesRefresh = undefined;
      });
  }
  return cached?.bytes ?? 0;
}
