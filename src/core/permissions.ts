import type { Acl, Ownership } from './acl/acl.js';
import { Right } from './acl/acl.js';
import { accessCheck } from './acl/evaluate.js';
import type { OpContext } from './context.js';
import { FsError } from './errors.js';
import type { InodeRecord } from './records.js';

/** The ownership view of a node that OWNER@ and GROUP@ entries refer to. */
export function ownershipOf(record: InodeRecord): Ownership {
  return { uid: record.uid, gid: record.gid, ownerSid: record.ownerSid, groupSid: record.groupSid };
}

export function aclOf(record: InodeRecord): Acl {
  return { entries: record.acl };
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
