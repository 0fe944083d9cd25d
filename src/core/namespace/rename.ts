import { Right } from '../acl/acl.js';
import { rightsToCreate } from '../acl/rights.js';
import { adjustAggregates, contributionOf, scaleAggregate } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { deleteFoldedName, findEntry, putFoldedName, requireLive, touched, type Engine } from '../engine.js';
import { PATH_BYTES_MAX, type RenameRequest } from '../file-system.js';
import { validateName, validateNewName } from '../names.js';
import { requireAccess } from '../permissions.js';
import { direntKey, linkParentKey, ROOT_ID, type InodeRecord } from '../records.js';
import type { WriteScope } from '../scope.js';
import { endVersion, writeVersion } from '../versions.js';
import { dropNode, locate, requireDelete } from './remove.js';
import { encodeXattrs, withXattrs } from './xattrs.js';

/** Whether `ancestorId` is `id` or above it (walking parent links to the root). */
async function isAncestorOrSelf(scope: WriteScope, ancestorId: number, id: number): Promise<boolean> {
  let current = id;
  for (let depth = 0; depth <= PATH_BYTES_MAX; depth++) {
    if (current === ancestorId) return true;
    if (current === ROOT_ID) return false;
    const record = await scope.inode(current);
    if (record === undefined) return false;
    current = record.parentId;
  }
  throw new Error(`directory ${id} is deeper than the path limit allows`);
}

/**
 * Atomic rename (POSIX rename(2) semantics): within or across directories; replacing a file, or
 * an empty directory with a directory; refusing a directory over a non-empty directory
 * (NotEmpty), a directory over a file (NotADirectory), a file over a directory (IsADirectory) and
 * a directory into its own subtree (InvalidArgument). Renaming one link of a file onto another
 * link of the same file does nothing, as POSIX says.
 */
export async function renameEntry(engine: Engine, ctx: OpContext, request: RenameRequest): Promise<void> {
  const { sourceDir, sourceName, targetDir, targetName } = request;
  requireLive(sourceDir);
  requireLive(targetDir);
  validateName(sourceName);
  validateNewName(targetName);
  if (request.xattrs !== undefined) encodeXattrs(request.xattrs);
  await engine.mutate(ctx, async (scope) => {
    const source = await locate(scope, ctx, sourceDir, sourceName);
    const target = await scope.node(targetDir);
    if (target.type !== 'directory') throw new FsError('NotADirectory', 'the target parent is not a directory');
    requireAccess(ctx, target, Right.EXECUTE, 'look up in the target directory');
    if (sourceDir.id === targetDir.id && sourceName === targetName) return;
    const movedId = source.entry.record.id;
    const isDirectory = source.child.type === 'directory';
    requireDelete(ctx, source, `move "${sourceName}"`);
    if (request.xattrs !== undefined) requireAccess(ctx, source.child, Right.WRITE_NAMED_ATTRS, 'set the extended attributes of the moved node');
    requireAccess(ctx, target, rightsToCreate(isDirectory), 'add to the target directory');
    if (isDirectory && (await isAncestorOrSelf(scope, movedId, targetDir.id))) {
      throw new FsError('InvalidArgument', 'cannot move a directory into itself or its own subtree');
    }
    const existing = await findEntry(scope, targetDir.id, targetName);
    if (existing !== undefined) {
      if (existing.record.id === movedId) return;
      if (request.noReplace === true) throw new FsError('Exists', `"${targetName}" already exists`);
      const replaced = await locate(scope, ctx, targetDir, targetName);
      if (isDirectory && replaced.child.type !== 'directory') throw new FsError('NotADirectory', `"${targetName}" is not a directory`);
      if (!isDirectory && replaced.child.type === 'directory') throw new FsError('IsADirectory', `"${targetName}" is a directory`);
      requireDelete(ctx, replaced, `replace "${targetName}"`);
      await dropNode(scope, targetDir.id, targetName, replaced);
      deleteFoldedName(scope, targetDir.id, targetName);
    }
    await endVersion(scope, source.entry);
    deleteFoldedName(scope, sourceDir.id, sourceName);
    await writeVersion(scope, (born) => direntKey(targetDir.id, targetName, born), existing, source.entry.record);
    putFoldedName(scope, targetDir.id, targetName);
    await moveNode(scope, { movedId, moved: source.child, sourceDirId: sourceDir.id, sourceName, targetDirId: targetDir.id, targetName });
    if (request.xattrs !== undefined) await scope.setInode(movedId, withXattrs((await scope.inode(movedId)) as InodeRecord, request.xattrs));
  });
}

interface Move {
  readonly movedId: number;
  readonly moved: InodeRecord;
  readonly sourceDirId: number;
  readonly sourceName: string;
  readonly targetDirId: number;
  readonly targetName: string;
}

/** Link bookkeeping, link counts, times and aggregates of a moved node and its two directories. */
async function moveNode(scope: WriteScope, move: Move): Promise<void> {
  const { movedId, moved, sourceDirId, targetDirId } = move;
  const isDirectory = moved.type === 'directory';
  let next = touched(moved, scope.nowNs, false);
  const extraLink = linkParentKey(movedId, sourceDirId, move.sourceName);
  if (!isDirectory && moved.nlink > 1 && (await scope.tx.get(extraLink)) !== undefined) {
    scope.tx.delete(extraLink);
    scope.tx.put(linkParentKey(movedId, targetDirId, move.targetName), new Uint8Array(0));
  } else {
    next = { ...next, parentId: targetDirId, name: move.targetName };
  }
  await scope.setInode(movedId, next);
  const sourceDir = (await scope.inode(sourceDirId)) as InodeRecord;
  await scope.setInode(sourceDirId, { ...touched(sourceDir, scope.nowNs, true), nlink: sourceDir.nlink - (isDirectory ? 1 : 0) });
  const targetDir = (await scope.inode(targetDirId)) as InodeRecord;
  await scope.setInode(targetDirId, { ...touched(targetDir, scope.nowNs, true), nlink: targetDir.nlink + (isDirectory ? 1 : 0) });
  const contribution = contributionOf(moved);
  // Subtract first, so a move inside one quota never counts the bytes twice.
  await adjustAggregates(scope, sourceDirId, scaleAggregate(contribution, -1));
  await adjustAggregates(scope, targetDirId, contribution);
}
