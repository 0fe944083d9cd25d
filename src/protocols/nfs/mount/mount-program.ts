import type { Logger } from 'pino';
import type { OpContext } from '../../../core/context.js';
import { isFsError, type FsErrorCode } from '../../../core/errors.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import type { ExportTable } from '../exports/export-table.js';
import type { FileHandleCodec } from '../handles/file-handle.js';
import { AuthFlavor } from '../rpc/rpc-message.js';
import type { RpcCall, RpcProcedure, RpcProgram } from '../rpc/rpc-program.js';
import type { NfsAuditSink, NfsPathMemory } from '../v3/nfs3-audit.js';
import type { XdrReader } from '../xdr/xdr-reader.js';
import type { XdrWriter } from '../xdr/xdr-writer.js';

/** RFC 1813 Appendix I: the MOUNT protocol, version 3. */
export const MOUNT_PROGRAM = 100005;
export const MOUNT_V3 = 3;
const MNTPATHLEN = 1024;
const MNTNAMLEN = 255;

export const MountStatus = { OK: 0, PERM: 1, NOENT: 2, IO: 5, ACCES: 13, NOTDIR: 20, INVAL: 22, NAMETOOLONG: 63, NOTSUPP: 10004, SERVERFAULT: 10006 } as const;
type MountStatusCode = (typeof MountStatus)[keyof typeof MountStatus];

/** Core errors met while resolving a mount path below an export, as mountstat3. */
const MOUNT_STATUS_OF: Partial<Record<FsErrorCode, MountStatusCode>> = {
  NotFound: MountStatus.NOENT,
  NotADirectory: MountStatus.NOTDIR,
  PermissionDenied: MountStatus.ACCES,
  NameTooLong: MountStatus.NAMETOOLONG,
  InvalidName: MountStatus.INVAL,
  InvalidArgument: MountStatus.INVAL,
  Stale: MountStatus.NOENT,
};

interface MountOutcome {
  readonly status: MountStatusCode;
  readonly handle?: Uint8Array;
  /** Set once the export admitted the client (the mapped principal). */
  readonly ctx?: OpContext;
  readonly fsPath?: string;
  readonly node?: NodeHandle;
}

/** Bounds on what MOUNT remembers and tells (DUMP and EXPORT answers). */
export const MOUNT_RECORDS_MAX = 4_096;
const GROUPS_LISTED_MAX = 100;

export interface MountDependencies {
  readonly fileSystem: FileSystem;
  readonly exports: ExportTable;
  readonly handles: FileHandleCodec;
  readonly logger: Logger;
  /** Audits every MNT as `nfs_mount` (ok or the MNT3ERR_ name). */
  readonly auditor?: NfsAuditSink;
  /** Learns the names of a mount below an export root, for audit paths. */
  readonly paths?: NfsPathMemory;
}

const MOUNT_STATUS_NAMES = new Map<number, string>(Object.entries(MountStatus).map(([name, code]) => [code, name === 'OK' ? 'ok' : `MNT3ERR_${name}`]));

/**
 * MNT checks the export's rules for the client's address and source port, maps the principal as
 * the rule says, resolves any path below the export as that principal (so a client cannot mount
 * a directory it could not look up), and answers the root handle. Paths with `.` or `..` are
 * refused. EXPORT lists only the exports whose rules match the caller, and DUMP only the caller's
 * own mounts: a client learns nothing about exports or clients it has no business with.
 */
export class MountService {
  /** Mount records (RFC 1813: informational; UMNT removes). Key: address + path. */
  private readonly mounts = new Map<string, { address: string; path: string }>();

  constructor(private readonly dependencies: MountDependencies) {}

  program(): RpcProgram {
    const table: Array<[number, RpcProcedure]> = [
      [0, procedure('NULL', true, () => async () => undefined)],
      [1, procedure('MNT', true, (reader) => this.decodePath(reader, (call, results, path) => this.mount(call, results, path)))],
      [2, procedure('DUMP', true, () => async (call, results) => this.dump(call, results))],
      [3, procedure('UMNT', true, (reader) => this.decodePath(reader, async (call, _results, path) => this.forget(call.client.address, path)))],
      [4, procedure('UMNTALL', true, () => async (call) => this.forget(call.client.address))],
      [5, procedure('EXPORT', true, () => async (call, results) => this.listExports(call, results))],
    ];
    return { number: MOUNT_PROGRAM, name: 'mount', versions: new Map([[MOUNT_V3, new Map(table)]]) };
  }

  private decodePath(reader: XdrReader, run: (call: RpcCall, results: XdrWriter, path: string) => Promise<void>): (call: RpcCall, results: XdrWriter) => Promise<void> {
    const path = reader.string(MNTPATHLEN, 'dirpath');
    reader.end('dirpath');
    return (call, results) => run(call, results, path);
  }

