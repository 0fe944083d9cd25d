import { key, KeyReader, prefixEnd } from '../storage/metadata/tuple.js';
import type { Ace } from './acl/acl.js';
import type { NodeType } from './file-system.js';
import { COMPACT_DIRENT_TAG, COMPACT_INODE_TAG, decodeDirent, decodeInode, encodeDirent, encodeInode } from './compact-records.js';

/**
 * Core's record layouts in the MetadataStore (keyspace bytes 0x01-0x1f, keyspaces.ts).
 *
 * Versioned records (inodes, directory entries, segments) carry the epoch they were born in as
 * the last key part and the epoch they died in (once closed) in the value, so a snapshot is an
 * epoch number and reading it selects the versions alive then (DESIGN.md, "Versioned metadata").
 * Indexes and queues (case-folded names, extra link parents, chunk references, work queues)
 * describe the live tree only.
 */
export const RecordType = {
  meta: 0x01,
  inode: 0x02,
  dirent: 0x03,
  folded: 0x04,
  segment: 0x05,
  chunkRef: 0x06,
  gcQueue: 0x07,
  quota: 0x08,
  orphan: 0x09,
  linkParent: 0x0a,
  inlineData: 0x0b,
  snapshot: 0x0c,
  changeByEpoch: 0x0d,
  changeByRecord: 0x0e,
  snapshotReclaim: 0x0f,
} as const;

export const ROOT_ID = 1;
/** Epoch 0 is "before anything"; the live tree starts at epoch 1. */
export const FIRST_EPOCH = 1;
/**
 * 2: inodes and directory entries may be stored in their compact forms (compact-records.ts). This
 * version reads format 1 as it is and marks it 2 on open, so an older Enclave refuses the store
 * rather than failing on a record it cannot decode.
 */
export const FORMAT_VERSION = 2;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes a stored value: JSON, or an inode or directory entry in compact form (compact-records.ts). */
export function decodeJson<T>(bytes: Uint8Array): T {
  if (bytes[0] === COMPACT_INODE_TAG) return decodeInode(bytes) as T;
  if (bytes[0] === COMPACT_DIRENT_TAG) return decodeDirent(bytes) as T;
  return JSON.parse(decoder.decode(bytes)) as T;
}

/** The stored form of a versioned record's value: inodes and entries compact when they fit, the rest JSON. */
export function encodeRecord(recordKey: Uint8Array, value: unknown): Uint8Array {
  if (recordKey[0] === RecordType.inode) return encodeInode(value as InodeRecord) ?? encodeJson(value);
  if (recordKey[0] === RecordType.dirent) return encodeDirent(value as DirentRecord) ?? encodeJson(value);
  return encodeJson(value);
}

// ---- meta: counters and instance-wide values

export function metaKey(name: string): Uint8Array {
  return key().byte(RecordType.meta).string(name).build();
}

// ---- inodes

export interface Aggregate {
  bytes: number;
  files: number;
  directories: number;
  symlinks: number;
}

/** The stored form of a node; times are nanoseconds as decimal strings (JSON has no bigint). */
export interface InodeRecord {
  type: NodeType;
  generation: number;
  /** Permission bits 0o777 derived from the ACL, plus the special bits 0o7000 kept here. */
  mode: number;
  uid: number;
  gid: number;
  ownerSid?: string;
  groupSid?: string;
  size: number;
  allocatedBytes: number;
  nlink: number;
  atimeNs: string;
  mtimeNs: string;
  ctimeNs: string;
  birthTimeNs: string;
  changeId: number;
  /** The directory holding the node's first link (for directories, their only one). */
  parentId: number;
  /** The name of that first link (paths in snapshot diffs and audit); '' for the root. */
  name?: string;
  /**
   * The node's ACL; absent when it is exactly the ACL its mode makes (aclFromMode), which is
   * most nodes: they then store nothing for it (permissions.ts, aclOf, derives it).
   */
  acl?: Ace[];
  symlinkTarget?: string;
  /**
   * Extended attributes (namespace/xattrs.ts): name -> value as base64, versioned with the node
   * (snapshots keep them) and gone with it. Absent when the node has none.
   */
  xattrs?: Record<string, string>;
  /** Directories only: what is below, updated in the same transaction as every change. */
  aggregate?: Aggregate;
  /** Directories only: the hard quota on `aggregate.bytes`. */
  quotaBytes?: number;
  /** Set once a newer version replaced this one, or the node was removed. */
  diedEpoch?: number;
}

