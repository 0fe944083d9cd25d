import { Right, type Acl } from '../acl/acl.js';
import { applyMode, modeFromAcl, SPECIAL_MODE_BITS } from '../acl/mode.js';
import { validateAcl } from '../acl/validate.js';
import { adjustForSize, EMPTY_AGGREGATE } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { requireLive, toAttributes, touched, type Engine } from '../engine.js';
import { FILE_BYTES_MAX, type Aggregates, type Attributes, type NodeHandle, type SetAttributes, type TimeChange } from '../file-system.js';
import { aclOf, hasAccess, isOwner, isSuperuser, requireAccess, storedAcl } from '../permissions.js';
import type { InodeRecord } from '../records.js';
import type { WriteScope } from '../scope.js';
import { withoutContentXattrs } from './xattrs.js';
import { isSnapshotDirectory, snapshotDirectoryAttributes } from '../snapshot/snapshot-directory.js';

export async function getattr(engine: Engine, ctx: OpContext, handle: NodeHandle): Promise<Attributes> {
  return engine.inspect(ctx, handle, async (scope) => {
    const record = await scope.node(handle);
    return isSnapshotDirectory(handle) ? snapshotDirectoryAttributes(handle.id, record) : toAttributes(handle.id, record);
  });
}

function checkTime(value: TimeChange | undefined, name: string): void {
  if (value === undefined || value === 'now') return;
  if (typeof value !== 'bigint' || value < -(2n ** 63n) || value >= 2n ** 63n) throw new FsError('InvalidArgument', `invalid ${name}`);
}

function checkChanges(changes: SetAttributes): void {
  if (changes.size !== undefined && (!Number.isSafeInteger(changes.size) || changes.size < 0)) {
    throw new FsError('InvalidArgument', 'size must be a non-negative integer');
  }
  if (changes.size !== undefined && changes.size > FILE_BYTES_MAX) throw new FsError('FileTooLarge', `a file is at most ${FILE_BYTES_MAX} bytes`);
  for (const [name, id] of [['uid', changes.uid], ['gid', changes.gid]] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff)) throw new FsError('InvalidArgument', `invalid ${name}`);
  }
  checkTime(changes.atime, 'atime');
  checkTime(changes.mtime, 'mtime');
  checkTime(changes.birthTime, 'birth time');
}

/**
 * POSIX rules for changing attributes, decided on the unified ACL: chmod needs WRITE_ACL (the
 * owner has it implicitly); chown to another user only for a superuser, or to oneself with
 * WRITE_OWNER (Windows "take ownership"); chgrp for the owner to a group they belong to; explicit
 * times need WRITE_ATTRIBUTES (implicit for the owner), "now" also write access; size needs write
 * access. A non-superuser's chown or chgrp clears setuid and setgid.
 */
export async function setattr(engine: Engine, ctx: OpContext, handle: NodeHandle, changes: SetAttributes): Promise<Attributes> {
  requireLive(handle);
  checkChanges(changes);
  if (isSizeOnly(changes)) {
    const unchanged = await sameSize(engine, ctx, handle, changes);
    if (unchanged !== undefined) return unchanged;
  }
  return engine.mutate(ctx, async (scope) => {
    let record = await scope.node(handle);
    checkGuard(record, changes);
    if (changes.size !== undefined) record = await resize(engine, scope, ctx, handle.id, record, changes.size);
    if (changes.mode !== undefined) record = chmod(ctx, record, changes.mode);
    if (changes.uid !== undefined || changes.gid !== undefined) record = chown(ctx, record, changes.uid, changes.gid);
    record = setTimes(ctx, scope, record, changes);
    record = touched(record, scope.nowNs, false);
    await scope.setInode(handle.id, record);
    return toAttributes(handle.id, record);
  });
}

function checkGuard(record: InodeRecord, changes: SetAttributes): void {
  if (changes.guardCtimeNs !== undefined && BigInt(record.ctimeNs) !== changes.guardCtimeNs) {
    throw new FsError('Conflict', 'the node changed since the guard time');
  }
}

/** A size and nothing else (a guard aside): what a truncating open sends (NFS SETATTR size 0). */
function isSizeOnly(changes: SetAttributes): boolean {
  if (changes.size === undefined) return false;
  for (const name of Object.keys(changes)) if (name !== 'size' && name !== 'guardCtimeNs') return false;
  return true;
}

/**
 * Setting a file's size to the size it has changes nothing: as POSIX truncate() ("if the file
 * size is changed, ... mark for update the last data modification and last file status change
 * timestamps") and ext4, the times stay, so no transaction is needed (the Linux NFS client drops
 * such a truncation itself; libnfs sends SETATTR size 0 after every CREATE). The same checks as a
 * real resize run on one consistent read, whose answer is what a getattr would see then;
 * undefined when the size differs (the caller then makes the change durably).
 */
async function sameSize(engine: Engine, ctx: OpContext, handle: NodeHandle, changes: SetAttributes): Promise<Attributes | undefined> {
  return engine.inspect(ctx, handle, async (scope) => {
    const record = await scope.node(handle);
    checkGuard(record, changes);
    checkResizable(ctx, record);
    return record.size === changes.size ? toAttributes(handle.id, record) : undefined;
  });
}

function checkResizable(ctx: OpContext, record: InodeRecord): void {
  if (record.type === 'directory') throw new FsError('IsADirectory', 'cannot set the size of a directory');
  if (record.type !== 'file') throw new FsError('InvalidArgument', 'only a file has a settable size');
  requireAccess(ctx, record, Right.WRITE_DATA, 'change the size');
}

