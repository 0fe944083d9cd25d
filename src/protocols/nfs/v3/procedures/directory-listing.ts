import { SNAPSHOT_DIRECTORY } from '../../../../core/engine.js';
import { READDIR_LIMIT_MAX, type Attributes, type DirectoryEntry } from '../../../../core/file-system.js';
import { xdrStringBytes } from '../../xdr/xdr-writer.js';
import { attributesOrNothing, refuse, type Nfs3Call } from '../nfs3-procedure.js';
import { Nfs3Status } from '../nfs3-types.js';

/** Sizes of the reply parts READDIR and READDIRPLUS count against the client's limits. */
export const FATTR_BYTES = 84;
export const POST_OP_ATTR_BYTES = 4 + FATTR_BYTES;
/** status, dir post_op_attr, cookieverf, the final "no more entries" flag and eof. */
export const REPLY_OVERHEAD_BYTES = 4 + POST_OP_ATTR_BYTES + 8 + 4 + 4;

export interface EntrySize {
  /** Bytes of the entry in the reply (counted against count / maxcount). */
  readonly replyBytes: number;
  /** Bytes of fileid, name and cookie (READDIRPLUS dircount). */
  readonly directoryBytes: number;
}

export function baseEntrySize(name: string): EntrySize {
  const directoryBytes = 8 + xdrStringBytes(name) + 8;
  return { replyBytes: 4 + directoryBytes, directoryBytes };
}

export interface ListingLimits {
  readonly replyBytesMax: number;
  readonly directoryBytesMax: number;
  readonly sizeOf: (entry: DirectoryEntry) => EntrySize;
}

export interface Listing {
  readonly entries: ReadonlyArray<{ readonly entry: DirectoryEntry; readonly cookie: bigint }>;
  readonly eof: boolean;
  /** The reply's size as counted against the client's limits (room to reserve when encoding). */
  readonly replyBytes: number;
}

export interface ListingRequest {
  readonly cookie: bigint;
  readonly verifier: Uint8Array;
  readonly withAttributes: boolean;
  /**
   * The directory's attributes, read just before the listing (the reply's post-op attributes),
   * so the first page need not read them again for `.`; undefined when they could not be read.
   */
  readonly dir: Attributes | undefined;
}

interface Used {
  replyBytes: number;
  directoryBytes: number;
}

/** How many leading entries fit the limits, given what is already used (counted into `used`). */
function fitting(entries: readonly DirectoryEntry[], limits: ListingLimits, used: Used = { replyBytes: REPLY_OVERHEAD_BYTES, directoryBytes: 0 }): number {
  let { replyBytes, directoryBytes } = used;
  for (const [index, entry] of entries.entries()) {
    const size = limits.sizeOf(entry);
    replyBytes += size.replyBytes;
    directoryBytes += size.directoryBytes;
    if (replyBytes > limits.replyBytesMax || directoryBytes > limits.directoryBytesMax) return index;
    used.replyBytes = replyBytes;
    used.directoryBytes = directoryBytes;
  }
  return entries.length;
}

/**
 * The name length the first core request of a listing is sized for (later replies are sized for
 * the longest name of the reply before, see Resume). Shorter names leave a reply a little short of
 * full (allowed: the client asks for the rest); longer ones make the listing ask core a second
 * time for exactly what fits.
 */
const TYPICAL_NAME_BYTES = 20;

/** The cookies after `.` and after `..` (page 0, which ReaddirCookies never issues). */
const DOT_COOKIE = 1n;
const DOT_DOT_COOKIE = 2n;

/**
 * `.` and `..` lead every listing (Linux `ls -a` and some tools expect them). `..` carries the
 * parent's file id only (no handle or attributes: LOOKUP answers it with confinement): the export
 * root's parent is itself, a `.snapshot` directory's is its live directory, a snapshot view's is
 * its parent in that snapshot (or itself at the top).
 */
async function dotEntries(call: Nfs3Call, request: ListingRequest): Promise<DirectoryEntry[]> {
  const { cookie, withAttributes } = request;
  if (cookie > DOT_COOKIE) return [];
  const dir = request.dir ?? (await call.fs.getattr(call.ctx, call.node));
  if (dir.type !== 'directory') refuse(Nfs3Status.NOTDIR, 'not a directory');
  const atTop = call.node.id === call.exportRoot.id || call.node.snapshot === SNAPSHOT_DIRECTORY;
  const parentId = atTop ? call.node.id : dir.parentId;
  const dotDot: DirectoryEntry = { name: '..', handle: { id: parentId, generation: 0 }, type: 'directory' };
  if (cookie === DOT_COOKIE) return [dotDot];
  return [{ name: '.', handle: call.node, type: 'directory', ...(withAttributes ? { attributes: dir } : {}) }, dotDot];
}

