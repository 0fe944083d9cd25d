import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { requireLive, type Engine } from '../engine.js';
import type { NodeHandle } from '../file-system.js';
import { isSuperuser } from '../permissions.js';
import { decodeJson, encodeJson, metaKey, snapshotKey, snapshotReclaimKey, type SnapshotRecord } from '../records.js';

export const SNAPSHOT_NAME_CHARS_MAX = 255;

/** What the management API and protocols see of a snapshot. */
export interface SnapshotInfo {
  readonly id: number;
  readonly name: string;
  /** `{id}_{name}`: its entry in every `.snapshot` directory below its root. */
  readonly directoryName: string;
  readonly rootId: number;
  readonly createdAtNs: bigint;
  readonly expirationNs?: bigint;
  readonly lockKeyId?: string;
  readonly source?: string;
}

export function snapshotInfo(record: SnapshotRecord): SnapshotInfo {
  return {
    id: record.id,
    name: record.name,
    directoryName: `${record.id}_${record.name}`,
    rootId: record.rootId,
    createdAtNs: BigInt(record.createdAtNs),
    ...(record.expirationNs === undefined ? {} : { expirationNs: BigInt(record.expirationNs) }),
    ...(record.lockKeyId === undefined ? {} : { lockKeyId: record.lockKeyId }),
    ...(record.source === undefined ? {} : { source: record.source }),
  };
}

function requireAdministrator(ctx: OpContext, what: string): void {
  if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', `only an administrator may ${what}`);
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > SNAPSHOT_NAME_CHARS_MAX || name.includes('/') || name.includes('\0') || !name.isWellFormed()) {
    throw new FsError('InvalidName', `a snapshot name is 1-${SNAPSHOT_NAME_CHARS_MAX} characters without "/" or NUL`);
  }
}

/**
 * Takes a snapshot of a directory: O(1) and no space, whatever lies below. The snapshot is the
 * current epoch; the live tree moves on to the next one, so every later change writes a new
 * version and the snapshot keeps seeing the old one (records.ts, versions.ts).
 */
export async function createSnapshot(
  engine: Engine,
  ctx: OpContext,
  dir: NodeHandle,
  options: { name: string; expirationNs?: bigint; lockKeyId?: string; source?: string },
): Promise<SnapshotInfo> {
  requireLive(dir);
  requireAdministrator(ctx, 'take snapshots');
  checkName(options.name);
  const now = engine.clock.nowNs();
  if (options.expirationNs !== undefined && options.expirationNs <= now) throw new FsError('InvalidArgument', 'the expiration must be in the future');
  return engine.mutate(ctx, async (scope) => {
    const root = await scope.node(dir);
    if (root.type !== 'directory') throw new FsError('NotADirectory', 'snapshots are taken of directories');
    const stored = await scope.tx.get(metaKey('nextSnapshotId'));
    const id = stored === undefined ? 1 : decodeJson<number>(stored);
    scope.tx.put(metaKey('nextSnapshotId'), encodeJson(id + 1));
    const record: SnapshotRecord = {
      id,
      epoch: scope.epoch,
      rootId: dir.id,
      rootGeneration: root.generation,
      name: options.name,
      createdAtNs: now.toString(),
      ...(options.expirationNs === undefined ? {} : { expirationNs: options.expirationNs.toString() }),
      ...(options.lockKeyId === undefined ? {} : { lockKeyId: options.lockKeyId }),
      ...(options.source === undefined ? {} : { source: options.source }),
    };
    scope.tx.put(snapshotKey(id), encodeJson(record));
    engine.advanceEpoch(scope.tx);
    engine.snapshots.add(record);
    scope.tx.onRollback(() => engine.snapshots.remove(id));
    return snapshotInfo(record);
  });
}

export function listSnapshots(engine: Engine): SnapshotInfo[] {
  return engine.snapshots.list().map(snapshotInfo);
}

export function getSnapshot(engine: Engine, id: number): SnapshotInfo {
  const record = engine.snapshots.get(id);
  if (record === undefined) throw new FsError('NotFound', `no snapshot ${id}`);
  return snapshotInfo(record);
}