export function inodePrefix(id: number): Uint8Array {
  return key().byte(RecordType.inode).uint(id).build();
}

export function inodeKey(id: number, bornEpoch: number): Uint8Array {
  return key().byte(RecordType.inode).uint(id).uint(bornEpoch).build();
}

// ---- directory entries: (parent, name, born) -> child

export interface DirentRecord {
  id: number;
  generation: number;
  type: NodeType;
  diedEpoch?: number;
}

export function direntDirectoryPrefix(parentId: number): Uint8Array {
  return key().byte(RecordType.dirent).uint(parentId).build();
}

export function direntNamePrefix(parentId: number, name: string): Uint8Array {
  return key().byte(RecordType.dirent).uint(parentId).string(name).build();
}

export function direntKey(parentId: number, name: string, bornEpoch: number): Uint8Array {
  return key().byte(RecordType.dirent).uint(parentId).string(name).uint(bornEpoch).build();
}

export function decodeDirentKey(bytes: Uint8Array): { parentId: number; name: string; bornEpoch: number } {
  const reader = new KeyReader(bytes);
  reader.byte();
  return { parentId: reader.uint(), name: reader.string(), bornEpoch: reader.uint() };
}

// ---- case-folded name index (live entries only): (parent, folded, name) -> ''

export function foldedPrefix(parentId: number, folded: string): Uint8Array {
  return key().byte(RecordType.folded).uint(parentId).string(folded).build();
}

export function foldedKey(parentId: number, folded: string, name: string): Uint8Array {
  return key().byte(RecordType.folded).uint(parentId).string(folded).string(name).build();
}

export function decodeFoldedKey(bytes: Uint8Array): { name: string } {
  const reader = new KeyReader(bytes);
  reader.byte();
  reader.uint();
  reader.string();
  return { name: reader.string() };
}

// ---- extra hard-link parents (live only): (node, parent, name) -> ''; the first link is in the inode

export function linkParentPrefix(id: number): Uint8Array {
  return key().byte(RecordType.linkParent).uint(id).build();
}

export function linkParentKey(id: number, parentId: number, name: string): Uint8Array {
  return key().byte(RecordType.linkParent).uint(id).uint(parentId).string(name).build();
}

export function decodeLinkParentKey(bytes: Uint8Array): { parentId: number; name: string } {
  const reader = new KeyReader(bytes);
  reader.byte();
  reader.uint();
  return { parentId: reader.uint(), name: reader.string() };
}

// ---- file data: (node, segment index, born) -> slices

/**
 * One write's bytes inside a segment: segment-relative `offset` and `length`, stored at
 * `chunkOffset` in chunk `chunkId`. Later slices shadow earlier ones where they overlap.
 */
export interface Slice {
  offset: number;
  length: number;
  chunkId: string;
  chunkOffset: number;
  /** The chunk's bytes are stored in the metadata store (inlineDataKey), not the chunk store. */
  inline?: true;
  /** Zeros (a copied hole): shadows older slices, references no chunk (chunkId is ''). */
  zero?: true;
}

export interface SegmentRecord {
  slices: Slice[];
  /** Bytes of the segment covered by at least one slice (for allocatedBytes). */
  coveredBytes: number;
  diedEpoch?: number;
}

export function segmentFilePrefix(id: number): Uint8Array {
  return key().byte(RecordType.segment).uint(id).build();
}

