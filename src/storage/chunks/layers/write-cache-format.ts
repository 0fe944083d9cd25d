import { crc32 } from 'node:zlib';
import { isChunkId } from '../chunk-id.js';
import type { ChunkId } from '../chunk-store.js';

/**
 * The on-disk format of the write cache's segment files (write-cache.ts).
 *
 * A segment is one preallocated file: a 4 KiB header, then records packed one after another.
 *
 * Segment header (little-endian):
 *   0  u32  magic 'ENWC'
 *   4  u32  format version (1)
 *   8  u64  generation: unique per use of the segment; every record written in that use carries it
 *  16  u32  state: 1 while the segment holds records not yet in the tier, 0 once they all are
 *  20  u32  CRC-32 of bytes 0..20
 *
 * Record:
 *   0  u32  magic 'ENWR'
 *   4  u64  generation (the segment's, at the time of writing)
 *  12  u32  data length
 *  16  32B  chunk id (ASCII hex)
 *  48  u32  CRC-32 of the data
 *  52  u32  CRC-32 of bytes 0..52
 *  56  8B   zero
 *  64  ...  data
 *
 * Replay reads records from offset 4096 while each is whole: right magic, the segment's
 * generation, a valid id, both CRCs matching. The first record that is not ends the segment's
 * log. A record left by an earlier use of the segment carries an older generation, so it ends the
 * log too, and a torn record (crash in the middle of its write) fails a CRC.
 */

export const SEGMENT_HEADER_BYTES = 4096;
export const RECORD_HEADER_BYTES = 64;

const SEGMENT_MAGIC = 0x43574e45; // 'ENWC' read as little-endian u32
const RECORD_MAGIC = 0x52574e45; // 'ENWR'
const FORMAT_VERSION = 1;
const ID_BYTES = 32;

export interface SegmentHeader {
  readonly generation: number;
  readonly inUse: boolean;
}

export interface RecordHeader {
  readonly generation: number;
  readonly length: number;
  readonly id: ChunkId;
  readonly dataCrc: number;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
  bytes.writeUInt32LE(SEGMENT_MAGIC, 0);
  bytes.writeUInt32LE(FORMAT_VERSION, 4);
  bytes.writeBigUInt64LE(BigInt(header.generation), 8);
  bytes.writeUInt32LE(header.inUse ? 1 : 0, 16);
  bytes.writeUInt32LE(crc32(bytes.subarray(0, 20)), 20);
  return bytes;
}

/** The header, or undefined for anything else (a new, zero-filled or foreign file). */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | undefined {
  if (bytes.byteLength < 24) return undefined;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, 24);
  if (view.readUInt32LE(0) !== SEGMENT_MAGIC || view.readUInt32LE(4) !== FORMAT_VERSION) return undefined;
  if (view.readUInt32LE(20) !== crc32(view.subarray(0, 20))) return undefined;
  const state = view.readUInt32LE(16);
  if (state > 1) return undefined;
  const generation = view.readBigUInt64LE(8);
  if (generation > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { generation: Number(generation), inUse: state === 1 };
}

export function encodeRecordHeader(generation: number, id: ChunkId, data: Uint8Array): Buffer {
  const bytes = Buffer.alloc(RECORD_HEADER_BYTES);
  bytes.writeUInt32LE(RECORD_MAGIC, 0);
  bytes.writeBigUInt64LE(BigInt(generation), 4);
  bytes.writeUInt32LE(data.byteLength, 12);
  bytes.write(id, 16, ID_BYTES, 'latin1');
  bytes.writeUInt32LE(crc32(data), 48);
  bytes.writeUInt32LE(crc32(bytes.subarray(0, 52)), 52);
  return bytes;
}

/** The record header at the start of `bytes`, or undefined if it is not a whole, valid one. */
export function decodeRecordHeader(bytes: Uint8Array, lengthMax: number): RecordHeader | undefined {
  if (bytes.byteLength < RECORD_HEADER_BYTES) return undefined;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, RECORD_HEADER_BYTES);
  if (view.readUInt32LE(0) !== RECORD_MAGIC) return undefined;
  if (view.readUInt32LE(52) !== crc32(view.subarray(0, 52))) return undefined;
  const generation = view.readBigUInt64LE(4);
  const length = view.readUInt32LE(12);
  const id = view.toString('latin1', 16, 16 + ID_BYTES);
  if (generation > BigInt(Number.MAX_SAFE_INTEGER) || length > lengthMax || !isChunkId(id)) return undefined;
  return { generation: Number(generation), length, id, dataCrc: view.readUInt32LE(48) };
}

export function dataMatches(header: RecordHeader, data: Uint8Array): boolean {
  return data.byteLength === header.length && crc32(data) === header.dataCrc;
}
