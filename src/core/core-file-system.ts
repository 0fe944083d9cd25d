import type { Acl } from './acl/acl.js';
import type { OpContext } from './context.js';
import { readFile, writeFile } from './data/file-io.js';
import { copyRange, type CopyRangeRequest } from './data/copy-range.js';
import { translateError, type Engine } from './engine.js';
import type {
  Aggregates,
  Attributes,
  CreateOptions,
  CreateResult,
  FileSystem,
  FsStats,
  LookupOptions,
  NodeHandle,
  NodeInfo,
  PutFileRequest,
  QuotaStatus,
  ReaddirOptions,
  ReaddirPage,
  ReadResult,
  RenameRequest,
  SetAttributes,
  WriteResult,
  XattrChanges,
  Xattrs,
} from './file-system.js';
import { aggregates, getAcl, getattr, setAcl, setattr } from './namespace/attributes.js';
import { createNode, linkNode } from './namespace/create.js';
import { lookup, readdir, resolvePath } from './namespace/lookup.js';
import { getQuota, listQuotas, setQuota, statfs } from './namespace/quotas.js';
import { removeDirectory, removeFile } from './namespace/remove.js';
import { renameEntry } from './namespace/rename.js';
import { putFile } from './namespace/put-file.js';
import { getXattrs, setXattrs } from './namespace/xattrs.js';
import { ROOT_ID } from './records.js';
import { FsError } from './errors.js';
import { changesSince, type ChangesPage } from './snapshot/diff.js';
import { fileChangesSince, type FileRegionsPage } from './snapshot/file-diff.js';
import { snapshotSpace, snapshotsTotalBytes, type SnapshotSpace } from './snapshot/space.js';
import { restoreFromSnapshot, type RestoreRequest, type RestoreSummary } from './snapshot/restore.js';
import { checkConsistency, type ConsistencyOptions, type ConsistencyReport } from './check/consistency-check.js';
import { isSuperuser } from './permissions.js';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots, setSnapshotExpiration, setSnapshotLock, snapshotRoot, type SnapshotInfo } from './snapshot/snapshots.js';
import type { CollectStats } from './data/garbage-collector.js';

/** What core did on its own: an audit operation name, its status (ok or an error code), details. */
export interface InternalEvent {
  readonly operation: string;
  readonly status: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

export interface Maintenance {
  /** Runs garbage collection until nothing is left to do. */
  collectGarbage(): Promise<CollectStats>;
  /** Waits until queued segment compactions are done. */
  compactionIdle(): Promise<void>;
}

/**
 * The FileSystem over the engine. Each method is the operation's module call wrapped so that
 * nothing but an FsError leaves core (engine.ts, translateError).
 */
export class CoreFileSystem implements FileSystem {
  constructor(
    private readonly engine: Engine,
    /** Background work, exposed so tests and `enclave fsck` can drive it to completion. */
    readonly maintenance: Maintenance,
    private readonly internalListeners: Set<(event: InternalEvent) => void>,
    private readonly onClose: () => Promise<void>,
  ) {}

  /**
   * Core's own actions that no caller asked for (a snapshot expiring), for the audit trail
   * (protocol 'internal'). Returns the function that stops listening.
   */
  onInternalEvent(listener: (event: InternalEvent) => void): () => void {
    this.internalListeners.add(listener);
    return () => this.internalListeners.delete(listener);
  }

  private async run<T>(ctx: OpContext, operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw translateError(error, ctx, operation);
    }
  }

  root(ctx: OpContext): Promise<NodeHandle> {
    return this.run(ctx, 'root', () =>
      this.engine.inspect(ctx, undefined, async (scope) => {
        const record = await scope.inode(ROOT_ID);
        if (record === undefined) throw new FsError('Internal', 'the root directory is missing');
        return { id: ROOT_ID, generation: record.generation };
      }),
    );
  }

  handleOf(ctx: OpContext, id: number): Promise<NodeHandle> {
    return this.run(ctx, 'handleOf', () =>
      this.engine.inspect(ctx, undefined, async (scope) => {
        if (!Number.isSafeInteger(id) || id < 1) throw new FsError('InvalidArgument', 'a node id is a positive integer');
        const record = await scope.inode(id);
        if (record === undefined) throw new FsError('NotFound', `no node ${id}`);
        return { id, generation: record.generation };
      }),
    );
  }

  lookup(ctx: OpContext, dir: NodeHandle, name: string, options?: LookupOptions): Promise<NodeInfo> {
    return this.run(ctx, 'lookup', () => lookup(this.engine, ctx, dir, name, options));
  }

  resolvePath(ctx: OpContext, path: string, options?: { from?: NodeHandle; followFinalSymlink?: boolean } & LookupOptions): Promise<NodeInfo> {
    return this.run(ctx, 'resolvePath', () => resolvePath(this.engine, ctx, path, options));
  }

