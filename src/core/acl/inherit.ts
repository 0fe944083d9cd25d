import { AceFlag, type Ace, type Acl } from './acl.js';

/**
 * The ACL a new node gets from its parent directory's inheritable entries (RFC 8881 §6.4.3,
 * MS-DTYP §2.5.3.4.2), in the parent's order, each marked INHERITED:
 *
 * - A file takes the FILE_INHERIT entries, with every inheritance flag cleared.
 * - A directory takes the DIRECTORY_INHERIT entries. Without NO_PROPAGATE_INHERIT they keep their
 *   inheritance flags (minus INHERIT_ONLY, so they now apply) and pass on to the directory's own
 *   children; with it they apply to this directory only.
 * - A directory also takes FILE_INHERIT-only entries as INHERIT_ONLY | FILE_INHERIT, so they skip
 *   it and reach the files below. With NO_PROPAGATE_INHERIT they stop here: such an entry is for
 *   the parent's immediate children only, and those are not directories.
 *
 * OWNER@ and GROUP@ stay symbolic, so they name the new node's owner and group (what Windows does
 * with CREATOR OWNER / CREATOR GROUP). Returns undefined when nothing is inheritable; the caller
 * then uses `aclFromMode` with the create mode. The result never has more entries than the parent.
 */
export function inheritAcl(parentAcl: Acl, isDirectory: boolean): Acl | undefined {
  const entries: Ace[] = [];
  for (const ace of parentAcl.entries) {
    const flags = isDirectory ? directoryFlags(ace.flags) : fileFlags(ace.flags);
    if (flags !== undefined) entries.push({ ...ace, flags: flags | AceFlag.INHERITED });
  }
  return entries.length === 0 ? undefined : { entries };
}

function fileFlags(flags: number): number | undefined {
  return (flags & AceFlag.FILE_INHERIT) !== 0 ? 0 : undefined;
}

function directoryFlags(flags: number): number | undefined {
  const noPropagate = (flags & AceFlag.NO_PROPAGATE_INHERIT) !== 0;
  if ((flags & AceFlag.DIRECTORY_INHERIT) !== 0) {
    return noPropagate ? 0 : flags & (AceFlag.FILE_INHERIT | AceFlag.DIRECTORY_INHERIT);
  }
  if ((flags & AceFlag.FILE_INHERIT) !== 0 && !noPropagate) {
    return AceFlag.FILE_INHERIT | AceFlag.INHERIT_ONLY;
  }
  return undefined;
}
