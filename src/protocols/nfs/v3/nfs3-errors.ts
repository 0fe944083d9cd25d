import { isFsError, type FsErrorCode } from '../../../core/errors.js';
import { Nfs3Status, type Nfs3StatusCode } from './nfs3-types.js';

/**
 * The one converter from core errors to nfsstat3 (RFC 1813 §2.6). Complete by type: a new core
 * code breaks the build until NFS has decided what it means.
 */
export const NFS3_STATUS_OF: Record<FsErrorCode, Nfs3StatusCode> = {
  NotFound: Nfs3Status.NOENT,
  Exists: Nfs3Status.EXIST,
  NotEmpty: Nfs3Status.NOTEMPTY,
  NotADirectory: Nfs3Status.NOTDIR,
  IsADirectory: Nfs3Status.ISDIR,
  NotASymlink: Nfs3Status.INVAL,
  PermissionDenied: Nfs3Status.ACCES,
  ReadOnly: Nfs3Status.ROFS,
  QuotaExceeded: Nfs3Status.DQUOT,
  NoSpace: Nfs3Status.NOSPC,
  NameTooLong: Nfs3Status.NAMETOOLONG,
  InvalidName: Nfs3Status.INVAL,
  InvalidArgument: Nfs3Status.INVAL,
  FileTooLarge: Nfs3Status.FBIG,
  TooManyLinks: Nfs3Status.MLINK,
  Stale: Nfs3Status.STALE,
  // NFSv3 has no lock-conflict status; JUKEBOX tells the client to retry later.
  Locked: Nfs3Status.JUKEBOX,
  // Core's Conflict is the SETATTR guard mismatch (RFC 1813 §3.3.2).
  Conflict: Nfs3Status.NOT_SYNC,
  Unavailable: Nfs3Status.JUKEBOX,
  Unsupported: Nfs3Status.NOTSUPP,
  Cancelled: Nfs3Status.IO,
  Internal: Nfs3Status.SERVERFAULT,
};

/** An expected failure ending a procedure early with a status (handle checks, ROFS ...). */
export class Nfs3Failure extends Error {
  constructor(readonly status: Nfs3StatusCode, message: string) {
    super(message);
    this.name = 'Nfs3Failure';
  }
}

/** The status for an expected error; undefined for anything else (a bug: SERVERFAULT and a log). */
export function statusOf(error: unknown): Nfs3StatusCode | undefined {
  if (error instanceof Nfs3Failure) return error.status;
  if (isFsError(error)) return NFS3_STATUS_OF[error.code];
  return undefined;
}
