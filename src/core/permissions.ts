import type { Ace, Acl, Ownership } from './acl/acl.js';
import { aclFromMode } from './acl/mode.js';
import { Right } from './acl/acl.js';
import { accessCheck } from './acl/evaluate.js';
import type { OpContext } from './context.js';
import { FsError } from './errors.js';
import type { InodeRecord } from './records.js';

/** The ownership view of a node that OWNER@ and GROUP@ entries refer to. */
export function ownershipOf(record: InodeRecord): Ownership {
  return { uid: record.uid, gid: record.gid, ownerSid: record.ownerSid, groupSid: record.groupSid };
}

const modeAcls = new Map<number, Acl>();

/** The node's ACL: stored, or the one its mode makes (memoised: 512 modes x 2 kinds). */
export function aclOf(record: InodeRecord): Acl {
  if (record.acl !== undefined) return { entries: record.acl };
  const isDirectory = record.type === 'directory';
  const memoKey = (record.mode & 0o777) | (isDirectory ? 0o1000 : 0);
  let acl = modeAcls.get(memoKey);
  if (acl === undefined) {
    acl = aclFromMode(record.mode & 0o777, isDirectory);
    modeAcls.set(memoKey, acl);
  }
  return acl;
}

/**
 * The `acl` field to store for `acl` on a node with these permission bits: nothing when the ACL
 * is exactly what the mode makes.
 */
export function storedAcl(acl: Acl, modeBits: number, isDirectory: boolean): Ace[] | undefined {
  const fromMode = aclFromMode(modeBits & 0o777, isDirectory);
  return JSON.stringify(fromMode.entries) === JSON.stringify(acl.entries) ? undefined : [...acl.entries];
}

export function isSuperuser(ctx: OpContext): boolean {
  return ctx.principal.superuser === true;
}

export function isOwner(ctx: OpContext, record: InodeRecord): boolean {
  const { principal } = ctx;
  return principal.uid === record.uid || (principal.sid !== undefined && principal.sid === record.ownerSid);
}

export function hasAccess(ctx: OpContext, record: InodeRecord, requested: number): boolean {
  if (isSuperuser(ctx)) return true;
  return accessCheck({ acl: aclOf(record), owner: ownershipOf(record), principal: ctx.principal, requested }).allowed;
}

const RIGHT_NAMES = Object.entries(Right) as Array<[string, number]>;

function describeRights(mask: number): string {
  return RIGHT_NAMES.filter(([, bit]) => (mask & bit) !== 0)
    .map(([name]) => name)
    .join('|');
}

/** Throws PermissionDenied naming the missing right and what it was needed for. */
export function requireAccess(ctx: OpContext, record: InodeRecord, requested: number, purpose: string): void {
  if (hasAccess(ctx, record, requested)) return;
  throw new FsError('PermissionDenied', `${purpose}: ${describeRights(requested)} is not granted`);
}
