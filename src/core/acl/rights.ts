import type { Principal } from '../context.js';
import { Right, type Acl, type Ownership } from './acl.js';
import { accessCheck, isOwner } from './evaluate.js';

/**
 * The rights each file-system operation needs, named once so every protocol asks the same
 * question. Each comment says which node the right is checked on. Deleting is not a single right:
 * see `canDelete`. Rename is `canDelete` on the source plus `rightsToCreate` on the target
 * directory.
 */
export const RIGHTS_FOR = {
  /** On the directory being searched (POSIX x). */
  lookup: Right.EXECUTE,
  /** On the directory being listed (POSIX r). */
  readdir: Right.READ_DATA,
  /** On the directory: a file, symlink, device or hard link (NTFS ADD_FILE). */
  createFile: Right.WRITE_DATA,
  /** On the directory (NTFS ADD_SUBDIRECTORY). */
  createDirectory: Right.APPEND_DATA,
  /** On the file. */
  read: Right.READ_DATA,
  /** On the file. */
  write: Right.WRITE_DATA,
  /** On the file, for writes only at its end (NFSv4 / NTFS append-only handles). */
  append: Right.APPEND_DATA,
  /** On the file; both shrinking and growing are writes. */
  truncate: Right.WRITE_DATA,
  /** On the file, to run it. */
  execute: Right.EXECUTE,
  /**
   * On the node, to set times to given values. POSIX also lets anyone with WRITE_DATA set both
   * times to "now" (utimensat with UTIME_NOW); core applies that rule, not the ACL.
   */
  setTimes: Right.WRITE_ATTRIBUTES,
  /** On the node; the owner always has it (see IMPLICIT_OWNER_RIGHTS). */
  setMode: Right.WRITE_ACL,
  /** On the node; the owner always has it (see IMPLICIT_OWNER_RIGHTS). */
  setAcl: Right.WRITE_ACL,
  /** On the node; changing the owner or the group. */
  chown: Right.WRITE_OWNER,
  /** On the node; everyone always has it (see IMPLICIT_EVERYONE_RIGHTS). */
  getattr: Right.READ_ATTRIBUTES,
  /** On the node; everyone always has it (see IMPLICIT_EVERYONE_RIGHTS). */
  readAcl: Right.READ_ACL,
  /** On the node (extended attributes, alternate data streams). */
  readNamedAttrs: Right.READ_NAMED_ATTRS,
  /** On the node (extended attributes, alternate data streams). */
  writeNamedAttrs: Right.WRITE_NAMED_ATTRS,
} as const satisfies Record<string, number>;

export type Operation = keyof typeof RIGHTS_FOR;

/** The right needed on a directory to add an entry of the given kind to it. */
export function rightsToCreate(isDirectory: boolean): number {
  return isDirectory ? RIGHTS_FOR.createDirectory : RIGHTS_FOR.createFile;
}

export interface DeleteRequest {
  readonly parentAcl: Acl;
  readonly parentOwner: Ownership;
  readonly childAcl: Acl;
  readonly childOwner: Ownership;
  readonly principal: Principal;
  /** The parent's mode has the sticky bit (0o1000, MODE4_SVTX); the caller stores it. */
  readonly sticky: boolean;
}

/**
 * Whether `principal` may remove `child` from `parent` (unlink, rmdir, or rename away).
 *
 * RFC 8881 §6.2.1.3.2 and Windows: allowed when DELETE is granted on the child OR DELETE_CHILD on
 * the parent, even if the other one is explicitly denied. We deliberately do not take the RFC's
 * further fallback (allow with ADD_FILE when neither ACL mentions either right): Windows does not,
 * and `aclFromMode` already puts DELETE_CHILD in a directory's `w`, so POSIX modes behave as POSIX.
 *
 * Sticky parent (POSIX, RFC 8881 §6.2.1.3.2): additionally only the child's owner or the parent's
 * owner may delete. A superuser may always delete.
 *
 * The caller has already checked `lookup` (EXECUTE) on the parent while resolving the name, which
 * is the `x` POSIX also requires for removal.
 */
export function canDelete(request: DeleteRequest): boolean {
  const { parentAcl, parentOwner, childAcl, childOwner, principal, sticky } = request;
  if (principal.superuser === true) return true;
  if (sticky && !isOwner(childOwner, principal) && !isOwner(parentOwner, principal)) return false;
  return (
    accessCheck({ acl: childAcl, owner: childOwner, principal, requested: Right.DELETE }).allowed ||
    accessCheck({ acl: parentAcl, owner: parentOwner, principal, requested: Right.DELETE_CHILD }).allowed
  );
}
