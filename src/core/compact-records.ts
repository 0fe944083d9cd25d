import type { Aggregate, DirentRecord, InodeRecord } from './records.js';

/**
 * Compact stored forms of the two records every create writes: inodes and directory entries.
 * Every create rewrites its directory's inode and every inode above it, and adds an entry to its
 * directory; the page cipher encrypts every page a commit touches, so denser pages mean fewer pages per
 * commit (and fewer page splits). JSON values start with a printable byte, never with a tag, so
 * both forms read: older databases, and records a compact form cannot hold exactly, which are
 * stored as JSON (negative or non-integer numbers, non-canonical times, unknown entry fields).
 *
 * Inode (about 60-80 bytes where JSON takes 300-450): tag, type, flags, then varints generation,
 * mode, uid, gid, size, allocatedBytes, nlink, changeId, parentId; the four times as (seconds,
 * nanoseconds) varint pairs; then, per flag, the name (varint length + UTF-8), the aggregate
 * (four varints), quotaBytes, diedEpoch; then, with the tail flag, the rest of the buffer is a
 * JSON object of the remaining fields (SIDs, ACL, symlink target, extended attributes, anything
 * newer).
 *
 * Directory entry (about 10 bytes where JSON takes 50): tag, type, flags, varints id and
 * generation, then diedEpoch with its flag.
 */
export const COMPACT_INODE_TAG = 0x01;
export const COMPACT_DIRENT_TAG = 0x02;

const TYPES = ['file', 'directory', 'symlink'] as const;
const FLAG_NAME = 1;
const FLAG_AGGREGATE = 2;
const FLAG_QUOTA = 4;
const FLAG_DIED = 8;
const FLAG_TAIL = 16;
/** Fields the head holds; every other field present goes to the JSON tail. */
const HEAD_FIELDS = new Set<string>([
  'type', 'generation', 'mode', 'uid', 'gid', 'size', 'allocatedBytes', 'nlink', 'atimeNs', 'mtimeNs', 'ctimeNs', 'birthTimeNs',
  'changeId', 'parentId', 'name', 'aggregate', 'quotaBytes', 'diedEpoch',
]);
/** A safe integer (53 bits) takes at most 8 varint bytes of 7 bits. */
const VARINT_BYTES_MAX = 8;
/** Longer names are stored as JSON (names have at most 255 bytes; the root's is ''). */
const NAME_UNITS_MAX = 1024;
/** Tag, type, flags; 23 varints (9 fields, 8 time parts, 4 aggregate parts, quota, died); the name. */
const HEAD_BYTES_MAX = 3 + 23 * VARINT_BYTES_MAX + 2 + 3 * NAME_UNITS_MAX;
const NANOS_DIGITS = 9;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class HeadWriter {
  readonly bytes = new Uint8Array(HEAD_BYTES_MAX);
  length = 0;

  /** False if `value` is not a non-negative safe integer (the record is then stored as JSON). */
  varint(value: number): boolean {
    if (!Number.isSafeInteger(value) || value < 0) return false;
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.bytes[this.length++] = rest;
    return true;
  }

  /** A time in nanoseconds as a canonical non-negative decimal string, split at the second. */
  time(text: string): boolean {
    if (typeof text !== 'string') return false;
    const length = text.length;
    if (length === 0 || length > 25 || (length > 1 && text.charCodeAt(0) === 0x30)) return false;
    for (let index = 0; index < length; index++) {
      const code = text.charCodeAt(index);
      if (code < 0x30 || code > 0x39) return false;
    }
    const split = length - NANOS_DIGITS;
    return split <= 0 ? this.varint(0) && this.varint(Number(text)) : this.varint(Number(text.slice(0, split))) && this.varint(Number(text.slice(split)));
  }
}

/** One scratch head per process: encoding is synchronous, so no two encodes share it at once. */
const head = new HeadWriter();

/** The compact form of `record`, or undefined when the record does not fit it (store JSON then). */
export function encodeInode(record: InodeRecord): Uint8Array | undefined {
  const typeIndex = TYPES.indexOf(record.type);
  if (typeIndex < 0) return undefined;
  let flags = 0;
  if (record.name !== undefined) flags |= FLAG_NAME;
  if (record.aggregate !== undefined) flags |= FLAG_AGGREGATE;
  if (record.quotaBytes !== undefined) flags |= FLAG_QUOTA;
  if (record.diedEpoch !== undefined) flags |= FLAG_DIED;
  let tail: Record<string, unknown> | undefined;
  for (const field in record) {
    const value = (record as unknown as Record<string, unknown>)[field];
    if (value === undefined || HEAD_FIELDS.has(field)) continue;
    (tail ??= {})[field] = value;
  }
  if (tail !== undefined) flags |= FLAG_TAIL;
  head.length = 0;
  head.bytes[head.length++] = COMPACT_INODE_TAG;
  head.bytes[head.length++] = typeIndex;
  head.bytes[head.length++] = flags;
  const fits =
    head.varint(record.generation) && head.varint(record.mode) && head.varint(record.uid) && head.varint(record.gid) &&
    head.varint(record.size) && head.varint(record.allocatedBytes) && head.varint(record.nlink) && head.varint(record.changeId) &&
    head.varint(record.parentId) && head.time(record.atimeNs) && head.time(record.mtimeNs) && head.time(record.ctimeNs) &&
    head.time(record.birthTimeNs) && encodeOptional(record);
  if (!fits) return undefined;
  const tailBytes = tail === undefined ? undefined : encoder.encode(JSON.stringify(tail));
  const encoded = new Uint8Array(head.length + (tailBytes?.length ?? 0));
  encoded.set(head.bytes.subarray(0, head.length));
  if (tailBytes !== undefined) encoded.set(tailBytes, head.length);
  return encoded;
}

