import type { Logger } from 'pino';
import type { WriteGatherer } from './write-gatherer.js';
import type { OpContext } from '../../../core/context.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import type { ExportTable, ServedExport } from '../exports/export-table.js';
import type { FileHandleCodec } from '../handles/file-handle.js';
import type { XdrReader } from '../xdr/xdr-reader.js';
import type { XdrWriter } from '../xdr/xdr-writer.js';
import { Nfs3Failure, statusOf } from './nfs3-errors.js';
import { Nfs3Status, type Nfs3StatusCode } from './nfs3-types.js';
import type { NfsAuditSink, NfsPathMemory } from './nfs3-audit.js';
import type { ReaddirCookies } from './readdir-cookies.js';

/** What every NFSv3 procedure may use; built once per server. */
export interface Nfs3Services {
  readonly fileSystem: FileSystem;
  readonly handles: FileHandleCodec;
  readonly exports: ExportTable;
  readonly cookies: ReaddirCookies;
  /** RFC 1813 §3.3.7: changes when the server restarts, so clients know to resend uncommitted data. */
  readonly writeVerifier: Uint8Array;
  readonly logger: Logger;
  /** Where audit events go (absent: not audited). */
  readonly auditor?: NfsAuditSink;
  /** Paths for audit events, learned from the names handed out. */
  readonly paths: NfsPathMemory;
  /** UNSTABLE writes held until COMMIT (write-gatherer.ts). */
  readonly gatherer: WriteGatherer;
}

/**
 * One admitted call: the export and its rule have been checked for this client, the principal
 * mapped, and the primary file handle verified (nfs3-program.ts does this once for all).
 */
export interface Nfs3Call {
  readonly services: Nfs3Services;
  readonly fs: FileSystem;
  readonly ctx: OpContext;
  readonly served: ServedExport;
  /** The export's root directory: `..` stops here and nothing above it is reachable. */
  readonly exportRoot: NodeHandle;
  readonly readOnly: boolean;
  /** The node the primary handle names. */
  readonly node: NodeHandle;
  /** fsid in attributes: the export id. */
  readonly fsid: number;
  /** Verifies another handle of the same call (RENAME target dir, LINK dir); throws Nfs3Failure. */
  handleOf(raw: Uint8Array): NodeHandle;
  /** The wire handle of a node in this export. */
  fileHandle(node: NodeHandle): Uint8Array;
}

export type Outcome<Ok, Fail> = { readonly status: typeof Nfs3Status.OK; readonly ok: Ok } | { readonly status: Exclude<Nfs3StatusCode, 0>; readonly fail?: Fail };

/**
 * One row of the declarative NFSv3 table (the NFS-Ganesha shape): decode -> handle -> encode,
 * with the flags the dispatcher decides on once. `mutates` procedures get NFS3ERR_ROFS on a
 * read-only export before they run; non-`idempotent` ones go through the duplicate-request cache.
 */
export interface Nfs3Procedure<Args, Ok, Fail> {
  readonly number: number;
  readonly name: string;
  readonly mutates: boolean;
  readonly idempotent: boolean;
  decode(reader: XdrReader): Args;
  /** The primary file handle in the arguments (undefined only for NULL). */
  object(args: Args): Uint8Array | undefined;
  handle(call: Nfs3Call, args: Args): Promise<Outcome<Ok, Fail>>;
  encodeOk(writer: XdrWriter, ok: Ok, fsid: number): void;
  /** `fail` is absent when the call failed before the procedure ran (bad handle, ROFS, refused). */
  encodeFail(writer: XdrWriter, fail: Fail | undefined, fsid: number): void;
}

// The table holds procedures of different argument types; the dispatcher only passes each its own.
export type AnyNfs3Procedure = Nfs3Procedure<any, any, any>;

export function ok<Ok>(value: Ok): Outcome<Ok, never> {
  return { status: Nfs3Status.OK, ok: value };
}

/** The failure outcome for an expected error (with the detail the RFC wants); rethrows bugs. */
export function failure<Fail>(error: unknown, fail?: Fail): Outcome<never, Fail> {
  const status = statusOf(error);
  if (status === undefined || status === Nfs3Status.OK) throw error;
  return fail === undefined ? { status } : { status, fail };
}

export function refuse(status: Exclude<Nfs3StatusCode, 0>, message: string): never {
  throw new Nfs3Failure(status, message);
}

/** Attributes when they can be had, undefined when not (post-op attributes are optional). */
export async function attributesOrNothing(call: Nfs3Call, node: NodeHandle) {
  try {
    return await call.fs.getattr(call.ctx, node);
  } catch (error) {
    if (statusOf(error) !== undefined) return undefined;
    throw error;
  }
}
