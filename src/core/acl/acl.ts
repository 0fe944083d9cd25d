/**
 * The one permission model: an ordered list of allow/deny entries with NFSv4 (RFC 8881 §6.2.1)
 * rights, which have the same bit values as the NTFS file access mask (MS-DTYP §2.4.3), so SMB and
 * NFSv4 translate without tables. POSIX mode bits are a view of an ACL and a way to set one.
 */

export const Right = {
  READ_DATA: 0x1, // LIST_DIRECTORY on a directory
  WRITE_DATA: 0x2, // ADD_FILE on a directory
  APPEND_DATA: 0x4, // ADD_SUBDIRECTORY on a directory
  READ_NAMED_ATTRS: 0x8,
  WRITE_NAMED_ATTRS: 0x10,
  EXECUTE: 0x20, // TRAVERSE on a directory
  DELETE_CHILD: 0x40,
  READ_ATTRIBUTES: 0x80,
  WRITE_ATTRIBUTES: 0x100,
  DELETE: 0x10000,
  READ_ACL: 0x20000,
  WRITE_ACL: 0x40000,
  WRITE_OWNER: 0x80000,
  SYNCHRONIZE: 0x100000,
} as const;

export type RightName = keyof typeof Right;

export const ALL_RIGHTS = Object.values(Right).reduce((mask, bit) => mask | bit, 0);

export const AceFlag = {
  FILE_INHERIT: 0x1,
  DIRECTORY_INHERIT: 0x2,
  NO_PROPAGATE_INHERIT: 0x4,
  INHERIT_ONLY: 0x8,
  /** Set on entries that came from a parent by inheritance. */
  INHERITED: 0x10,
} as const;

/**
 * Who an entry applies to. OWNER@, GROUP@ and EVERYONE@ are the NFSv4 special identities (the
 * file's owner, the file's owning group, anyone). A user or group is named by uid/gid, by SID, or
 * both; an entry matches a principal when any given identifier matches.
 */
export type Trustee =
  | { readonly kind: 'owner' }
  | { readonly kind: 'group' }
  | { readonly kind: 'everyone' }
  | { readonly kind: 'user'; readonly uid?: number; readonly sid?: string }
  | { readonly kind: 'group-id'; readonly gid?: number; readonly sid?: string };

export interface Ace {
  readonly type: 'allow' | 'deny';
  readonly flags: number;
  readonly trustee: Trustee;
  readonly mask: number;
}

export interface Acl {
  readonly entries: readonly Ace[];
}

export const ACL_ENTRIES_MAX = 1_000;

/** The owner and owning group of a node, which OWNER@ and GROUP@ refer to. */
export interface Ownership {
  readonly uid: number;
  readonly gid: number;
  readonly ownerSid?: string;
  readonly groupSid?: string;
}
