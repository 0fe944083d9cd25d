import type { Acl } from './acl/acl.js';
import type { OpContext } from './context.js';

/**
 * The core FileSystem API. Handle-based (node ids, like NFS and SMB), asynchronous, and every call
 * takes the operation context. Protocols decode their wire, call this, and encode the answer; no
 * file-system rule lives anywhere else. Failures are `FsError`s (errors.ts).
 */

export type NodeType = 'file' | 'directory' | 'symlink';

/**
 * A reference to a node. `generation` distinguishes a reused id (stale handles fail with Stale);
 * `snapshot` selects a read-only view at a snapshot's epoch (absent for the live tree).
 */
export interface NodeHandle {
  readonly id: number;
  readonly generation: number;
  readonly snapshot?: number;
}

/** Nanoseconds since the Unix epoch. */
export type TimeNs = bigint;

export interface Attributes {
  readonly id: number;
  readonly generation: number;
  readonly type: NodeType;
  /** Permission bits (0o7777) as a view of the ACL. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly ownerSid?: string;
  readonly groupSid?: string;
  readonly size: number;
  /** Bytes of stored data (holes excluded), before compression and encryption overhead. */
  readonly allocatedBytes: number;
  readonly nlink: number;
  readonly atimeNs: TimeNs;
  readonly mtimeNs: TimeNs;
  readonly ctimeNs: TimeNs;
  readonly birthTimeNs: TimeNs;
  /** Increases on every change of data or metadata (NFSv4 change attribute). */
  readonly changeId: number;
  readonly parentId: number;
}

export type TimeChange = TimeNs | 'now';

export interface SetAttributes {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly atime?: TimeChange;
  readonly mtime?: TimeChange;
  readonly birthTime?: TimeNs;
  /** NFSv3 guard (RFC 1813 §3.3.2): apply only if the node's ctime is still this. */
  readonly guardCtimeNs?: TimeNs;
}

export interface LookupOptions {
  /** SMB semantics: match names case-insensitively; the stored name keeps its case. */
  readonly caseInsensitive?: boolean;
  /**
   * Also answer the node's extended attributes, read in the same consistent view (needs
   * READ_NAMED_ATTRS on the node, else PermissionDenied).
   */
  readonly withXattrs?: boolean;
}

export interface NodeInfo {
  readonly handle: NodeHandle;
  readonly attributes: Attributes;
  /** Present when asked for (LookupOptions.withXattrs). */
  readonly xattrs?: Xattrs;
}

/**
 * Extended attributes: small named values kept with a node (SMB extended attributes, NFSv4 named
 * attributes, S3 object metadata under `s3.`). Names are UTF-8, 1-255 bytes, no NUL; a node holds
 * at most XATTRS_BYTES_MAX bytes of names and values together. Reading needs READ_NAMED_ATTRS,
 * changing needs WRITE_NAMED_ATTRS.
 */
export type Xattrs = Readonly<Record<string, Uint8Array>>;

/** Changes to a node's extended attributes: a value sets the name, null removes it. */
export type XattrChanges = Readonly<Record<string, Uint8Array | null>>;

/**
 * A whole file written at once (S3 PutObject): `data` becomes its content and `xattrs` its
 * extended attributes, and it takes `name` in one atomic transaction: readers see the previous
 * file or the new one, never a mix. An existing file of that name is replaced (it needs the
 * rights a rename over it needs) unless `noReplace`, which fails with Exists.
 */
export interface PutFileRequest {
  readonly data: Uint8Array;
  readonly xattrs?: Xattrs;
  readonly mode?: number;
  readonly noReplace?: boolean;
}

export interface CreateOptions {
  readonly mode?: number;
  /** Fail with Exists if the name exists (otherwise an existing file is opened). */
  readonly exclusive?: boolean;
  readonly uid?: number;
  readonly gid?: number;
}

export interface CreateResult extends NodeInfo {
  readonly created: boolean;
}

export interface ReadResult {
  readonly data: Uint8Array;
  readonly eof: boolean;
  /** The file's attributes as of the read (same consistent view), so a caller needs no getattr. */
  readonly attributes?: Attributes;
}

export interface WriteResult {
  readonly bytesWritten: number;
  readonly attributes: Attributes;
}

export interface DirectoryEntry {
  readonly name: string;
  readonly handle: NodeHandle;
  readonly type: NodeType;
  readonly attributes?: Attributes;
  /** With ReaddirOptions.withXattrs, when the caller may read them (READ_NAMED_ATTRS). */
  readonly xattrs?: Xattrs;
}

export interface ReaddirOptions {
  /** Opaque cursor from a previous page; absent for the first page. */
  readonly cursor?: string;
  readonly limit: number;
  readonly withAttributes?: boolean;
  /** Also each entry's extended attributes (implies attributes), read in the same view. */
  readonly withXattrs?: boolean;
}

export interface ReaddirPage {
  readonly entries: readonly DirectoryEntry[];
  /** Absent on the last page. Stable under concurrent changes: resuming never repeats a name. */
  readonly cursor?: string;
}

export interface RenameRequest {
  readonly sourceDir: NodeHandle;
  readonly sourceName: string;
  readonly targetDir: NodeHandle;
  readonly targetName: string;
  /** Fail with Exists instead of replacing an existing target. */
  readonly noReplace?: boolean;
  /**
   * Replace the moved node's extended attributes with these in the same transaction (needs
   * WRITE_NAMED_ATTRS on it): publishing a staged upload with its metadata at once.
   */
  readonly xattrs?: Xattrs;
}

