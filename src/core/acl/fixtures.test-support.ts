import type { Principal } from '../context.js';
import type { Ace, Acl, Ownership, Trustee } from './acl.js';

/** Shared identities for the ACL tests. Alice owns the nodes; bob is in the owning group. */
export const ALICE_SID = 'S-1-5-21-1000-2000-3000-1001';
export const STAFF_SID = 'S-1-5-21-1000-2000-3000-513';
export const DAVE_SID = 'S-1-5-21-1000-2000-3000-1104';
export const AUDITORS_SID = 'S-1-5-21-1000-2000-3000-1200';
export const AUDITORS_GID = 300;
export const DAVE_UID = 1004;

export const OWNERSHIP: Ownership = { uid: 1000, gid: 100, ownerSid: ALICE_SID, groupSid: STAFF_SID };

export const PRINCIPALS = {
  /** The owner, not a member of the owning group. */
  alice: { uid: 1000, gids: [1000], name: 'alice' },
  /** The owner, known to Windows only by SID (SMB user with an unmapped uid). */
  aliceBySid: { uid: 70001, gids: [70001], sid: ALICE_SID, name: 'alice (smb)' },
  /** The owner and a member of the owning group. */
  aliceInStaff: { uid: 1000, gids: [1000, 100], name: 'alice' },
  /** A member of the owning group by gid. */
  bob: { uid: 1001, gids: [1001, 100], name: 'bob' },
  /** A member of the owning group by group SID only. */
  bobBySid: { uid: 70002, gids: [70002], sid: 'S-1-5-21-1000-2000-3000-1102', groupSids: [STAFF_SID], name: 'bob (smb)' },
  /** Neither owner nor in the owning group. */
  carol: { uid: 1002, gids: [1002], name: 'carol' },
  /** Named in entries by uid or by SID. */
  dave: { uid: DAVE_UID, gids: [1004], sid: DAVE_SID, groupSids: [], name: 'dave' },
  /** Dave over SMB with an unmapped uid. */
  daveBySid: { uid: 70004, gids: [70004], sid: DAVE_SID, name: 'dave (smb)' },
  /** A member of the auditors group by gid. */
  erin: { uid: 1005, gids: [1005, AUDITORS_GID], name: 'erin' },
  /** A member of the auditors group by SID only. */
  erinBySid: { uid: 70005, gids: [70005], groupSids: [AUDITORS_SID], name: 'erin (smb)' },
  root: { uid: 0, gids: [0], name: 'root', superuser: true },
  /** uid 0 without the superuser flag (a squashed or unprivileged root) is an ordinary user. */
  rootSquashed: { uid: 0, gids: [0], name: 'root' },
} as const satisfies Record<string, Principal>;

export type PrincipalName = keyof typeof PRINCIPALS;

export function allow(trustee: Trustee, mask: number, flags = 0): Ace {
  return { type: 'allow', flags, trustee, mask };
}

export function deny(trustee: Trustee, mask: number, flags = 0): Ace {
  return { type: 'deny', flags, trustee, mask };
}

export function aclOf(...entries: Ace[]): Acl {
  return { entries };
}

export const OWNER: Trustee = { kind: 'owner' };
export const GROUP: Trustee = { kind: 'group' };
export const EVERYONE: Trustee = { kind: 'everyone' };