/** The snapshot's root directory as a (read-only) handle. */
export function snapshotRoot(engine: Engine, id: number): NodeHandle {
  const record = engine.snapshots.get(id);
  if (record === undefined) throw new FsError('NotFound', `no snapshot ${id}`);
  return { id: record.rootId, generation: record.rootGeneration, snapshot: id };
}

function isLockedNow(record: SnapshotRecord, nowNs: bigint): boolean {
  const expired = record.expirationNs !== undefined && BigInt(record.expirationNs) <= nowNs;
  return record.lockKeyId !== undefined && !expired;
}

async function changeSnapshot(engine: Engine, ctx: OpContext, id: number, change: (record: SnapshotRecord, nowNs: bigint) => SnapshotRecord | 'delete'): Promise<SnapshotInfo> {
  return engine.mutate(ctx, async (scope) => {
    const value = await scope.tx.get(snapshotKey(id));
    if (value === undefined) throw new FsError('NotFound', `no snapshot ${id}`);
    const record = decodeJson<SnapshotRecord>(value);
    const next = change(record, scope.nowNs);
    if (next === 'delete') {
      scope.tx.delete(snapshotKey(id));
      // Reclaiming what only this snapshot held happens in the background, in bounded steps.
      scope.tx.put(snapshotReclaimKey(id), encodeJson({ snapshot: record }));
      engine.snapshots.remove(id);
      scope.tx.onRollback(() => engine.snapshots.add(record));
    } else {
      scope.tx.put(snapshotKey(id), encodeJson(next));
      engine.snapshots.add(next);
      scope.tx.onRollback(() => engine.snapshots.add(record));
    }
    return snapshotInfo(record);
  });
}

/**
 * Deletes a snapshot. A locked snapshot cannot be deleted by anyone, the administrator included,
 * until it is unlocked or has expired (Locked).
 */
export async function deleteSnapshot(engine: Engine, ctx: OpContext, id: number): Promise<void> {
  requireAdministrator(ctx, 'delete snapshots');
  await changeSnapshot(engine, ctx, id, (record, now) => {
    if (isLockedNow(record, now)) throw new FsError('Locked', `snapshot ${id} is locked: unlock it with its key first`);
    return 'delete';
  });
}

/** Changes the expiration; on a locked snapshot it may only move later (never removed). */
export async function setSnapshotExpiration(engine: Engine, ctx: OpContext, id: number, expirationNs: bigint | null): Promise<SnapshotInfo> {
  requireAdministrator(ctx, 'change snapshots');
  const changed = await changeSnapshot(engine, ctx, id, (record, now) => {
    if (isLockedNow(record, now)) {
      const current = record.expirationNs === undefined ? undefined : BigInt(record.expirationNs);
      if (expirationNs === null || (current !== undefined && expirationNs < current)) {
        throw new FsError('Locked', `snapshot ${id} is locked: its expiration can only be extended`);
      }
    }
    if (expirationNs !== null && expirationNs <= now) throw new FsError('InvalidArgument', 'the expiration must be in the future');
    const next: SnapshotRecord = { ...record };
    if (expirationNs === null) delete next.expirationNs;
    else next.expirationNs = expirationNs.toString();
    return next;
  });
  return getSnapshot(engine, changed.id);
}

/** Locks with a registered key (the management layer checked the key), or unlocks (null). */
export async function setSnapshotLock(engine: Engine, ctx: OpContext, id: number, lockKeyId: string | null): Promise<SnapshotInfo> {
  requireAdministrator(ctx, 'lock snapshots');
  await changeSnapshot(engine, ctx, id, (record) => {
    const next: SnapshotRecord = { ...record };
    if (lockKeyId === null) delete next.lockKeyId;
    else next.lockKeyId = lockKeyId;
    return next;
  });
  return getSnapshot(engine, id);
}

/** Snapshots whose expiration has passed, for the expirer (locked ones expire too). */
export function expiredSnapshots(engine: Engine, nowNs: bigint): number[] {
  return engine.snapshots
    .list()
    .filter((record) => record.expirationNs !== undefined && BigInt(record.expirationNs) <= nowNs)
    .map((record) => record.id);
}
