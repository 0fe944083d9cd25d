import { FsError } from '../errors.js';
import { ACL_ENTRIES_MAX, ALL_RIGHTS, AceFlag, type Ace, type Acl, type Trustee } from './acl.js';

const ALL_FLAGS = Object.values(AceFlag).reduce((mask, bit) => mask | bit, 0);
const ID_MAX = 0xffff_ffff;
/** MS-DTYP §2.4.2: revision 1, a 48-bit authority, up to 15 32-bit sub-authorities. */
const SID_SUB_AUTHORITIES_MAX = 15;
const SID_AUTHORITY_MAX = 2 ** 48 - 1;
const SID_PATTERN = /^S-1-(\d{1,15})((?:-\d{1,10})*)$/;

/**
 * Whether `sid` is a SID in its canonical string form (`S-1-5-21-...`, decimal authority, upper-case
 * `S`). Only that form is accepted, so SIDs compare with `===`.
 */
export function isValidSid(sid: string): boolean {
  const match = SID_PATTERN.exec(sid);
  if (match === null) return false;
  const authority = Number(match[1]);
  const subAuthorities = match[2] === '' || match[2] === undefined ? [] : match[2].slice(1).split('-').map(Number);
  return (
    authority <= SID_AUTHORITY_MAX &&
    subAuthorities.length <= SID_SUB_AUTHORITIES_MAX &&
    subAuthorities.every((value) => value <= ID_MAX)
  );
}

function isValidId(id: unknown): boolean {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= ID_MAX;
}

function refuse(index: number, message: string): never {
  throw new FsError('InvalidArgument', `ACL entry ${index}: ${message}`);
}

/**
 * Checks an ACL that came from outside (a protocol, the REST API) and returns a copy holding only
 * the known fields. Throws FsError('InvalidArgument') naming the first bad entry. Checked at run
 * time although the type says it is an Acl, because decoders of untrusted input produce it.
 */
export function validateAcl(acl: Acl): Acl {
  if (!Array.isArray(acl.entries)) throw new FsError('InvalidArgument', 'ACL entries must be a list');
  if (acl.entries.length > ACL_ENTRIES_MAX) {
    throw new FsError('InvalidArgument', `ACL has ${acl.entries.length} entries, more than ${ACL_ENTRIES_MAX}`);
  }
  return { entries: acl.entries.map((ace, index) => validateEntry(ace, index)) };
}

function validateEntry(ace: Ace, index: number): Ace {
  if (typeof ace !== 'object' || ace === null) refuse(index, 'not an entry');
  if (ace.type !== 'allow' && ace.type !== 'deny') refuse(index, `unknown type ${String(ace.type)}`);
  if (!isValidId(ace.mask)) refuse(index, 'mask must be an unsigned 32-bit integer');
  if ((ace.mask & ~ALL_RIGHTS) !== 0) refuse(index, `unknown rights 0x${(ace.mask & ~ALL_RIGHTS).toString(16)}`);
  if (!isValidId(ace.flags)) refuse(index, 'flags must be an unsigned 32-bit integer');
  if ((ace.flags & ~ALL_FLAGS) !== 0) refuse(index, `unknown flags 0x${(ace.flags & ~ALL_FLAGS).toString(16)}`);
  return { type: ace.type, flags: ace.flags, trustee: validateTrustee(ace.trustee, index), mask: ace.mask };
}

function validateTrustee(trustee: Trustee, index: number): Trustee {
  if (typeof trustee !== 'object' || trustee === null) refuse(index, 'missing trustee');
  switch (trustee.kind) {
    case 'owner':
    case 'group':
    case 'everyone':
      return { kind: trustee.kind };
    case 'user': {
      const { uid, sid } = trustee;
      if (uid === undefined && sid === undefined) refuse(index, 'a user entry needs a uid or a SID');
      if (uid !== undefined && !isValidId(uid)) refuse(index, `invalid uid ${String(uid)}`);
      if (sid !== undefined && (typeof sid !== 'string' || !isValidSid(sid))) refuse(index, `invalid SID ${String(sid)}`);
      return { kind: 'user', ...(uid === undefined ? {} : { uid }), ...(sid === undefined ? {} : { sid }) };
    }
    case 'group-id': {
      const { gid, sid } = trustee;
      if (gid === undefined && sid === undefined) refuse(index, 'a group entry needs a gid or a SID');
      if (gid !== undefined && !isValidId(gid)) refuse(index, `invalid gid ${String(gid)}`);
      if (sid !== undefined && (typeof sid !== 'string' || !isValidSid(sid))) refuse(index, `invalid SID ${String(sid)}`);
      return { kind: 'group-id', ...(gid === undefined ? {} : { gid }), ...(sid === undefined ? {} : { sid }) };
    }
    default:
      return refuse(index, `unknown trustee kind ${String((trustee as { kind?: unknown }).kind)}`);
  }
}

function canonicalRank(ace: Ace): number {
  const inherited = (ace.flags & AceFlag.INHERITED) !== 0 ? 2 : 0;
  return inherited + (ace.type === 'deny' ? 0 : 1);
}

/**
 * Windows canonical order (MS-DTYP §2.4.5): explicit deny, explicit allow, inherited deny,
 * inherited allow; a stable sort, so the order within each group is kept. NTFS evaluates a DACL in
 * the order it was set and so does core: this is a tool for callers that build ACLs (e.g. adding an
 * entry through the REST API), not something to apply to what a client set. Windows orders
 * inherited entries by generation; we do not record generations, so inherited denies all move
 * before inherited allows.
 */
export function canonicalOrder(acl: Acl): Acl {
  const ranked = acl.entries.map((ace, index) => ({ ace, index, rank: canonicalRank(ace) }));
  ranked.sort((left, right) => left.rank - right.rank || left.index - right.index);
  return { entries: ranked.map(({ ace }) => ace) };
}

/** Whether `acl` is already in Windows canonical order (Explorer warns about ACLs that are not). */
export function isCanonical(acl: Acl): boolean {
  let previous = 0;
  for (const ace of acl.entries) {
    const rank = canonicalRank(ace);
    if (rank < previous) return false;
    previous = rank;
  }
  return true;
}