function encodeOptional(record: InodeRecord): boolean {
  if (record.name !== undefined) {
    if (typeof record.name !== 'string' || record.name.length > NAME_UNITS_MAX) return false;
    // Encoded after a two-byte gap, then moved up behind its length (one or two varint bytes).
    const written = encoder.encodeInto(record.name, head.bytes.subarray(head.length + 2)).written;
    head.bytes.copyWithin(head.length + (written < 0x80 ? 1 : 2), head.length + 2, head.length + 2 + written);
    head.varint(written);
    head.length += written;
  }
  const aggregate = record.aggregate;
  if (aggregate !== undefined && !(isExactAggregate(aggregate) && head.varint(aggregate.bytes) && head.varint(aggregate.files) && head.varint(aggregate.directories) && head.varint(aggregate.symlinks))) {
    return false;
  }
  if (record.quotaBytes !== undefined && !head.varint(record.quotaBytes)) return false;
  if (record.diedEpoch !== undefined && !head.varint(record.diedEpoch)) return false;
  return true;
}

/** An aggregate with exactly its four fields (anything else keeps the record in JSON). */
function isExactAggregate(aggregate: Aggregate): boolean {
  let fields = 0;
  for (const field in aggregate) {
    if (field !== 'bytes' && field !== 'files' && field !== 'directories' && field !== 'symlinks') return false;
    fields++;
  }
  return fields === 4;
}

class HeadReader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.bytes[this.offset++];
      if (byte === undefined) throw new Error('truncated compact inode record');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  time(): string {
    const seconds = this.varint();
    const nanos = this.varint();
    return seconds === 0 ? String(nanos) : `${seconds}${String(nanos).padStart(NANOS_DIGITS, '0')}`;
  }
}

/** Reads the compact form (`bytes[0]` is COMPACT_INODE_TAG). */
export function decodeInode(bytes: Uint8Array): InodeRecord {
  const reader = new HeadReader(bytes);
  reader.offset = 1;
  const type = TYPES[bytes[reader.offset++] as number];
  if (type === undefined) throw new Error('compact inode record of an unknown type');
  const flags = bytes[reader.offset++] as number;
  const record: InodeRecord = {
    type,
    generation: reader.varint(),
    mode: reader.varint(),
    uid: reader.varint(),
    gid: reader.varint(),
    size: reader.varint(),
    allocatedBytes: reader.varint(),
    nlink: reader.varint(),
    changeId: reader.varint(),
    parentId: reader.varint(),
    atimeNs: reader.time(),
    mtimeNs: reader.time(),
    ctimeNs: reader.time(),
    birthTimeNs: reader.time(),
  };
  if ((flags & FLAG_NAME) !== 0) {
    const length = reader.varint();
    record.name = decoder.decode(bytes.subarray(reader.offset, reader.offset + length));
    reader.offset += length;
  }
  if ((flags & FLAG_AGGREGATE) !== 0) {
    record.aggregate = { bytes: reader.varint(), files: reader.varint(), directories: reader.varint(), symlinks: reader.varint() };
  }
  if ((flags & FLAG_QUOTA) !== 0) record.quotaBytes = reader.varint();
  if ((flags & FLAG_DIED) !== 0) record.diedEpoch = reader.varint();
  if ((flags & FLAG_TAIL) !== 0) {
    const tail = JSON.parse(decoder.decode(bytes.subarray(reader.offset))) as Record<string, unknown>;
    for (const field of Object.keys(tail)) if (field !== '__proto__') (record as unknown as Record<string, unknown>)[field] = tail[field];
  }
  return record;
}

const DIRENT_FIELDS = new Set<string>(['id', 'generation', 'type', 'diedEpoch']);

/** The compact form of a directory entry, or undefined when it does not fit it (store JSON then). */
export function encodeDirent(record: DirentRecord): Uint8Array | undefined {
  const typeIndex = TYPES.indexOf(record.type);
  if (typeIndex < 0) return undefined;
  for (const field in record) {
    if (!DIRENT_FIELDS.has(field) && (record as unknown as Record<string, unknown>)[field] !== undefined) return undefined;
  }
  head.length = 0;
  head.bytes[head.length++] = COMPACT_DIRENT_TAG;
  head.bytes[head.length++] = typeIndex;
  head.bytes[head.length++] = record.diedEpoch === undefined ? 0 : FLAG_DIED;
  if (!head.varint(record.id) || !head.varint(record.generation)) return undefined;
  if (record.diedEpoch !== undefined && !head.varint(record.diedEpoch)) return undefined;
  return head.bytes.slice(0, head.length);
}

/** Reads the compact form (`bytes[0]` is COMPACT_DIRENT_TAG). */
export function decodeDirent(bytes: Uint8Array): DirentRecord {
  const reader = new HeadReader(bytes);
  reader.offset = 1;
  const type = TYPES[bytes[reader.offset++] as number];
  if (type === undefined) throw new Error('compact directory entry of an unknown type');
  const flags = bytes[reader.offset++] as number;
  const record: DirentRecord = { id: reader.varint(), generation: reader.varint(), type };
  if ((flags & FLAG_DIED) !== 0) record.diedEpoch = reader.varint();
  return record;
}
