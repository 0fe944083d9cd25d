import type { NodeHandle } from '../../../core/file-system.js';
import { VERIFIER_BYTES } from './nfs3-types.js';

/**
 * Maps NFS READDIR cookies (64-bit numbers, RFC 1813 §3.3.16) onto core's opaque readdir cursors
 * (strings that cannot be packed into 64 bits).
 *
 * Each READDIR reply is registered as a "page": the core cursor it started from, the position of
 * its last entry, and the core cursor after that last entry. An entry's cookie is
 * `pageId << 16 | position`, where position counts entries from the page's start cursor. Resuming
 * from a page's last cookie (what Linux and libnfs do) continues from core's own cursor, so it is
 * exactly as stable as core (never repeats a name under concurrent changes); resuming from an
 * earlier cookie of a page re-reads from the page's start cursor and skips `position` entries.
 * Pages are kept in a bounded LRU table; a cookie whose page was evicted, or that was issued
 * before a restart (the cookie verifier is random per server start), is NFS3ERR_BAD_COOKIE and
 * the client restarts the listing.
 */
export const COOKIE_POSITION_BITS = 16n;
const POSITION_MASK = (1n << COOKIE_POSITION_BITS) - 1n;

interface Page {
  readonly dirId: number;
  readonly generation: number;
  /** The view the listing is of: a directory, its `.snapshot` and its snapshot versions share an id. */
  readonly snapshot: number | undefined;
  readonly startCursor: string | undefined;
  readonly endPosition: number;
  /** Undefined when the page reached the end of the directory. */
  readonly endCursor: string | undefined;
  /** UTF-8 bytes of the page's longest name: how the next page is sized (a hint, see `Resume`). */
  readonly nameBytesMax: number;
}

/**
 * Where to continue. `nameBytesMax` is the longest name of the page the cookie came from: the
 * next reply is sized for names like it, so a directory of uniform names fills every reply (a
 * wrong guess costs only a short reply or a second core call, never a wrong listing).
 */
export type Resume = { readonly kind: 'from'; readonly cursor: string | undefined; readonly skip: number; readonly nameBytesMax?: number } | { readonly kind: 'eof' } | { readonly kind: 'bad' };

export class ReaddirCookies {
  readonly verifier: Uint8Array;
  private readonly pages = new Map<bigint, Page>();
  private nextPageId = 1n;

  constructor(
    private readonly pagesMax: number,
    randomBytes: (count: number) => Uint8Array,
  ) {
    this.verifier = randomBytes(VERIFIER_BYTES);
  }

  /** Registers a reply's page; returns the cookie of the entry at each 1-based position. */
  register(dir: NodeHandle, page: Omit<Page, 'dirId' | 'generation' | 'snapshot'>): (position: number) => bigint {
    const pageId = this.nextPageId;
    this.nextPageId += 1n;
    if (this.pages.size >= this.pagesMax) {
      const oldest = this.pages.keys().next();
      if (oldest.done !== true) this.pages.delete(oldest.value);
    }
    this.pages.set(pageId, { ...page, dirId: dir.id, generation: dir.generation, snapshot: dir.snapshot });
    const first = pageId << COOKIE_POSITION_BITS;
    return (position) => first | BigInt(position);
  }

  resume(dir: NodeHandle, cookie: bigint, verifier: Uint8Array): Resume {
    if (cookie === 0n) return { kind: 'from', cursor: undefined, skip: 0 };
    // RFC 1813 §3.3.16: a zero verifier with a non-zero cookie is tolerated (some clients send it).
    if (!verifier.every((byte) => byte === 0) && Buffer.compare(verifier, this.verifier) !== 0) return { kind: 'bad' };
    const pageId = cookie >> COOKIE_POSITION_BITS;
    const position = Number(cookie & POSITION_MASK);
    const page = this.pages.get(pageId);
    if (page === undefined || page.dirId !== dir.id || page.generation !== dir.generation || page.snapshot !== dir.snapshot || position === 0 || position > page.endPosition) return { kind: 'bad' };
    // Most recently used last, so eviction takes the oldest listing.
    this.pages.delete(pageId);
    this.pages.set(pageId, page);
    if (position < page.endPosition) return { kind: 'from', cursor: page.startCursor, skip: position, nameBytesMax: page.nameBytesMax };
    return page.endCursor === undefined ? { kind: 'eof' } : { kind: 'from', cursor: page.endCursor, skip: 0, nameBytesMax: page.nameBytesMax };
  }
}
