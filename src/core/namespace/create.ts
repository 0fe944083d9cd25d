import { inheritAcl } from '../acl/inherit.js';
import { aclFromMode, modeFromAcl, SPECIAL_MODE_BITS } from '../acl/mode.js';
import { Right, type Ace, type Acl } from '../acl/acl.js';
import { rightsToCreate } from '../acl/rights.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { adjustAggregates, contributionOf, EMPTY_AGGREGATE } from '../aggregates.js';
import { findEntry, handleOf, putFoldedName, requireLive, toAttributes, touched, type Engine } from '../engine.js';
import { LINKS_MAX, type CreateResult, type NodeHandle, type NodeType } from '../file-system.js';
import { validateNewName, validateSymlinkTarget } from '../names.js';
import { aclOf, isSuperuser, requireAccess, storedAcl } from '../permissions.js';
import { direntKey, linkParentKey, type DirentRecord, type InodeRecord } from '../records.js';
import type { WriteScope } from '../scope.js';
import { writeVersion } from '../versions.js';

export interface NewNode {
  readonly type: NodeType;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly symlinkTarget?: string;
  /** For files: open the existing file instead of failing when the name exists. */
  readonly openExisting?: boolean;
}

const DEFAULT_MODE: Record<NodeType, number> = { file: 0o644, directory: 0o755, symlink: 0o777 };

/** Validates a requested mode: an integer within 0..0o7777. */
export function requestedMode(mode: number | undefined, type: NodeType): number {
  if (mode === undefined) return DEFAULT_MODE[type];
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new FsError('InvalidArgument', `invalid mode ${String(mode)}`);
  return mode;
}

/**
 * Creates a file, directory or symlink `name` in `dirHandle`. The new node's ACL is inherited
 * from the directory when it has inheritable entries (NFSv4/NTFS), otherwise made from the mode.
 * The owner is the caller; only a superuser may create on behalf of another uid or gid.
 */
export async function createNode(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, name: string, spec: NewNode): Promise<CreateResult> {
  requireLive(dirHandle);
  validateNewName(name);
  const mode = requestedMode(spec.mode, spec.type);
  if (spec.symlinkTarget !== undefined) validateSymlinkTarget(spec.symlinkTarget);
  if (!isSuperuser(ctx) && (spec.uid !== undefined || spec.gid !== undefined)) {
    const ownGid = spec.gid === undefined || ctx.principal.gids.includes(spec.gid);
    if ((spec.uid !== undefined && spec.uid !== ctx.principal.uid) || !ownGid) {
      throw new FsError('PermissionDenied', 'only a superuser may create a node owned by someone else');
    }
  }
  return engine.mutate(ctx, async (scope) => {
    const dir = await scope.node(dirHandle);
    if (dir.type !== 'directory') throw new FsError('NotADirectory', 'the parent is not a directory');
    requireAccess(ctx, dir, Right.EXECUTE, 'look up in the directory');
    const existing = await findEntry(scope, dirHandle.id, name);
    if (existing !== undefined) {
      if (spec.openExisting !== true || existing.record.type !== 'file') throw new FsError('Exists', `"${name}" already exists`);
      const record = await scope.node({ id: existing.record.id, generation: existing.record.generation });
      return { handle: handleOf(existing.record.id, record), attributes: toAttributes(existing.record.id, record), created: false };
    }
    requireAccess(ctx, dir, rightsToCreate(spec.type === 'directory'), 'create in the directory');
    const id = await scope.nextNodeId();
    const record = newRecord(engine, scope, ctx, { dir, dirId: dirHandle.id, name, spec, mode });
    scope.createInode(id, record);
    const dirent: DirentRecord = { id, generation: record.generation, type: spec.type };
    await writeVersion(scope, (born) => direntKey(dirHandle.id, name, born), undefined, dirent);
    putFoldedName(scope, dirHandle.id, name);
    const dirChanged = touched(dir, scope.nowNs, true);
    await scope.setInode(dirHandle.id, spec.type === 'directory' ? { ...dirChanged, nlink: dir.nlink + 1 } : dirChanged);
    await adjustAggregates(scope, dirHandle.id, contributionOf(record));
    return { handle: handleOf(id, record), attributes: toAttributes(id, record), created: true };
  });
}

