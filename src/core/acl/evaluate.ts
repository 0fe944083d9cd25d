import type { Principal } from '../context.js';
import { assert } from '../errors.js';
import { ALL_RIGHTS, AceFlag, Right, type Ace, type Acl, type Ownership, type RightName, type Trustee } from './acl.js';

/**
 * Rights everyone has on every node, whatever the ACL says, including an explicit deny. This is a
 * deliberate POSIX rule: `stat` and reading the permissions work for anyone who can reach the
 * node (path traversal is checked on the directories above it), and SYNCHRONIZE only lets a
 * Windows client wait on a handle it already has.
 */
export const IMPLICIT_EVERYONE_RIGHTS = Right.READ_ATTRIBUTES | Right.READ_ACL | Right.SYNCHRONIZE;

/**
 * Rights the owner has on every node, whatever the ACL says, including an explicit deny. This is
 * deliberate: POSIX lets the owner chmod and touch its files, and Windows implicitly grants the
 * owner READ_CONTROL and WRITE_DAC, so an owner can always repair an ACL that locked everyone out.
 */
export const IMPLICIT_OWNER_RIGHTS = Right.READ_ACL | Right.WRITE_ACL | Right.WRITE_ATTRIBUTES;

export interface AccessRequest {
  readonly acl: Acl;
  readonly owner: Ownership;
  readonly principal: Principal;
  /** A mask of `Right` bits; every bit must be granted for `allowed`. */
  readonly requested: number;
}

export interface AccessResult {
  /** The subset of the requested rights that is granted. */
  readonly granted: number;
  /** Whether every requested right is granted. */
  readonly allowed: boolean;
}

/** Why one right was granted or denied, for the REST API's explain-rights view and audit logs. */
export type AccessDecision =
  | { readonly kind: 'superuser' }
  | { readonly kind: 'implicit-owner-right' }
  | { readonly kind: 'implicit-everyone-right' }
  | { readonly kind: 'entry'; readonly index: number; readonly entry: Ace }
  | { readonly kind: 'no-entry' };

export interface RightExplanation {
  readonly right: RightName;
  readonly bit: number;
  readonly granted: boolean;
  readonly decidedBy: AccessDecision;
}

export interface AccessExplanation extends AccessResult {
  /** One row per requested right, in the declaration order of `Right`. */
  readonly rights: readonly RightExplanation[];
}

const RIGHT_NAMES = Object.entries(Right) as ReadonlyArray<readonly [RightName, number]>;

/** Whether `principal` is the owner of a node, by uid or by SID. */
export function isOwner(owner: Ownership, principal: Principal): boolean {
  return principal.uid === owner.uid || (principal.sid !== undefined && principal.sid === owner.ownerSid);
}

/** Whether `principal` is a member of the owning group of a node, by gid or by group SID. */
export function isInOwningGroup(owner: Ownership, principal: Principal): boolean {
  if (principal.gids.includes(owner.gid)) return true;
  return owner.groupSid !== undefined && principal.groupSids?.includes(owner.groupSid) === true;
}

/** Whether an entry naming `trustee` applies to `principal` on a node owned by `owner`. */
export function trusteeMatches(trustee: Trustee, owner: Ownership, principal: Principal): boolean {
  switch (trustee.kind) {
    case 'owner':
      return isOwner(owner, principal);
    case 'group':
      return isInOwningGroup(owner, principal);
    case 'everyone':
      return true;
    case 'user':
      return (
        (trustee.uid !== undefined && trustee.uid === principal.uid) ||
        (trustee.sid !== undefined && trustee.sid === principal.sid)
      );
    case 'group-id':
      return (
        (trustee.gid !== undefined && principal.gids.includes(trustee.gid)) ||
        (trustee.sid !== undefined && principal.groupSids?.includes(trustee.sid) === true)
      );
  }
}

