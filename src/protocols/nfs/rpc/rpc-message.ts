import { XdrError, XdrReader } from '../xdr/xdr-reader.js';
import { XdrWriter } from '../xdr/xdr-writer.js';

/** RFC 5531 §9: the message, reply and status enums this server speaks. */
export const RPC_VERSION = 2;
export const MessageType = { CALL: 0, REPLY: 1 } as const;
export const ReplyStatus = { MSG_ACCEPTED: 0, MSG_DENIED: 1 } as const;
export const AcceptStatus = { SUCCESS: 0, PROG_UNAVAIL: 1, PROG_MISMATCH: 2, PROC_UNAVAIL: 3, GARBAGE_ARGS: 4, SYSTEM_ERR: 5 } as const;
export const RejectStatus = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const;
export const AuthStatus = { AUTH_OK: 0, AUTH_BADCRED: 1, AUTH_REJECTEDCRED: 2, AUTH_BADVERF: 3, AUTH_REJECTEDVERF: 4, AUTH_TOOWEAK: 5 } as const;
export const AuthFlavor = { AUTH_NONE: 0, AUTH_SYS: 1 } as const;

/** RFC 5531 §8.2: opaque_auth bodies are at most 400 bytes. */
export const AUTH_BODY_BYTES_MAX = 400;
/** RFC 5531 Appendix A: machinename<255>, gids<16>. */
export const MACHINE_NAME_BYTES_MAX = 255;
export const AUTH_SYS_GIDS_MAX = 16;

export type Credential =
  | { readonly flavor: 'none' }
  | { readonly flavor: 'sys'; readonly stamp: number; readonly machineName: string; readonly uid: number; readonly gid: number; readonly gids: readonly number[] };

export interface CallHeader {
  readonly xid: number;
  readonly rpcVersion: number;
  readonly program: number;
  readonly version: number;
  readonly procedure: number;
  readonly credential: Credential | { readonly flavor: 'unsupported'; readonly number: number } | { readonly flavor: 'malformed' };
}

/**
 * Reads the xid and message type; anything that is not a CALL with a readable xid is not
 * answerable and the connection is closed by the caller (throws XdrError).
 */
export function decodeCallHeader(reader: XdrReader): CallHeader {
  const xid = reader.uint32('xid');
  const type = reader.uint32('msg_type');
  if (type !== MessageType.CALL) throw new XdrError(`msg_type ${type} is not CALL`);
  const rpcVersion = reader.uint32('rpcvers');
  const program = reader.uint32('prog');
  const version = reader.uint32('vers');
  const procedure = reader.uint32('proc');
  const flavor = reader.uint32('cred flavor');
  const body = reader.opaque(AUTH_BODY_BYTES_MAX, 'cred body');
  reader.uint32('verf flavor');
  reader.opaque(AUTH_BODY_BYTES_MAX, 'verf body');
  return { xid, rpcVersion, program, version, procedure, credential: decodeCredential(flavor, body) };
}

function decodeCredential(flavor: number, body: Uint8Array): CallHeader['credential'] {
  if (flavor === AuthFlavor.AUTH_NONE) return { flavor: 'none' };
  if (flavor !== AuthFlavor.AUTH_SYS) return { flavor: 'unsupported', number: flavor };
  try {
    const reader = new XdrReader(body);
    const stamp = reader.uint32('stamp');
    const machineName = reader.string(MACHINE_NAME_BYTES_MAX, 'machinename');
    const uid = reader.uint32('uid');
    const gid = reader.uint32('gid');
    const gids = reader.array(AUTH_SYS_GIDS_MAX, (item) => item.uint32('gid'), 'gids');
    reader.end('authsys_parms');
    return { flavor: 'sys', stamp, machineName, uid, gid, gids };
  } catch (error) {
    if (error instanceof XdrError) return { flavor: 'malformed' };
    throw error;
  }
}

function acceptedHeader(writer: XdrWriter, xid: number, status: number): XdrWriter {
  return writer.uint32(xid).uint32(MessageType.REPLY).uint32(ReplyStatus.MSG_ACCEPTED).uint32(AuthFlavor.AUTH_NONE).uint32(0).uint32(status);
}

/** Starts a SUCCESS reply; the procedure's results follow. `reserveBytes` is for the record mark. */
export function beginSuccessReply(xid: number, reserveBytes: number): XdrWriter {
  return acceptedHeader(new XdrWriter(reserveBytes), xid, AcceptStatus.SUCCESS);
}

export function acceptedErrorReply(xid: number, status: Exclude<(typeof AcceptStatus)[keyof typeof AcceptStatus], 0>, reserveBytes: number, mismatch?: { low: number; high: number }): XdrWriter {
  const writer = acceptedHeader(new XdrWriter(reserveBytes), xid, status);
  if (status === AcceptStatus.PROG_MISMATCH) writer.uint32(mismatch?.low ?? 0).uint32(mismatch?.high ?? 0);
  return writer;
}

export function rpcMismatchReply(xid: number, reserveBytes: number): XdrWriter {
  return new XdrWriter(reserveBytes).uint32(xid).uint32(MessageType.REPLY).uint32(ReplyStatus.MSG_DENIED).uint32(RejectStatus.RPC_MISMATCH).uint32(RPC_VERSION).uint32(RPC_VERSION);
}

export function authErrorReply(xid: number, status: (typeof AuthStatus)[keyof typeof AuthStatus], reserveBytes: number): XdrWriter {
  return new XdrWriter(reserveBytes).uint32(xid).uint32(MessageType.REPLY).uint32(ReplyStatus.MSG_DENIED).uint32(RejectStatus.AUTH_ERROR).uint32(status);
}
