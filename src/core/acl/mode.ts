import { check } from '../errors.js';
import { ACL_ENTRIES_MAX, AceFlag, Right, type Ace, type Acl, type Trustee } from './acl.js';
import { IMPLICIT_EVERYONE_RIGHTS, grantedByEntries } from './evaluate.js';

/**
 * POSIX mode bits as a view of an ACL and a way to set one (RFC 8881 §6.3.2, §6.4.1).
 *
 * Only the nine permission bits live in the ACL. setuid, setgid and sticky (`SPECIAL_MODE_BITS`)
 * have no ACL form: the caller stores them beside the ACL, passes the whole mode in (these
 * functions ignore those bits) and reports `special | modeFromAcl(...)`.
 */
export const PERMISSION_MODE_BITS = 0o777;
export const SPECIAL_MODE_BITS = 0o7000;
export const STICKY_MODE_BIT = 0o1000;

const READ_RIGHTS = Right.READ_DATA | Right.READ_NAMED_ATTRS;
const WRITE_FILE_RIGHTS = Right.WRITE_DATA | Right.APPEND_DATA | Right.WRITE_NAMED_ATTRS;
const EXECUTE_RIGHTS = Right.EXECUTE;

function writeRights(isDirectory: boolean): number {
  // On a directory `w` is also the right to remove entries, as in POSIX.
  return isDirectory ? WRITE_FILE_RIGHTS | Right.DELETE_CHILD : WRITE_FILE_RIGHTS;
}

/** The rights one r/w/x triplet (0..7) stands for. */
export function rightsForModeClass(bits: number, isDirectory: boolean): number {
  return (
    ((bits & 4) !== 0 ? READ_RIGHTS : 0) |
    ((bits & 2) !== 0 ? writeRights(isDirectory) : 0) |
    ((bits & 1) !== 0 ? EXECUTE_RIGHTS : 0)
  );
}

/**
 * The r/w/x triplet a set of granted rights shows as. A bit shows when ANY of its rights is
 * granted, so the mode is an upper bound that never hides access (as richacl does); for ACLs made
 * from a mode this is exact.
 */
export function modeClassForRights(granted: number, isDirectory: boolean): number {
  return (
    ((granted & READ_RIGHTS) !== 0 ? 4 : 0) |
    ((granted & writeRights(isDirectory)) !== 0 ? 2 : 0) |
    ((granted & EXECUTE_RIGHTS) !== 0 ? 1 : 0)
  );
}

function checkMode(mode: number): void {
  check(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777, 'InvalidArgument', `invalid mode ${String(mode)}`);
}

function entry(type: Ace['type'], trustee: Trustee, mask: number): Ace {
  return { type, flags: 0, trustee, mask };
}

function classEntries(input: { trustee: Trustee; bits: number; isDirectory: boolean; denyMissing: boolean }): Ace[] {
  const all = rightsForModeClass(7, input.isDirectory);
  const allowed = rightsForModeClass(input.bits, input.isDirectory);
  const entries: Ace[] = [];
  if (allowed !== 0) entries.push(entry('allow', input.trustee, allowed));
  if (input.denyMissing && (all & ~allowed) !== 0) entries.push(entry('deny', input.trustee, all & ~allowed));
  return entries;
}

/**
 * The ACL with exactly POSIX semantics for `mode` under ordered evaluation: OWNER@ allow + deny of
 * what the owner lacks, GROUP@ allow + deny, EVERYONE@ allow. The denies make the first matching
 * class decide, so 0o077 locks the owner out although everyone else has rwx. Entries with an empty
 * mask are left out. Throws InvalidArgument for a mode outside 0..0o7777.
 */
export function aclFromMode(mode: number, isDirectory: boolean): Acl {
  checkMode(mode);
  return {
    entries: [
      ...classEntries({ trustee: { kind: 'owner' }, bits: (mode >> 6) & 7, isDirectory, denyMissing: true }),
      ...classEntries({ trustee: { kind: 'group' }, bits: (mode >> 3) & 7, isDirectory, denyMissing: true }),
      ...classEntries({ trustee: { kind: 'everyone' }, bits: mode & 7, isDirectory, denyMissing: false }),
    ],
  };
}

/**
 * RFC 8881 §6.3.2: the nine permission bits an ACL shows as. Owner bits are what a principal
 * matching only OWNER@ and EVERYONE@ is granted, group bits what one matching only GROUP@ and
 * EVERYONE@ is granted, other bits what EVERYONE@ alone grants. Named user and group entries do
 * not show, as they match none of these. Returns 0..0o777 (see `SPECIAL_MODE_BITS`).
 */
