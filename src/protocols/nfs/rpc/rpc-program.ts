import type { XdrReader } from '../xdr/xdr-reader.js';
import type { XdrWriter } from '../xdr/xdr-writer.js';
import type { Credential } from './rpc-message.js';

/** Who sent a call, as seen on the socket. */
export interface RpcClient {
  readonly address: string;
  readonly port: number;
  /** The local port the call arrived on (portmap answers with it). */
  readonly localPort: number;
}

export interface RpcCall {
  readonly xid: number;
  readonly program: number;
  readonly version: number;
  readonly procedure: number;
  readonly credential: Credential;
  readonly client: RpcClient;
  /** Aborted when the connection closes or the server stops. */
  readonly signal: AbortSignal;
}

/**
 * One procedure as the RPC layer sees it: decode its arguments (throwing XdrError means
 * GARBAGE_ARGS), run, and write its results into the success reply. Programs build these from
 * their own declarative tables (mount/mount-program.ts, v3/nfs3-program.ts).
 */
export interface RpcProcedure {
  readonly name: string;
  /**
   * False for procedures whose retransmission must not be executed twice (CREATE, REMOVE ...):
   * their replies go through the duplicate-request cache.
   */
  readonly idempotent: boolean;
  /** Decodes `args` (all of it) and returns the function that runs the call and encodes results. */
  prepare(args: XdrReader): (call: RpcCall, results: XdrWriter) => Promise<void>;
}

export interface RpcProgram {
  readonly number: number;
  readonly name: string;
  /** Procedures by version, then by procedure number. */
  readonly versions: ReadonlyMap<number, ReadonlyMap<number, RpcProcedure>>;
}