  getattr(ctx: OpContext, node: NodeHandle): Promise<Attributes> {
    return this.run(ctx, 'getattr', () => getattr(this.engine, ctx, node));
  }

  setattr(ctx: OpContext, node: NodeHandle, changes: SetAttributes): Promise<Attributes> {
    return this.run(ctx, 'setattr', () => setattr(this.engine, ctx, node, changes));
  }

  create(ctx: OpContext, dir: NodeHandle, name: string, options: CreateOptions = {}): Promise<CreateResult> {
    const { exclusive, ...rest } = options;
    return this.run(ctx, 'create', () => createNode(this.engine, ctx, dir, name, { type: 'file', ...rest, openExisting: exclusive !== true }));
  }

  mkdir(ctx: OpContext, dir: NodeHandle, name: string, options: { mode?: number; uid?: number; gid?: number } = {}): Promise<NodeInfo> {
    return this.run(ctx, 'mkdir', () => createNode(this.engine, ctx, dir, name, { type: 'directory', ...options }));
  }

  symlink(ctx: OpContext, dir: NodeHandle, name: string, target: string): Promise<NodeInfo> {
    return this.run(ctx, 'symlink', () => createNode(this.engine, ctx, dir, name, { type: 'symlink', symlinkTarget: target }));
  }

  link(ctx: OpContext, node: NodeHandle, dir: NodeHandle, name: string): Promise<NodeInfo> {
    return this.run(ctx, 'link', () => linkNode(this.engine, ctx, node, dir, name));
  }

  readlink(ctx: OpContext, node: NodeHandle): Promise<string> {
    return this.run(ctx, 'readlink', () =>
      this.engine.inspect(ctx, node, async (scope) => {
        const record = await scope.node(node);
        if (record.type !== 'symlink' || record.symlinkTarget === undefined) throw new FsError('NotASymlink', 'not a symbolic link');
        return record.symlinkTarget;
      }),
    );
  }

  read(ctx: OpContext, node: NodeHandle, request: { offset: number; length: number }): Promise<ReadResult> {
    return this.run(ctx, 'read', () => readFile(this.engine, ctx, node, request));
  }

  write(ctx: OpContext, node: NodeHandle, request: { offset: number; data: Uint8Array }): Promise<WriteResult> {
    return this.run(ctx, 'write', () => writeFile(this.engine, ctx, node, request));
  }

  copyRange(ctx: OpContext, request: CopyRangeRequest): Promise<WriteResult> {
    return this.run(ctx, 'copyRange', () => copyRange(this.engine, ctx, request));
  }

  putFile(ctx: OpContext, dir: NodeHandle, name: string, request: PutFileRequest): Promise<CreateResult> {
    return this.run(ctx, 'putFile', () => putFile(this.engine, ctx, dir, name, request));
  }

  getXattrs(ctx: OpContext, node: NodeHandle): Promise<Xattrs> {
    return this.run(ctx, 'getXattrs', () => getXattrs(this.engine, ctx, node));
  }

  setXattrs(ctx: OpContext, node: NodeHandle, changes: XattrChanges): Promise<Attributes> {
    return this.run(ctx, 'setXattrs', () => setXattrs(this.engine, ctx, node, changes));
  }

  readdir(ctx: OpContext, dir: NodeHandle, options: ReaddirOptions): Promise<ReaddirPage> {
    return this.run(ctx, 'readdir', () => readdir(this.engine, ctx, dir, options));
  }

  rename(ctx: OpContext, request: RenameRequest): Promise<void> {
    return this.run(ctx, 'rename', () => renameEntry(this.engine, ctx, request));
  }

  remove(ctx: OpContext, dir: NodeHandle, name: string): Promise<void> {
    return this.run(ctx, 'remove', () => removeFile(this.engine, ctx, dir, name));
  }

  rmdir(ctx: OpContext, dir: NodeHandle, name: string): Promise<void> {
    return this.run(ctx, 'rmdir', () => removeDirectory(this.engine, ctx, dir, name));
  }

  statfs(ctx: OpContext, node?: NodeHandle): Promise<FsStats> {
    return this.run(ctx, 'statfs', () => statfs(this.engine, ctx, node));
  }

  getAcl(ctx: OpContext, node: NodeHandle): Promise<Acl> {
    return this.run(ctx, 'getAcl', () => getAcl(this.engine, ctx, node));
  }

  setAcl(ctx: OpContext, node: NodeHandle, acl: Acl): Promise<Attributes> {
    return this.run(ctx, 'setAcl', () => setAcl(this.engine, ctx, node, acl));
  }