export function newRecord(engine: Engine, scope: WriteScope, ctx: OpContext, input: { dir: InodeRecord; dirId: number; name: string; spec: NewNode; mode: number }): InodeRecord {
  const { dir, dirId, name, spec, mode } = input;
  const isDirectory = spec.type === 'directory';
  const inherited = spec.type === 'symlink' ? undefined : inheritAcl(aclOf(dir), isDirectory);
  const fromMode = inherited === undefined ? madeFromMode(mode & 0o777, spec.type) : undefined;
  // setgid on a directory: new nodes take the directory's group, and subdirectories keep setgid.
  const setgidDir = (dir.mode & 0o2000) !== 0;
  const gid = spec.gid ?? (setgidDir ? dir.gid : ctx.principal.gids[0] ?? ctx.principal.uid);
  let special = mode & SPECIAL_MODE_BITS;
  if (isDirectory && setgidDir) special |= 0o2000;
  const now = scope.nowNs.toString();
  const permissionBits = fromMode?.permissionBits ?? modeFromAcl(inherited as Acl, isDirectory);
  return {
    type: spec.type,
    generation: engine.newGeneration(),
    mode: special | permissionBits,
    uid: spec.uid ?? ctx.principal.uid,
    gid,
    ownerSid: spec.uid === undefined ? ctx.principal.sid : undefined,
    groupSid: spec.gid === undefined && !setgidDir ? ctx.principal.groupSids?.[0] : undefined,
    size: spec.symlinkTarget === undefined ? 0 : Buffer.byteLength(spec.symlinkTarget, 'utf8'),
    allocatedBytes: 0,
    nlink: isDirectory ? 2 : 1,
    atimeNs: now,
    mtimeNs: now,
    ctimeNs: now,
    birthTimeNs: now,
    changeId: 1,
    parentId: dirId,
    name,
    acl: fromMode === undefined ? storedAcl(inherited as Acl, permissionBits, isDirectory) : fromMode.stored && [...fromMode.stored],
    symlinkTarget: spec.symlinkTarget,
    aggregate: isDirectory ? { ...EMPTY_AGGREGATE } : undefined,
  };
}

interface MadeFromMode {
  readonly permissionBits: number;
  /** The `acl` field to store (undefined for nearly every mode); copied before it is stored. */
  readonly stored: readonly Ace[] | undefined;
}

const madeFromModeMemo = new Map<string, MadeFromMode>();

/**
 * What a node with nothing inheritable gets from its create mode: its permission bits and the ACL
 * field to store, memoised per mode and type (512 x 3), since every such create asks the same.
 */
function madeFromMode(modeBits: number, type: NodeType): MadeFromMode {
  const memoKey = `${type}:${modeBits}`;
  let made = madeFromModeMemo.get(memoKey);
  if (made === undefined) {
    const isDirectory = type === 'directory';
    const acl = aclFromMode(modeBits, isDirectory);
    const permissionBits = type === 'symlink' ? 0o777 : modeFromAcl(acl, isDirectory);
    made = { permissionBits, stored: storedAcl(acl, permissionBits, isDirectory) };
    madeFromModeMemo.set(memoKey, made);
  }
  return made;
}

/** A new hard link `name` in `dirHandle` to the non-directory `target`. */
export async function linkNode(engine: Engine, ctx: OpContext, target: NodeHandle, dirHandle: NodeHandle, name: string): Promise<CreateResult> {
  requireLive(target);
  requireLive(dirHandle);
  validateNewName(name);
  return engine.mutate(ctx, async (scope) => {
    const record = await scope.node(target);
    if (record.type === 'directory') throw new FsError('IsADirectory', 'cannot hard-link a directory');
    if (record.nlink >= LINKS_MAX) throw new FsError('TooManyLinks', `a node has at most ${LINKS_MAX} links`);
    const dir = await scope.node(dirHandle);
    if (dir.type !== 'directory') throw new FsError('NotADirectory', 'the parent is not a directory');
    requireAccess(ctx, dir, Right.EXECUTE | Right.WRITE_DATA, 'add a link to the directory');
    if ((await findEntry(scope, dirHandle.id, name)) !== undefined) throw new FsError('Exists', `"${name}" already exists`);
    await writeVersion<DirentRecord>(scope, (born) => direntKey(dirHandle.id, name, born), undefined, { id: target.id, generation: record.generation, type: record.type });
    putFoldedName(scope, dirHandle.id, name);
    scope.tx.put(linkParentKey(target.id, dirHandle.id, name), new Uint8Array(0));
    const linked = { ...touched(record, scope.nowNs, false), nlink: record.nlink + 1 };
    await scope.setInode(target.id, linked);
    await scope.setInode(dirHandle.id, touched(dir, scope.nowNs, true));
    await adjustAggregates(scope, dirHandle.id, contributionOf(record));
    return { handle: handleOf(target.id, linked), attributes: toAttributes(target.id, linked), created: true };
  });
}