/**
 * RFC 8881 §6.2.1: walks the entries in order, skipping INHERIT_ONLY ones and those that do not
 * apply; each requested bit is decided by the first applicable entry whose mask contains it
 * (allow grants it, deny refuses it); a bit no entry mentions is not granted. Returns the granted
 * subset of `requested`. `applies` lets mode.ts evaluate for a class (owner, group, other) rather
 * than a real principal.
 */
export function grantedByEntries(acl: Acl, applies: (trustee: Trustee) => boolean, requested: number): number {
  let undecided = requested;
  let granted = 0;
  for (const entry of acl.entries) {
    if (undecided === 0) break;
    if ((entry.flags & AceFlag.INHERIT_ONLY) !== 0) continue;
    const bits = entry.mask & undecided;
    if (bits === 0 || !applies(entry.trustee)) continue;
    if (entry.type === 'allow') granted |= bits;
    undecided &= ~bits;
  }
  return granted;
}

function implicitRights(owner: Ownership, principal: Principal): number {
  return IMPLICIT_EVERYONE_RIGHTS | (isOwner(owner, principal) ? IMPLICIT_OWNER_RIGHTS : 0);
}

function assertRequested(requested: number): void {
  // The protocol layer translates wire masks into `Right` bits; an unknown bit here is a bug.
  assert(Number.isInteger(requested) && requested >= 0 && (requested & ~ALL_RIGHTS) === 0, `unknown rights requested: 0x${requested.toString(16)}`);
}

/**
 * The access check every core operation goes through. A superuser is granted everything; the
 * implicit rights above are granted before the entries are consulted, so no entry can deny them.
 */
export function accessCheck(request: AccessRequest): AccessResult {
  const { acl, owner, principal, requested } = request;
  assertRequested(requested);
  if (principal.superuser === true) return { granted: requested, allowed: true };
  const implicit = implicitRights(owner, principal) & requested;
  const applies = (trustee: Trustee): boolean => trusteeMatches(trustee, owner, principal);
  const granted = implicit | grantedByEntries(acl, applies, requested & ~implicit);
  return { granted, allowed: granted === requested };
}

/**
 * Like `accessCheck`, and says for each right what decided it. `requested` defaults to every
 * right. Always agrees with `accessCheck` (a property test holds them together); it is slower, so
 * core uses `accessCheck` and only the explain view and audit use this.
 */
export function explainAccess(request: Omit<AccessRequest, 'requested'> & { readonly requested?: number }): AccessExplanation {
  const { acl, owner, principal, requested = ALL_RIGHTS } = request;
  assertRequested(requested);
  const owns = isOwner(owner, principal);
  const rights: RightExplanation[] = [];
  let granted = 0;
  for (const [right, bit] of RIGHT_NAMES) {
    if ((requested & bit) === 0) continue;
    const decidedBy = decideOne({ acl, owner, principal, owns, bit });
    const isGranted = decidedBy.kind === 'entry' ? decidedBy.entry.type === 'allow' : decidedBy.kind !== 'no-entry';
    if (isGranted) granted |= bit;
    rights.push({ right, bit, granted: isGranted, decidedBy });
  }
  return { granted, allowed: granted === requested, rights };
}

function decideOne(input: { acl: Acl; owner: Ownership; principal: Principal; owns: boolean; bit: number }): AccessDecision {
  const { acl, owner, principal, owns, bit } = input;
  if (principal.superuser === true) return { kind: 'superuser' };
  if ((IMPLICIT_EVERYONE_RIGHTS & bit) !== 0) return { kind: 'implicit-everyone-right' };
  if (owns && (IMPLICIT_OWNER_RIGHTS & bit) !== 0) return { kind: 'implicit-owner-right' };
  for (const [index, entry] of acl.entries.entries()) {
    if ((entry.flags & AceFlag.INHERIT_ONLY) !== 0 || (entry.mask & bit) === 0) continue;
    if (trusteeMatches(entry.trustee, owner, principal)) return { kind: 'entry', index, entry };
  }
  return { kind: 'no-entry' };
}
