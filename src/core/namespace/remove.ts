import { Right } from '../acl/acl.js';
import { STICKY_MODE_BIT } from '../acl/mode.js';
import { canDelete } from '../acl/rights.js';
import { adjustAggregates, contributionOf, EMPTY_AGGREGATE, scaleAggregate } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { deleteFoldedName, findEntry, requireLive, touched, unlinkNode, type Engine } from '../engine.js';
import type { NodeHandle } from '../file-system.js';
import { validateName } from '../names.js';
import { aclOf, ownershipOf, requireAccess } from '../permissions.js';
import type { DirentRecord, InodeRecord } from '../records.js';
import type { WriteScope } from '../scope.js';
import { endVersion, type Version } from '../versions.js';

export interface Located {
  readonly dir: InodeRecord;
  readonly entry: Version<DirentRecord>;
  readonly child: InodeRecord;
}

/** Resolves `name` in a directory for a change: the directory, its entry, and the child node. */
export async function locate(scope: WriteScope, ctx: OpContext, dirHandle: NodeHandle, name: string): Promise<Located> {
  const dir = await scope.node(dirHandle);
  if (dir.type !== 'directory') throw new FsError('NotADirectory', 'the parent is not a directory');
  requireAccess(ctx, dir, Right.EXECUTE, 'look up in the directory');
  const entry = await findEntry(scope, dirHandle.id, name);
  if (entry === undefined) throw new FsError('NotFound', `"${name}" does not exist`);
  const child = await scope.inode(entry.record.id);
  if (child === undefined) throw new Error(`directory entry "${name}" points at missing node ${entry.record.id}`);
  return { dir, entry, child };
}

export function requireDelete(ctx: OpContext, located: Located, purpose: string): void {
  const allowed = canDelete({
    parentAcl: aclOf(located.dir),
    parentOwner: ownershipOf(located.dir),
    childAcl: aclOf(located.child),
    childOwner: ownershipOf(located.child),
    principal: ctx.principal,
    sticky: (located.dir.mode & STICKY_MODE_BIT) !== 0,
  });
  if (!allowed) throw new FsError('PermissionDenied', `${purpose}: neither DELETE on it nor DELETE_CHILD on its directory is granted`);
}

function isEmptyDirectory(record: InodeRecord): boolean {
  const below = record.aggregate ?? EMPTY_AGGREGATE;
  return below.files === 0 && below.directories === 0 && below.symlinks === 0;
}

/**
 * Drops the node behind an entry that is being removed or replaced (the entry itself is the
 * caller's): a directory must be empty; a file loses one link.
 */
export async function dropNode(scope: WriteScope, dirId: number, name: string, located: Located): Promise<void> {
  const { entry, child } = located;
  if (child.type === 'directory') {
    if (!isEmptyDirectory(child)) throw new FsError('NotEmpty', `directory "${name}" is not empty`);
    await scope.deleteInode(entry.record.id);
    const dir = (await scope.inode(dirId)) as InodeRecord;
    await scope.setInode(dirId, { ...dir, nlink: dir.nlink - 1 });
    await adjustAggregates(scope, dirId, scaleAggregate(contributionOf(child), -1));
    return;
  }
  await unlinkNode(scope, entry.record.id, child, dirId, name);
}

async function removeEntry(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, name: string, expectDirectory: boolean): Promise<void> {
  requireLive(dirHandle);
  validateName(name);
  await engine.mutate(ctx, async (scope) => {
    const located = await locate(scope, ctx, dirHandle, name);
    const isDirectory = located.child.type === 'directory';
    if (expectDirectory && !isDirectory) throw new FsError('NotADirectory', `"${name}" is not a directory`);
    if (!expectDirectory && isDirectory) throw new FsError('IsADirectory', `"${name}" is a directory`);
    requireDelete(ctx, located, `remove "${name}"`);
    await scope.setInode(dirHandle.id, touched(located.dir, scope.nowNs, true));
    await dropNode(scope, dirHandle.id, name, located);
    await endVersion(scope, located.entry);
    deleteFoldedName(scope, dirHandle.id, name);
  });
}

export function removeFile(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, name: string): Promise<void> {
  return removeEntry(engine, ctx, dirHandle, name, false);
}

export function removeDirectory(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, name: string): Promise<void> {
  return removeEntry(engine, ctx, dirHandle, name, true);
}