export function modeFromAcl(acl: Acl, isDirectory: boolean): number {
  const classRights = rightsForModeClass(7, isDirectory);
  const bitsFor = (applies: (trustee: Trustee) => boolean): number =>
    modeClassForRights(grantedByEntries(acl, applies, classRights), isDirectory);
  return (bitsFor(isOwnerClass) << 6) | (bitsFor(isGroupClass) << 3) | bitsFor(isOtherClass);
}

const isOwnerClass = (trustee: Trustee): boolean => trustee.kind === 'owner' || trustee.kind === 'everyone';
const isGroupClass = (trustee: Trustee): boolean => trustee.kind === 'group' || trustee.kind === 'everyone';
const isOtherClass = (trustee: Trustee): boolean => trustee.kind === 'everyone';

const INHERITANCE_FLAGS = AceFlag.FILE_INHERIT | AceFlag.DIRECTORY_INHERIT | AceFlag.NO_PROPAGATE_INHERIT;

function isSpecialTrustee(trustee: Trustee): boolean {
  return trustee.kind === 'owner' || trustee.kind === 'group' || trustee.kind === 'everyone';
}

/**
 * chmod on an ACL. The result is laid out as: the OWNER@ entries of `aclFromMode`, the named user
 * and group entries (in their old order), the GROUP@ and EVERYONE@ entries of `aclFromMode`, then
 * the inherit-only entries (in their old order). So `modeFromAcl(applyMode(acl, m)) === m & 0o777`
 * for any ACL.
 *
 * - Old OWNER@/GROUP@/EVERYONE@ entries that affect this node are replaced.
 * - Named allow entries keep only rights within the new group class (plus the implicit
 *   everyone-rights), like the POSIX ACL mask: after `chmod 700` no named entry grants more
 *   than `---`. This is destructive (a later `chmod 770` does not restore the rights), and it also
 *   removes rights outside r/w/x such as DELETE or WRITE_ACL, so chmod never leaves a delegate
 *   able to regain access. Named allows left with an empty mask are dropped; named denies stay.
 * - Inheritance is not chmod's business (POSIX chmod leaves the default ACL alone), so an entry
 *   that both applies here and is inheritable is split as RFC 8881 §6.4.1.1 suggests: an
 *   unchanged INHERIT_ONLY copy keeps what children inherit, and the effective part is rewritten.
 *
 * Throws InvalidArgument for a bad mode or when the result would exceed ACL_ENTRIES_MAX.
 */
export function applyMode(acl: Acl, mode: number, isDirectory: boolean): Acl {
  const fromMode = aclFromMode(mode, isDirectory).entries;
  const groupClassRights = rightsForModeClass((mode >> 3) & 7, isDirectory) | IMPLICIT_EVERYONE_RIGHTS;
  const named: Ace[] = [];
  const inheritOnly: Ace[] = [];
  for (const old of acl.entries) {
    if ((old.flags & AceFlag.INHERIT_ONLY) !== 0) {
      inheritOnly.push(old);
      continue;
    }
    const effective = rewriteEffective(old, groupClassRights);
    if (effective === old) {
      named.push(old);
      continue;
    }
    if ((old.flags & (AceFlag.FILE_INHERIT | AceFlag.DIRECTORY_INHERIT)) !== 0) {
      inheritOnly.push({ ...old, flags: old.flags | AceFlag.INHERIT_ONLY });
    }
    if (effective !== undefined) named.push({ ...effective, flags: effective.flags & ~INHERITANCE_FLAGS });
  }
  const entries = [
    ...fromMode.filter((ace) => ace.trustee.kind === 'owner'),
    ...named,
    ...fromMode.filter((ace) => ace.trustee.kind !== 'owner'),
    ...inheritOnly,
  ];
  check(entries.length <= ACL_ENTRIES_MAX, 'InvalidArgument', `chmod would grow the ACL beyond ${ACL_ENTRIES_MAX} entries`);
  return { entries };
}

/** The entry's effective part after chmod: itself if unchanged, undefined if it goes away. */
function rewriteEffective(old: Ace, groupClassRights: number): Ace | undefined {
  if (isSpecialTrustee(old.trustee)) return undefined;
  if (old.type === 'deny') return old;
  const mask = old.mask & groupClassRights;
  if (mask === old.mask) return old;
  return mask === 0 ? undefined : { ...old, mask };
}