/**
 * The directory's post-op attributes for a READDIR(PLUS) reply, read before the listing rather
 * than after: a client keeps the listing as valid for the attributes that come with it, so
 * attributes older than the listing only make it revalidate sooner, while newer ones (a create
 * between the listing and the read) would let it keep a listing that lacks the new name. They
 * also serve `.` on the first page, which needed a read of its own. Undefined when unreadable
 * (post_op_attr is optional); the listing then reports the error itself.
 */
export function directoryAttributes(call: Nfs3Call): Promise<Attributes | undefined> {
  return attributesOrNothing(call, call.node);
}

function nameBytesMax(entries: readonly DirectoryEntry[]): number {
  let longest = 0;
  for (const entry of entries) longest = Math.max(longest, Buffer.byteLength(entry.name, 'utf8'));
  return longest;
}

/** The handle to answer for a listed entry (none for `..`). */
export function listedHandle(call: Nfs3Call, entry: DirectoryEntry): Uint8Array | undefined {
  return entry.name === '..' ? undefined : call.fileHandle(entry.handle);
}

/**
 * One reply's worth of directory entries from `cookie` (see readdir-cookies.ts for the mapping).
 * Core is asked for an estimate of what fits (entries with names of the expected length); when
 * fewer fit, core is asked again for exactly that many, so the reply always ends at one of core's
 * own cursors (which are stable under concurrent changes). Each retry asks for strictly fewer
 * entries, so this ends; usually after one call.
 */
export async function listDirectory(call: Nfs3Call, request: ListingRequest, limits: ListingLimits): Promise<Listing> {
  const { cookies } = call.services;
  const dots = await dotEntries(call, request);
  const used: Used = { replyBytes: REPLY_OVERHEAD_BYTES, directoryBytes: 0 };
  const dotsFitting = fitting(dots, limits, used);
  const listedDots = dots.slice(0, dotsFitting).map((entry) => ({ entry, cookie: entry.name === '.' ? DOT_COOKIE : DOT_DOT_COOKIE }));
  if (dotsFitting < dots.length) {
    if (dotsFitting === 0) refuse(Nfs3Status.TOOSMALL, 'not even one entry fits the reply size');
    return { entries: listedDots, eof: false, replyBytes: used.replyBytes };
  }
  const resume = request.cookie <= DOT_DOT_COOKIE ? ({ kind: 'from', cursor: undefined, skip: 0 } as const) : cookies.resume(call.node, request.cookie, request.verifier);
  if (resume.kind === 'bad') refuse(Nfs3Status.BAD_COOKIE, 'the cookie is unknown or from before a restart');
  if (resume.kind === 'eof') return { entries: [], eof: true, replyBytes: used.replyBytes };
  const { cursor, skip } = resume;
  const typical = limits.sizeOf({ name: 'x'.repeat(Math.max(1, resume.nameBytesMax ?? TYPICAL_NAME_BYTES)), handle: call.node, type: 'file' });
  const room = Math.min(Math.floor((limits.replyBytesMax - used.replyBytes) / typical.replyBytes), Math.floor((limits.directoryBytesMax - used.directoryBytes) / typical.directoryBytes));
  let limit = Math.max(1, Math.min(READDIR_LIMIT_MAX - skip, room));
  for (;;) {
    const page = await call.fs.readdir(call.ctx, call.node, { cursor, limit: skip + limit, withAttributes: request.withAttributes });
    const entries = page.entries.slice(skip);
    const pageUsed = { ...used };
    const count = fitting(entries, limits, pageUsed);
    if (count === 0 && entries.length > 0) {
      if (listedDots.length > 0) return { entries: listedDots, eof: false, replyBytes: used.replyBytes };
      refuse(Nfs3Status.TOOSMALL, 'not even one entry fits the reply size');
    }
    if (count === entries.length) {
      const cookieAt = cookies.register(call.node, { startCursor: cursor, endPosition: skip + count, endCursor: page.cursor, nameBytesMax: nameBytesMax(entries) });
      const listed = listedDots.slice();
      for (let index = 0; index < count; index += 1) listed.push({ entry: entries[index] as DirectoryEntry, cookie: cookieAt(skip + index + 1) });
      return { entries: listed, eof: page.cursor === undefined, replyBytes: pageUsed.replyBytes };
    }
    limit = count;
  }
}