export interface FsStats {
  readonly totalBytes: number;
  readonly freeBytes: number;
  readonly availableBytes: number;
  readonly usedBytes: number;
  /**
   * Data bytes held only by snapshots (what deleting every snapshot would free), reported apart
   * from usedBytes (live data). May lag by up to a minute (snapshot/space.ts).
   */
  readonly snapshotBytes: number;
  readonly totalFiles: number;
  readonly freeFiles: number;
}

export interface Aggregates {
  /** Logical bytes of every file below (hard links counted once per link). */
  readonly bytes: number;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
}

export interface Quota {
  readonly directoryId: number;
  readonly limitBytes: number;
}

export interface QuotaStatus extends Quota {
  readonly usedBytes: number;
}

export interface FileSystem {
  root(ctx: OpContext): Promise<NodeHandle>;
  /** The handle of a live node by id (REST refs, quotas by id); NotFound if no node has it. */
  handleOf(ctx: OpContext, id: number): Promise<NodeHandle>;
  lookup(ctx: OpContext, dir: NodeHandle, name: string, options?: LookupOptions): Promise<NodeInfo>;
  /**
   * Resolves an absolute path (from the root) or a relative one (from `from`). The one place where
   * `.`/`..`, empty segments, NUL and over-long names and paths are handled for path-based
   * protocols (S3, FTP, REST). `..` never climbs above the root.
   */
  resolvePath(ctx: OpContext, path: string, options?: { from?: NodeHandle; followFinalSymlink?: boolean } & LookupOptions): Promise<NodeInfo>;
  getattr(ctx: OpContext, node: NodeHandle): Promise<Attributes>;
  setattr(ctx: OpContext, node: NodeHandle, changes: SetAttributes): Promise<Attributes>;
  create(ctx: OpContext, dir: NodeHandle, name: string, options?: CreateOptions): Promise<CreateResult>;
  mkdir(ctx: OpContext, dir: NodeHandle, name: string, options?: { mode?: number; uid?: number; gid?: number }): Promise<NodeInfo>;
  symlink(ctx: OpContext, dir: NodeHandle, name: string, target: string): Promise<NodeInfo>;
  link(ctx: OpContext, node: NodeHandle, dir: NodeHandle, name: string): Promise<NodeInfo>;
  readlink(ctx: OpContext, node: NodeHandle): Promise<string>;
  read(ctx: OpContext, node: NodeHandle, request: { offset: number; length: number }): Promise<ReadResult>;
  /** Durable when it resolves. */
  write(ctx: OpContext, node: NodeHandle, request: { offset: number; data: Uint8Array }): Promise<WriteResult>;
  /**
   * Copies a byte range between files by sharing chunks (no data is read or written); the source
   * may be in a snapshot (restore). At most 1 GiB per call.
   */
  copyRange(ctx: OpContext, request: { source: NodeHandle; sourceOffset: number; target: NodeHandle; targetOffset: number; length: number }): Promise<WriteResult>;
  /** Creates or replaces `name` with a whole file in one transaction (PutFileRequest). */
  putFile(ctx: OpContext, dir: NodeHandle, name: string, request: PutFileRequest): Promise<CreateResult>;
  getXattrs(ctx: OpContext, node: NodeHandle): Promise<Xattrs>;
  /** Applies the changes at once; changes ctime, not mtime. */
  setXattrs(ctx: OpContext, node: NodeHandle, changes: XattrChanges): Promise<Attributes>;
  readdir(ctx: OpContext, dir: NodeHandle, options: ReaddirOptions): Promise<ReaddirPage>;
  rename(ctx: OpContext, request: RenameRequest): Promise<void>;
  /** Removes a non-directory entry. */
  remove(ctx: OpContext, dir: NodeHandle, name: string): Promise<void>;
  rmdir(ctx: OpContext, dir: NodeHandle, name: string): Promise<void>;
  statfs(ctx: OpContext, node?: NodeHandle): Promise<FsStats>;
  getAcl(ctx: OpContext, node: NodeHandle): Promise<Acl>;
  setAcl(ctx: OpContext, node: NodeHandle, acl: Acl): Promise<Attributes>;
  aggregates(ctx: OpContext, dir: NodeHandle): Promise<Aggregates>;
  setQuota(ctx: OpContext, dir: NodeHandle, limitBytes: number | null): Promise<void>;
  getQuota(ctx: OpContext, dir: NodeHandle): Promise<QuotaStatus | undefined>;
  listQuotas(ctx: OpContext, options: { cursor?: string; limit: number }): Promise<{ quotas: QuotaStatus[]; cursor?: string }>;
}

export const NAME_BYTES_MAX = 255;
export const PATH_BYTES_MAX = 4096;
export const SYMLINK_TARGET_BYTES_MAX = 4096;
/** 2^53 - 1 would overflow offset arithmetic in places; 2^50 bytes (1 PiB) is the file size limit. */
export const FILE_BYTES_MAX = 2 ** 50;
export const READ_BYTES_MAX = 16 * 1024 * 1024;
export const WRITE_BYTES_MAX = 16 * 1024 * 1024;
export const READDIR_LIMIT_MAX = 10_000;
export const LINKS_MAX = 65_000;
export const XATTR_NAME_BYTES_MAX = 255;
/** Names and values of one node's extended attributes together (they live in its inode record). */
export const XATTRS_BYTES_MAX = 64 * 1024;