export function segmentPrefix(id: number, index: number): Uint8Array {
  return key().byte(RecordType.segment).uint(id).uint(index).build();
}

export function segmentKey(id: number, index: number, bornEpoch: number): Uint8Array {
  return key().byte(RecordType.segment).uint(id).uint(index).uint(bornEpoch).build();
}

export function decodeSegmentKey(bytes: Uint8Array): { id: number; index: number; bornEpoch: number } {
  const reader = new KeyReader(bytes);
  reader.byte();
  return { id: reader.uint(), index: reader.uint(), bornEpoch: reader.uint() };
}

// ---- chunk references and the garbage queue

export function chunkRefKey(chunkId: string): Uint8Array {
  return key().byte(RecordType.chunkRef).string(chunkId).build();
}

export function gcQueueKey(chunkId: string): Uint8Array {
  return key().byte(RecordType.gcQueue).string(chunkId).build();
}

export function decodeChunkIdKey(bytes: Uint8Array): string {
  const reader = new KeyReader(bytes);
  reader.byte();
  return reader.string();
}

// ---- small chunks stored inline in the metadata store: chunk id -> bytes (not JSON)

export function inlineDataKey(chunkId: string): Uint8Array {
  return key().byte(RecordType.inlineData).string(chunkId).build();
}

// ---- snapshots: id -> record; the change log of record keys by epoch, and by record

export interface SnapshotRecord {
  id: number;
  /** Reading the snapshot reads the versions alive at this epoch. */
  epoch: number;
  rootId: number;
  rootGeneration: number;
  name: string;
  createdAtNs: string;
  expirationNs?: string;
  /** A locked snapshot cannot be deleted, nor its expiration shortened, until unlocked. */
  lockKeyId?: string;
  /** Who or what made it: 'user', or a policy id. */
  source?: string;
}

export function snapshotKey(id: number): Uint8Array {
  return key().byte(RecordType.snapshot).uint(id).build();
}

export function decodeSnapshotKey(bytes: Uint8Array): number {
  const reader = new KeyReader(bytes);
  reader.byte();
  return reader.uint();
}

/** A record (its key without the born epoch) first changed in `epoch`. */
export function changeByEpochKey(epoch: number, recordPrefix: Uint8Array): Uint8Array {
  return key().byte(RecordType.changeByEpoch).uint(epoch).raw(recordPrefix).build();
}

export function changeByEpochPrefix(epoch: number): Uint8Array {
  return key().byte(RecordType.changeByEpoch).uint(epoch).build();
}

export function changeByRecordKey(recordPrefix: Uint8Array, epoch: number): Uint8Array {
  return key().byte(RecordType.changeByRecord).raw(recordPrefix).uint(epoch).build();
}

export function changeByRecordPrefix(recordPrefix: Uint8Array): Uint8Array {
  return key().byte(RecordType.changeByRecord).raw(recordPrefix).build();
}

export function snapshotReclaimKey(id: number): Uint8Array {
  return key().byte(RecordType.snapshotReclaim).uint(id).build();
}

// ---- quotas index: directory -> limit (the limit itself lives in the inode record)

export function quotaKey(directoryId: number): Uint8Array {
  return key().byte(RecordType.quota).uint(directoryId).build();
}

export function decodeQuotaKey(bytes: Uint8Array): number {
  const reader = new KeyReader(bytes);
  reader.byte();
  return reader.uint();
}

// ---- orphans: nodes with no links left whose data is reclaimed in bounded steps

export function orphanKey(id: number): Uint8Array {
  return key().byte(RecordType.orphan).uint(id).build();
}

export function decodeOrphanKey(bytes: Uint8Array): number {
  const reader = new KeyReader(bytes);
  reader.byte();
  return reader.uint();
}

export function typePrefix(type: number): Uint8Array {
  return Uint8Array.of(type);
}

export { prefixEnd };
