import type { OpContext } from '../../../core/context.js';
import type { NodeHandle } from '../../../core/file-system.js';
import type { ServedExport } from '../exports/export-table.js';
import type { RpcCall, RpcProcedure, RpcProgram } from '../rpc/rpc-program.js';
import { NFS3_AUDIT_PREPARE, NFS3_AUDIT_RULES, statusName, type AuditedCall } from './nfs3-audit.js';
import { Nfs3Failure, statusOf } from './nfs3-errors.js';
import type { AnyNfs3Procedure, Nfs3Call, Nfs3Services, Outcome } from './nfs3-procedure.js';
import { NFS_PROGRAM, NFS_V3, Nfs3Status } from './nfs3-types.js';
import { accessProcedure } from './procedures/access.js';
import { commitProcedure } from './procedures/commit.js';
import { createProcedure } from './procedures/create.js';
import { fsinfoProcedure } from './procedures/fsinfo.js';
import { fsstatProcedure } from './procedures/fsstat.js';
import { getattrProcedure } from './procedures/getattr.js';
import { linkProcedure } from './procedures/link.js';
import { lookupProcedure } from './procedures/lookup.js';
import { mkdirProcedure } from './procedures/mkdir.js';
import { mknodProcedure } from './procedures/mknod.js';
import { nullProcedure } from './procedures/null.js';
import { pathconfProcedure } from './procedures/pathconf.js';
import { readProcedure } from './procedures/read.js';
import { readdirProcedure } from './procedures/readdir.js';
import { readdirplusProcedure } from './procedures/readdirplus.js';
import { readlinkProcedure } from './procedures/readlink.js';
import { removeProcedure } from './procedures/remove.js';
import { renameProcedure } from './procedures/rename.js';
import { rmdirProcedure } from './procedures/rmdir.js';
import { setattrProcedure } from './procedures/setattr.js';
import { symlinkProcedure } from './procedures/symlink.js';
import { writeProcedure } from './procedures/write.js';

/** RFC 1813 §3.3: every NFSv3 procedure, by number. */
export const NFS3_PROCEDURES: readonly AnyNfs3Procedure[] = [
  nullProcedure,
  getattrProcedure,
  setattrProcedure,
  lookupProcedure,
  accessProcedure,
  readlinkProcedure,
  readProcedure,
  writeProcedure,
  createProcedure,
  mkdirProcedure,
  symlinkProcedure,
  mknodProcedure,
  removeProcedure,
  rmdirProcedure,
  renameProcedure,
  linkProcedure,
  readdirProcedure,
  readdirplusProcedure,
  fsstatProcedure,
  fsinfoProcedure,
  pathconfProcedure,
  commitProcedure,
];

export function nfs3Program(services: Nfs3Services): RpcProgram {
  const procedures = new Map<number, RpcProcedure>(NFS3_PROCEDURES.map((procedure) => [procedure.number, toRpcProcedure(procedure, services)]));
  return { number: NFS_PROGRAM, name: 'nfs', versions: new Map([[NFS_V3, procedures]]) };
}

function toRpcProcedure(procedure: AnyNfs3Procedure, services: Nfs3Services): RpcProcedure {
  return {
    name: procedure.name,
    idempotent: procedure.idempotent,
    prepare: (reader) => {
      const args: unknown = procedure.decode(reader);
      reader.end(procedure.name);
      return async (rpcCall, results) => {
        const { outcome, fsid } = await dispatch(procedure, services, rpcCall, args);
        results.uint32(outcome.status);
        if (outcome.status === Nfs3Status.OK) procedure.encodeOk(results, outcome.ok, fsid);
        else procedure.encodeFail(results, outcome.fail, fsid);
      };
    },
  };
}

/**
 * Decided once for every procedure, before it runs: the handle is ours and unaltered (else
 * BADHANDLE), its export still exists (else STALE), the export's rules admit this client address
 * and source port now (else ACCES), the principal is mapped by that rule, and a mutating procedure
 * on a read-only export, or on a handle inside a snapshot (or a `.snapshot` directory), is ROFS.
 * Afterwards, the call is audited (nfs3-audit.ts) whatever its outcome.
 */
async function dispatch(procedure: AnyNfs3Procedure, services: Nfs3Services, rpcCall: RpcCall, args: unknown): Promise<{ outcome: Outcome<unknown, unknown>; fsid: number }> {
  const object = procedure.object(args);
  if (object === undefined) return { outcome: await procedure.handle(undefined as never, args), fsid: 0 };
  let fsid = 0;
  let call: Nfs3Call | undefined;
  let outcome: Outcome<unknown, unknown>;
  let prior: unknown;
  try {
    call = await admitCall(services, rpcCall, object);
    fsid = call.fsid;
    if (procedure.mutates && call.readOnly) throw new Nfs3Failure(Nfs3Status.ROFS, 'the export is read-only for this client');
    if (procedure.mutates && call.node.snapshot !== undefined) throw new Nfs3Failure(Nfs3Status.ROFS, 'snapshots are read-only');
    // Gathered UNSTABLE writes reach core before anything else can look at or change files;
    // COMMIT flushes its own file and reports a failure.
    if (procedure.number !== WRITE_PROCEDURE && procedure.number !== COMMIT_PROCEDURE && services.gatherer.hasPending) await services.gatherer.flushAll();
    const prepare = services.auditor === undefined ? undefined : NFS3_AUDIT_PREPARE.get(procedure.number);
    if (prepare !== undefined) prior = await prepare(call);
    outcome = await procedure.handle(call, args);
  } catch (error) {
    const status = statusOf(error);
    if (status === undefined || status === Nfs3Status.OK) {
      services.logger.error({ err: error, procedure: procedure.name, client: rpcCall.client }, 'NFS procedure failed');
      outcome = { status: Nfs3Status.SERVERFAULT };
    } else outcome = { status };
  }
  if (services.auditor !== undefined) audit(procedure, services, rpcCall, call, args, outcome, prior);
  return { outcome, fsid };
}