async function resize(engine: Engine, scope: WriteScope, ctx: OpContext, id: number, record: InodeRecord, size: number): Promise<InodeRecord> {
  checkResizable(ctx, record);
  if (size === record.size) return record;
  const coveredDelta = size < record.size ? await engine.data.truncate(scope, id, size) : 0;
  await adjustForSize(scope, id, record, size - record.size);
  const now = scope.nowNs.toString();
  return { ...withoutContentXattrs(record), size, allocatedBytes: record.allocatedBytes + coveredDelta, mtimeNs: now };
}

function chmod(ctx: OpContext, record: InodeRecord, mode: number): InodeRecord {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new FsError('InvalidArgument', `invalid mode ${String(mode)}`);
  requireAccess(ctx, record, Right.WRITE_ACL, 'change the mode');
  if (record.type === 'symlink') return record;
  const isDirectory = record.type === 'directory';
  let special = mode & SPECIAL_MODE_BITS;
  // POSIX: a non-superuser outside the file's group cannot set setgid on a file.
  if (!isSuperuser(ctx) && !isDirectory && !ctx.principal.gids.includes(record.gid)) special &= ~0o2000;
  const acl = applyMode(aclOf(record), mode & 0o777, isDirectory);
  const permissionBits = modeFromAcl(acl, isDirectory);
  return { ...record, acl: storedAcl(acl, permissionBits, isDirectory), mode: special | permissionBits };
}

function chown(ctx: OpContext, record: InodeRecord, uid: number | undefined, gid: number | undefined): InodeRecord {
  const changesUid = uid !== undefined && uid !== record.uid;
  const changesGid = gid !== undefined && gid !== record.gid;
  if (!changesUid && !changesGid) return record;
  if (!isSuperuser(ctx)) {
    if (changesUid && !(uid === ctx.principal.uid && hasAccess(ctx, record, Right.WRITE_OWNER))) {
      throw new FsError('PermissionDenied', 'only a superuser may give a node to another user');
    }
    if (changesGid) {
      const mayChoose = isOwner(ctx, record) || hasAccess(ctx, record, Right.WRITE_OWNER);
      if (!mayChoose || !ctx.principal.gids.includes(gid as number)) {
        throw new FsError('PermissionDenied', 'the owner may only change the group to one they belong to');
      }
    }
  }
  const mode = isSuperuser(ctx) ? record.mode : record.mode & ~0o6000;
  return {
    ...record,
    mode,
    uid: uid ?? record.uid,
    gid: gid ?? record.gid,
    ownerSid: changesUid ? undefined : record.ownerSid,
    groupSid: changesGid ? undefined : record.groupSid,
  };
}

function setTimes(ctx: OpContext, scope: WriteScope, record: InodeRecord, changes: SetAttributes): InodeRecord {
  const { atime, mtime, birthTime } = changes;
  if (atime === undefined && mtime === undefined && birthTime === undefined) return record;
  const explicit = (atime !== undefined && atime !== 'now') || (mtime !== undefined && mtime !== 'now') || birthTime !== undefined;
  const allowed = explicit ? hasAccess(ctx, record, Right.WRITE_ATTRIBUTES) : hasAccess(ctx, record, Right.WRITE_ATTRIBUTES) || hasAccess(ctx, record, Right.WRITE_DATA);
  if (!allowed) throw new FsError('PermissionDenied', 'change the times: WRITE_ATTRIBUTES is not granted');
  const resolve = (value: TimeChange | undefined, current: string): string => (value === undefined ? current : value === 'now' ? scope.nowNs.toString() : value.toString());
  return {
    ...record,
    atimeNs: resolve(atime, record.atimeNs),
    mtimeNs: resolve(mtime, record.mtimeNs),
    birthTimeNs: birthTime === undefined ? record.birthTimeNs : birthTime.toString(),
  };
}

export async function getAcl(engine: Engine, ctx: OpContext, handle: NodeHandle): Promise<Acl> {
  return engine.inspect(ctx, handle, async (scope) => {
    const record = await scope.node(handle);
    requireAccess(ctx, record, Right.READ_ACL, 'read the ACL');
    return aclOf(record);
  });
}

export async function setAcl(engine: Engine, ctx: OpContext, handle: NodeHandle, acl: Acl): Promise<Attributes> {
  requireLive(handle);
  const valid = validateAcl(acl);
  return engine.mutate(ctx, async (scope) => {
    const record = await scope.node(handle);
    requireAccess(ctx, record, Right.WRITE_ACL, 'change the ACL');
    if (record.type === 'symlink') throw new FsError('Unsupported', 'a symlink has no ACL of its own');
    const isDirectory = record.type === 'directory';
    const permissionBits = modeFromAcl(valid, isDirectory);
    const acl = storedAcl(valid, permissionBits, isDirectory);
    const next = touched({ ...record, acl, mode: (record.mode & SPECIAL_MODE_BITS) | permissionBits }, scope.nowNs, false);
    await scope.setInode(handle.id, next);
    return toAttributes(handle.id, next);
  });
}

export async function aggregates(engine: Engine, ctx: OpContext, handle: NodeHandle): Promise<Aggregates> {
  return engine.inspect(ctx, handle, async (scope) => {
    const record = await scope.node(handle);
    if (record.type !== 'directory') throw new FsError('NotADirectory', 'aggregates are kept for directories');
    requireAccess(ctx, record, Right.READ_ATTRIBUTES, 'read the aggregates');
    return { ...(record.aggregate ?? EMPTY_AGGREGATE) };
  });
}