  aggregates(ctx: OpContext, dir: NodeHandle): Promise<Aggregates> {
    return this.run(ctx, 'aggregates', () => aggregates(this.engine, ctx, dir));
  }

  setQuota(ctx: OpContext, dir: NodeHandle, limitBytes: number | null): Promise<void> {
    return this.run(ctx, 'setQuota', () => setQuota(this.engine, ctx, dir, limitBytes));
  }

  getQuota(ctx: OpContext, dir: NodeHandle): Promise<QuotaStatus | undefined> {
    return this.run(ctx, 'getQuota', () => getQuota(this.engine, ctx, dir));
  }

  listQuotas(ctx: OpContext, options: { cursor?: string; limit: number }): Promise<{ quotas: QuotaStatus[]; cursor?: string }> {
    return this.run(ctx, 'listQuotas', () => listQuotas(this.engine, ctx, options));
  }

  // ---- snapshots (administrative: a superuser context, after the management API's checks)

  createSnapshot(ctx: OpContext, dir: NodeHandle, options: { name: string; expirationNs?: bigint; lockKeyId?: string; source?: string }): Promise<SnapshotInfo> {
    return this.run(ctx, 'createSnapshot', () => createSnapshot(this.engine, ctx, dir, options));
  }

  listSnapshots(): SnapshotInfo[] {
    return listSnapshots(this.engine);
  }

  getSnapshot(ctx: OpContext, id: number): Promise<SnapshotInfo> {
    return this.run(ctx, 'getSnapshot', async () => getSnapshot(this.engine, id));
  }

  /** The snapshot's root directory, read-only. */
  snapshotRoot(ctx: OpContext, id: number): Promise<NodeHandle> {
    return this.run(ctx, 'snapshotRoot', async () => snapshotRoot(this.engine, id));
  }

  deleteSnapshot(ctx: OpContext, id: number): Promise<void> {
    return this.run(ctx, 'deleteSnapshot', () => deleteSnapshot(this.engine, ctx, id));
  }

  setSnapshotExpiration(ctx: OpContext, id: number, expirationNs: bigint | null): Promise<SnapshotInfo> {
    return this.run(ctx, 'setSnapshotExpiration', () => setSnapshotExpiration(this.engine, ctx, id, expirationNs));
  }

  setSnapshotLock(ctx: OpContext, id: number, lockKeyId: string | null): Promise<SnapshotInfo> {
    return this.run(ctx, 'setSnapshotLock', () => setSnapshotLock(this.engine, ctx, id, lockKeyId));
  }

  /**
   * Restores a file or a directory tree from a snapshot to a live destination, sharing chunks
   * (no data is copied), as the caller and under the caller's rights (snapshot/restore.ts).
   */
  restoreFromSnapshot(ctx: OpContext, request: RestoreRequest): Promise<RestoreSummary> {
    return this.run(ctx, 'restoreFromSnapshot', () => restoreFromSnapshot(this, ctx, request, { random: (size) => this.engine.random(size) }));
  }

  /** CREATE / MODIFY / DELETE by path between two snapshots of a directory, or one and the live tree. */
  changesSince(ctx: OpContext, request: { newer: number | 'live'; older: number; cursor?: string; limit: number }): Promise<ChangesPage> {
    return this.run(ctx, 'changesSince', () => changesSince(this.engine, ctx, request));
  }

  /** The changed byte regions of one file between two snapshots, or one and the live tree. */
  fileChangesSince(ctx: OpContext, request: { file: NodeHandle; older: number; newer: number | 'live'; cursor?: string; limit?: number }): Promise<FileRegionsPage> {
    return this.run(ctx, 'fileChangesSince', () => fileChangesSince(this.engine, ctx, request));
  }

  /** Data bytes only snapshot `id` holds: what deleting it frees (cost: changes since it). */
  snapshotSpace(ctx: OpContext, id: number): Promise<SnapshotSpace> {
    return this.run(ctx, 'snapshotSpace', () => snapshotSpace(this.engine, ctx, id));
  }

  /** Data bytes all snapshots together hold (cost: changes since the oldest). */
  snapshotsTotalBytes(ctx: OpContext): Promise<number> {
    return this.run(ctx, 'snapshotsTotalBytes', () => snapshotsTotalBytes(this.engine, ctx));
  }

  /**
   * Online, read-only fsck: checks every reference of the live stores in one consistent read,
   * changing nothing (check/consistency-check.ts). Administrators only.
   */
  checkConsistency(ctx: OpContext, options: Omit<ConsistencyOptions, 'online'> = {}): Promise<ConsistencyReport> {
    return this.run(ctx, 'checkConsistency', async () => {
      if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', 'only an administrator may check the stores');
      return checkConsistency(this.engine.metadata, this.engine.chunks, { ...options, online: true });
    });
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
