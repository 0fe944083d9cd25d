import { isChunkId } from './chunk-id.js';
import { CHUNK_BYTES_MAX, ChunkStoreError, LIST_LIMIT_MAX } from './chunk-store.js';
import type { ByteRange, ChunkId } from './chunk-store.js';

/**
 * Argument checks shared by every ChunkStore backend and layer, so each one rejects the same bad
 * input with the same code ('invalid').
 */

/**
 * What a backend accepts per chunk. Layers add overhead to the bytes they pass down (the
 * encryption layer adds a header and a tag per 64 KiB frame: 32 + 128 * 16 bytes for a full
 * chunk), so a backend accepts CHUNK_BYTES_MAX plus this headroom while layers that face core
 * hold callers to CHUNK_BYTES_MAX itself.
 */
export const LAYER_OVERHEAD_BYTES_MAX = 64 * 1024;
export const STORED_CHUNK_BYTES_MAX = CHUNK_BYTES_MAX + LAYER_OVERHEAD_BYTES_MAX;

export function checkChunkId(id: ChunkId): void {
  // typeof guards callers that bypass the type system (JSON input); the pattern keeps ids from
  // naming anything outside a backend's own namespace ('..', '/', NUL).
  if (typeof id !== 'string' || !isChunkId(id)) {
    throw new ChunkStoreError('invalid', `invalid chunk id ${JSON.stringify(String(id)).slice(0, 80)}`);
  }
}

export function checkChunkSize(id: ChunkId, sizeBytes: number, sizeBytesMax: number): void {
  if (sizeBytes > sizeBytesMax) {
    throw new ChunkStoreError('invalid', `chunk ${id} is ${sizeBytes} bytes; at most ${sizeBytesMax} are allowed`);
  }
}

function isSafeNonNegativeInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/**
 * Clips `range` to a chunk of `sizeBytes` and returns the absolute [start, end) to read.
 * Contract: a range beyond the end is clipped (possibly to nothing); a malformed range is 'invalid'.
 */
export function clipRange(sizeBytes: number, range: ByteRange | undefined): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: sizeBytes };
  if (!isSafeNonNegativeInteger(range.offset) || !isSafeNonNegativeInteger(range.length)) {
    throw new ChunkStoreError('invalid', `invalid byte range offset=${range.offset} length=${range.length}`);
  }
  const start = Math.min(range.offset, sizeBytes);
  const end = Math.min(sizeBytes, start + range.length);
  return { start, end };
}

/** Checks a range before its chunk's size is known; clipRange re-checks nothing it needs. */
export function checkRange(range: ByteRange | undefined): void {
  clipRange(0, range);
}

export function checkListOptions(options: { after?: ChunkId; limit: number }): void {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > LIST_LIMIT_MAX) {
    throw new ChunkStoreError('invalid', `list limit must be an integer from 1 to ${LIST_LIMIT_MAX}, got ${options.limit}`);
  }
  if (options.after !== undefined) checkChunkId(options.after);
}

/** The first `length` bytes of `into` when it is large enough, else a new buffer (GetOptions). */
export function targetFor(length: number, into: Uint8Array | undefined): Uint8Array {
  return into !== undefined && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length);
}
