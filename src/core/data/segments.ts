import type { Slice } from '../records.js';

/**
 * File data layout: a file is cut into fixed segments of SEGMENT_BYTES; each segment holds a list
 * of slices (records.ts), newest last, each pointing into an immutable chunk. A write adds one
 * slice per segment it touches, so a 4 KiB overwrite in a huge file writes a 4 KiB chunk and one
 * small record, never megabytes. Later slices shadow earlier ones; the compactor merges a
 * segment's slices once there are more than SLICES_COMPACT_AFTER.
 */
export const SEGMENT_BYTES = 1024 * 1024;
export const SLICES_COMPACT_AFTER = 64;
/**
 * Writes up to this size inside one segment are stored in the metadata store, in the same
 * transaction as their slice: one group-committed transaction instead of a chunk file and its two
 * fsyncs. They are encrypted with the metadata (decision 0002) and move to a chunk when their
 * segment is compacted.
 */
export const INLINE_BYTES_MAX = 64 * 1024;

/** A piece of a read: `length` bytes at segment offset `offset`, from a chunk or a hole. */
export interface Piece {
  readonly offset: number;
  readonly length: number;
  readonly chunkId?: string;
  readonly chunkOffset: number;
  /** For a piece of an inline chunk: set once its bytes are loaded (the whole chunk). */
  readonly inline?: boolean;
  inlineBytes?: Uint8Array;
}

interface Interval {
  start: number;
  end: number;
}

/**
 * Which chunk bytes make up [from, to) of a segment: walks slices newest first and hands each the
 * parts of the range that no newer slice covered. Pieces come back in offset order; holes have no
 * chunk.
 */
export function resolveSlices(slices: readonly Slice[], from: number, to: number): Piece[] {
  let uncovered: Interval[] = from < to ? [{ start: from, end: to }] : [];
  const pieces: Piece[] = [];
  for (let index = slices.length - 1; index >= 0 && uncovered.length > 0; index--) {
    const slice = slices[index] as Slice;
    const sliceEnd = slice.offset + slice.length;
    const remaining: Interval[] = [];
    for (const interval of uncovered) {
      const start = Math.max(interval.start, slice.offset);
      const end = Math.min(interval.end, sliceEnd);
      if (start >= end) {
        remaining.push(interval);
        continue;
      }
      if (slice.zero === true) {
        pieces.push({ offset: start, length: end - start, chunkOffset: 0 });
      } else pieces.push({
        offset: start,
        length: end - start,
        chunkId: slice.chunkId,
        chunkOffset: slice.chunkOffset + (start - slice.offset),
        ...(slice.inline === true ? { inline: true } : {}),
      });
      if (interval.start < start) remaining.push({ start: interval.start, end: start });
      if (end < interval.end) remaining.push({ start: end, end: interval.end });
    }
    uncovered = remaining;
  }
  for (const hole of uncovered) pieces.push({ offset: hole.start, length: hole.end - hole.start, chunkOffset: 0 });
  return pieces.sort((left, right) => left.offset - right.offset);
}

/** Bytes covered by at least one slice (the union of their ranges). */
export function coveredBytes(slices: readonly Slice[]): number {
  const intervals = slices.map((slice) => ({ start: slice.offset, end: slice.offset + slice.length })).sort((left, right) => left.start - right.start);
  let total = 0;
  let currentStart = -1;
  let currentEnd = -1;
  for (const { start, end } of intervals) {
    if (start > currentEnd) {
      total += currentEnd - currentStart;
      currentStart = start;
      currentEnd = end;
    } else if (end > currentEnd) {
      currentEnd = end;
    }
  }
  return total + (currentEnd - currentStart);
}

/** Appends `added` and drops older slices it covers entirely (they can never be read again). */
export function appendSlice(slices: readonly Slice[], added: Slice): Slice[] {
  const addedEnd = added.offset + added.length;
  const kept = slices.filter((slice) => slice.offset < added.offset || slice.offset + slice.length > addedEnd);
  kept.push(added);
  return kept;
}

/** Cuts a segment's slices at `lengthBytes` (truncation inside the segment). */
export function clipSlices(slices: readonly Slice[], lengthBytes: number): Slice[] {
  const clipped: Slice[] = [];
  for (const slice of slices) {
    if (slice.offset >= lengthBytes) continue;
    clipped.push({ ...slice, length: Math.min(slice.length, lengthBytes - slice.offset) });
  }
  return clipped;
}

/** The segments a byte range touches, with the part of the range inside each. */
export function segmentsOf(offset: number, length: number): Array<{ index: number; from: number; to: number; dataOffset: number }> {
  const parts: Array<{ index: number; from: number; to: number; dataOffset: number }> = [];
  let position = offset;
  const end = offset + length;
  while (position < end) {
    const index = Math.floor(position / SEGMENT_BYTES);
    const segmentStart = index * SEGMENT_BYTES;
    const to = Math.min(end - segmentStart, SEGMENT_BYTES);
    parts.push({ index, from: position - segmentStart, to, dataOffset: position - offset });
    position = segmentStart + to;
  }
  return parts;
}