/** Emits the procedure's audit event; a call refused before admission is audited by file id. */
function audit(procedure: AnyNfs3Procedure, services: Nfs3Services, rpcCall: RpcCall, call: Nfs3Call | undefined, args: unknown, outcome: Outcome<unknown, unknown>, prior: unknown): void {
  const rule = NFS3_AUDIT_RULES.get(procedure.number);
  if (rule === undefined || services.auditor === undefined) return;
  try {
    const status = statusName(outcome.status);
    if (call === undefined) {
      const operation = REFUSED_AUDIT_OPERATIONS.get(procedure.number);
      if (operation === undefined) return;
      services.auditor.emitFor(unadmittedContext(services, rpcCall), { operation, status });
      return;
    }
    const audited: AuditedCall = {
      call,
      paths: services.paths,
      status,
      succeeded: outcome.status === Nfs3Status.OK,
      nodeOf: (handle) => (handle === undefined ? undefined : services.handles.decode(handle)?.node),
      ...(prior === undefined ? {} : { prior }),
    };
    const fields = rule(audited, args as never, outcome);
    if (fields !== undefined) services.auditor.emitFor(call.ctx, fields);
  } catch (error) {
    services.logger.error({ err: error, procedure: procedure.name }, 'NFS audit event failed');
  }
}

/** Operations audited even when the call is refused before it runs (bad handle, export refuses). */
const REFUSED_AUDIT_OPERATIONS = new Map<number, string>([
  [2, 'fs_write_metadata'],
  [6, 'fs_read_data'],
  [7, 'fs_write_data'],
  [8, 'fs_create_file'],
  [9, 'fs_create_directory'],
  [10, 'fs_create_symlink'],
  [11, 'fs_create_file'],
  [12, 'fs_delete'],
  [13, 'fs_delete'],
  [14, 'fs_rename'],
  [15, 'fs_create_hard_link'],
  [16, 'fs_list_directory'],
  [17, 'fs_list_directory'],
]);

function unadmittedContext(services: Nfs3Services, rpcCall: RpcCall): OpContext {
  const uid = rpcCall.credential.flavor === 'sys' ? rpcCall.credential.uid : NOBODY_UID;
  return { principal: { uid, gids: [] }, clientAddress: rpcCall.client.address, protocol: 'nfsv3', requestId: `nfs-${rpcCall.xid.toString(16)}`, logger: services.logger };
}

const NOBODY_UID = 65534;
const WRITE_PROCEDURE = 7;
const COMMIT_PROCEDURE = 21;

async function admitCall(services: Nfs3Services, rpcCall: RpcCall, object: Uint8Array): Promise<Nfs3Call> {
  const decoded = services.handles.decode(object);
  if (decoded === undefined) throw new Nfs3Failure(Nfs3Status.BADHANDLE, 'not a handle this server issued');
  const served = await services.exports.byId(decoded.exportId);
  if (served === undefined) throw new Nfs3Failure(Nfs3Status.STALE, 'the export no longer exists');
  // Synchronous when address rules decide, or the client's names and groups are cached.
  const decision = services.exports.admitCall(served, rpcCall.client, rpcCall.credential);
  const admission = decision instanceof Promise ? await decision : decision;
  if (!admission.admitted) throw new Nfs3Failure(Nfs3Status.ACCES, `the export refuses this client (${admission.reason})`);
  const ctx: OpContext = {
    principal: admission.principal,
    clientAddress: rpcCall.client.address,
    protocol: 'nfsv3',
    requestId: `nfs-${rpcCall.xid.toString(16)}`,
    logger: services.logger,
    signal: rpcCall.signal,
  };
  const exportRoot = await services.exports.rootOf(served);
  return {
    services,
    fs: services.fileSystem,
    ctx,
    served,
    exportRoot,
    readOnly: admission.restriction.read_only,
    node: decoded.node,
    fsid: served.id,
    handleOf: (raw) => sameExportHandle(services, served, raw),
    fileHandle: (node: NodeHandle) => services.handles.encode(served.id, node),
  };
}

function sameExportHandle(services: Nfs3Services, served: ServedExport, raw: Uint8Array): NodeHandle {
  const decoded = services.handles.decode(raw);
  if (decoded === undefined) throw new Nfs3Failure(Nfs3Status.BADHANDLE, 'not a handle this server issued');
  if (decoded.exportId !== served.id) throw new Nfs3Failure(Nfs3Status.XDEV, 'the handles are in different exports');
  return decoded.node;
}