  private async mount(call: RpcCall, results: XdrWriter, path: string): Promise<void> {
    const outcome = await this.resolveMount(call, path);
    this.audit(call, path, outcome);
    results.uint32(outcome.status);
    if (outcome.status !== MountStatus.OK || outcome.handle === undefined) return;
    results.opaque(outcome.handle);
    results.uint32(1).uint32(AuthFlavor.AUTH_SYS);
    this.remember(call.client.address, path);
  }

  private audit(call: RpcCall, path: string, outcome: MountOutcome): void {
    const { auditor, logger } = this.dependencies;
    if (auditor === undefined) return;
    const uid = call.credential.flavor === 'sys' ? call.credential.uid : 65534;
    const ctx: OpContext = outcome.ctx ?? { principal: { uid, gids: [] }, clientAddress: call.client.address, protocol: 'nfsv3', requestId: `mount-${call.xid.toString(16)}`, logger };
    auditor.emitFor(ctx, {
      operation: 'nfs_mount',
      status: MOUNT_STATUS_NAMES.get(outcome.status) ?? `MNT3ERR_${outcome.status}`,
      path: outcome.fsPath ?? path,
      ...(outcome.node === undefined ? {} : { fileId: String(outcome.node.id) }),
      details: { mount_path: path },
    });
  }

  private async resolveMount(call: RpcCall, path: string): Promise<MountOutcome> {
    const { exports, fileSystem, handles, logger } = this.dependencies;
    if (!path.startsWith('/') || path.split('/').some((segment) => segment === '.' || segment === '..')) return { status: MountStatus.INVAL };
    const found = await exports.byMountPath(path);
    if (found === undefined) return { status: MountStatus.NOENT };
    const admission = await exports.admitCall(found.served, call.client, call.credential);
    if (!admission.admitted) {
      logger.warn({ client: call.client, path, reason: admission.reason }, 'NFS mount refused by the export rules');
      return { status: MountStatus.ACCES };
    }
    const ctx: OpContext = { principal: admission.principal, clientAddress: call.client.address, protocol: 'nfsv3', requestId: `mount-${call.xid.toString(16)}`, logger, signal: call.signal };
    const fsPath = [found.served.fsPath === '/' ? '' : found.served.fsPath, ...found.remainder].join('/') || '/';
    try {
      let node: NodeHandle = await exports.rootOf(found.served);
      for (const name of found.remainder) {
        const child = (await fileSystem.lookup(ctx, node, name)).handle;
        this.dependencies.paths?.learn(node, name, child);
        node = child;
      }
      const attributes = await fileSystem.getattr(ctx, node);
      if (attributes.type !== 'directory') return { status: MountStatus.NOTDIR, ctx, fsPath };
      return { status: MountStatus.OK, handle: handles.encode(found.served.id, node), ctx, fsPath, node };
    } catch (error) {
      if (!isFsError(error)) throw error;
      const status = MOUNT_STATUS_OF[error.code];
      if (status === undefined) logger.error({ err: error, path }, 'NFS mount failed');
      return { status: status ?? MountStatus.SERVERFAULT, ctx, fsPath };
    }
  }

  private remember(address: string, path: string): void {
    const key = `${address}\n${path}`;
    this.mounts.delete(key);
    if (this.mounts.size >= MOUNT_RECORDS_MAX) {
      const oldest = this.mounts.keys().next();
      if (oldest.done !== true) this.mounts.delete(oldest.value);
    }
    this.mounts.set(key, { address, path });
  }

  private forget(address: string, path?: string): void {
    for (const [key, record] of this.mounts) if (record.address === address && (path === undefined || record.path === path)) this.mounts.delete(key);
  }

  /** mountlist: a linked list of (hostname, directory). */
  private async dump(call: RpcCall, results: XdrWriter): Promise<void> {
    for (const record of this.mounts.values()) {
      if (record.address !== call.client.address) continue;
      results.bool(true).string(record.address.slice(0, MNTNAMLEN)).string(record.path);
    }
    results.bool(false);
  }

  /** exports: a linked list of (directory, linked list of groups). */
  private async listExports(call: RpcCall, results: XdrWriter): Promise<void> {
    const { exports } = this.dependencies;
    for (const served of await exports.all()) {
      if (!(await exports.matchesHost(served, call.client.address))) continue;
      results.bool(true).string(served.path);
      const groups = served.rules.flatMap((rule) => rule.restriction.host_restrictions).slice(0, GROUPS_LISTED_MAX);
      for (const group of groups) results.bool(true).string(group.slice(0, MNTNAMLEN));
      results.bool(false);
    }
    results.bool(false);
  }
}

function procedure(name: string, idempotent: boolean, prepare: (reader: XdrReader) => (call: RpcCall, results: XdrWriter) => Promise<void>): RpcProcedure {
  return {
    name,
    idempotent,
    prepare: (reader) => {
      const run = prepare(reader);
      reader.end(name);
      return run;
    },
  };
}
