import { Right } from '../acl/acl.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { SNAPSHOT_DIRECTORY, toAttributes, type Engine } from '../engine.js';
import type { Attributes, DirectoryEntry, NodeHandle, NodeInfo, ReaddirPage } from '../file-system.js';
import { requireAccess } from '../permissions.js';
import { inodePrefix, type InodeRecord, type SnapshotRecord } from '../records.js';
import type { ReadScope } from '../scope.js';
import { readVersion } from '../versions.js';

/**
 * The virtual `.snapshot` directory in every live directory: absent from listings, reachable by
 * name, holding one entry `{id}_{name}` per snapshot that contains the directory; each entry is
 * the directory as it was in that snapshot. Everything in it is read-only (its handles carry a
 * snapshot, and every mutation refuses those).
 */
export const SNAPSHOT_DIRECTORY_NAME = '.snapshot';

export function isSnapshotDirectory(handle: NodeHandle): boolean {
  return handle.snapshot === SNAPSHOT_DIRECTORY;
}

export function snapshotDirectoryAttributes(id: number, live: InodeRecord): Attributes {
  return { ...toAttributes(id, live), mode: 0o555, nlink: 2, size: 0, allocatedBytes: 0 };
}

/** The `.snapshot` directory of a live directory. */
export async function openSnapshotDirectory(scope: ReadScope, ctx: OpContext, dir: NodeHandle): Promise<NodeInfo> {
  const record = await scope.node(dir);
  if (record.type !== 'directory') throw new FsError('NotADirectory', 'not a directory');
  requireAccess(ctx, record, Right.EXECUTE, 'look up in the directory');
  return { handle: { id: dir.id, generation: dir.generation, snapshot: SNAPSHOT_DIRECTORY }, attributes: snapshotDirectoryAttributes(dir.id, record) };
}

/** The snapshots that contain directory `id` (it existed in them, under their root). */
async function snapshotsContaining(engine: Engine, scope: ReadScope, id: number, generation: number): Promise<Array<{ snapshot: SnapshotRecord; record: InodeRecord }>> {
  const found: Array<{ snapshot: SnapshotRecord; record: InodeRecord }> = [];
  for (const snapshot of engine.snapshots.list()) {
    const version = await readVersion<InodeRecord>(scope.tx, inodePrefix(id), snapshot.epoch);
    if (version === undefined || version.record.generation !== generation) continue;
    if (await engine.snapshots.covers(scope.tx, snapshot, id)) found.push({ snapshot, record: version.record });
  }
  return found;
}

export async function lookupInSnapshotDirectory(engine: Engine, scope: ReadScope, ctx: OpContext, dir: NodeHandle, name: string): Promise<NodeInfo> {
  await openSnapshotDirectory(scope, ctx, dir);
  const match = /^(\d{1,15})_/.exec(name);
  const snapshot = match === null ? undefined : engine.snapshots.get(Number(match[1]));
  if (snapshot === undefined || name !== `${snapshot.id}_${snapshot.name}`) throw new FsError('NotFound', `no snapshot "${name}"`);
  const containing = await snapshotsContaining(engine, scope, dir.id, dir.generation);
  const entry = containing.find((candidate) => candidate.snapshot.id === snapshot.id);
  if (entry === undefined) throw new FsError('NotFound', `snapshot "${name}" does not contain this directory`);
  return { handle: { id: dir.id, generation: dir.generation, snapshot: snapshot.id }, attributes: toAttributes(dir.id, entry.record) };
}

export async function readSnapshotDirectory(engine: Engine, scope: ReadScope, ctx: OpContext, dir: NodeHandle, options: { cursor?: string; limit: number; withAttributes?: boolean }): Promise<ReaddirPage> {
  const live = await scope.node(dir);
  requireAccess(ctx, live, Right.READ_DATA, 'list the directory');
  const after = options.cursor === undefined ? 0 : Number(options.cursor);
  if (!Number.isSafeInteger(after) || after < 0) throw new FsError('InvalidArgument', 'invalid directory cursor');
  const containing = (await snapshotsContaining(engine, scope, dir.id, dir.generation)).filter(({ snapshot }) => snapshot.id > after).sort((left, right) => left.snapshot.id - right.snapshot.id);
  const page = containing.slice(0, options.limit);
  const entries: DirectoryEntry[] = page.map(({ snapshot, record }) => ({
    name: `${snapshot.id}_${snapshot.name}`,
    handle: { id: dir.id, generation: dir.generation, snapshot: snapshot.id },
    type: 'directory',
    ...(options.withAttributes === true ? { attributes: toAttributes(dir.id, record) } : {}),
  }));
  const last = page.at(-1);
  return containing.length > options.limit && last !== undefined ? { entries, cursor: String(last.snapshot.id) } : { entries };
}
