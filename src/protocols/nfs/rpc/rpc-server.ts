import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { XdrError, XdrReader } from '../xdr/xdr-reader.js';
import type { XdrWriter } from '../xdr/xdr-writer.js';
import { DuplicateRequestCache, type DuplicateRequestLimits } from './duplicate-request-cache.js';
import { frameRecord, RecordBuffers, RecordDecoder, RecordError } from './record-marking.js';
import { AcceptStatus, acceptedErrorReply, AuthStatus, authErrorReply, beginSuccessReply, decodeCallHeader, RPC_VERSION, rpcMismatchReply } from './rpc-message.js';
import type { RpcCall, RpcClient, RpcProgram } from './rpc-program.js';

export interface RpcLimits extends DuplicateRequestLimits {
  /** Largest record accepted; a WRITE of wtmax bytes plus headers must fit. */
  readonly recordBytesMax: number;
  readonly fragmentsMax: number;
  /** Calls running at once per connection; reading pauses at this many (back-pressure). */
  readonly inFlightMax: number;
  /** Bytes of replies queued on a socket before reading pauses. */
  readonly queuedReplyBytesMax: number;
  /** A connection with no traffic for this long is closed. */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_RPC_LIMITS: RpcLimits = {
  recordBytesMax: 1024 * 1024 + 64 * 1024,
  fragmentsMax: 1024,
  inFlightMax: 64,
  queuedReplyBytesMax: 8 * 1024 * 1024,
  idleTimeoutMs: 10 * 60_000,
  entriesMax: 4_096,
  bytesMax: 4 * 1024 * 1024,
};

const MARK_BYTES = 4;
/** Reused record buffers kept while none is in use: 16 of the largest record, about 17 MiB. */
const RECORD_BUFFERS_IDLE_MAX = 16;
/**
 * The abort reason of a closed connection's calls. Given, so that abort() does not build a
 * DOMException (with its stack) for every connection: libnfs tools open two per file. Calls and
 * core look only at `signal.aborted`.
 */
const CONNECTION_CLOSED = 'the RPC connection closed';

/**
 * ONC RPC over TCP (RFC 5531): one instance serves every connection handed to `accept`.
 * Contract: a record that cannot be framed or whose header cannot be read closes its connection
 * (a byte stream cannot be resynchronised); a readable call always gets an answer (results,
 * PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, RPC_MISMATCH or an
 * AUTH_ERROR); no error of one connection reaches another.
 */
export class RpcServer {
  private readonly programs = new Map<number, RpcProgram>();
  /** Open connections, each with the controller its calls' signal comes from. */
  private readonly sockets = new Map<Socket, AbortController>();
  private readonly cache: DuplicateRequestCache;
  /** Buffers for records that span socket reads (large WRITEs), shared by every connection. */
  private readonly recordBuffers: RecordBuffers;
  private stopped = false;

  constructor(
    programs: readonly RpcProgram[],
    private readonly limits: RpcLimits,
    private readonly logger: Logger,
  ) {
    for (const program of programs) this.programs.set(program.number, program);
    this.cache = new DuplicateRequestCache(limits);
    this.recordBuffers = new RecordBuffers(limits.recordBytesMax, RECORD_BUFFERS_IDLE_MAX);
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const client: RpcClient = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0, localPort: socket.localPort ?? 0 };
    const decoder = new RecordDecoder(this.limits, this.recordBuffers);
    // Calls see their connection close or the server stop: `close()` aborts every connection's
    // controller itself, so no AbortSignal.any is needed (it cost ~65 µs per connection, and a
    // libnfs tool opens two connections per file).
    const closed = new AbortController();
    const callSignal = closed.signal;
    let inFlight = 0;
    this.sockets.set(socket, closed);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleTimeoutMs, () => socket.destroy());
    // Records decoded but not started: one read can carry many small calls, and at most
    // inFlightMax of them run at once; reading stays paused while any wait.
    const waiting: Buffer[] = [];
    const updateFlow = (): void => {
      const saturated = inFlight >= this.limits.inFlightMax || waiting.length > 0 || socket.writableLength > this.limits.queuedReplyBytesMax;
      if (saturated && !socket.isPaused()) socket.pause();
      else if (!saturated && socket.isPaused() && !socket.destroyed) socket.resume();
    };
    // A reply in several parts (a READ's data is not copied into it) goes out in one writev.
    const send = (reply: Reply): void => {
      if (socket.destroyed) return;
      const last = reply.length - 1;
      if (last > 0) socket.cork();
      for (let index = 0; index < last; index += 1) socket.write(reply[index] as Uint8Array);
      socket.write(reply[last] as Uint8Array, () => updateFlow());
      if (last > 0) socket.uncork();
    };
    socket.on('data', (chunk: Buffer) => {
      let records: Buffer[];
      try {
        records = decoder.push(chunk);
      } catch (error) {
        this.logger.warn({ client, err: error }, 'bad RPC record; closing the connection');
        socket.destroy();
        return;
      }
      waiting.push(...records);
      startWaiting();
    });
    const startWaiting = (): void => {
      while (waiting.length > 0 && inFlight < this.limits.inFlightMax) {
        if (socket.destroyed) {
          waiting.length = 0;
          return;
        }
        const record = waiting.shift() as Buffer;
        inFlight += 1;
        this.handleRecord(record, client, callSignal)
          .then(
            (reply) => {
              if (reply === 'close') socket.destroy();
              else if (reply !== undefined) send(reply);
            },
            (error: unknown) => {
              this.logger.error({ client, err: error }, 'RPC call failed unexpectedly; closing the connection');
              socket.destroy();
            },
          )
          .finally(() => {
            // The call is answered and nothing keeps a view of its record (handleRecord's contract).
            decoder.release(record);
            inFlight -= 1;
            startWaiting();
            updateFlow();
          });
      }
      updateFlow();
    };
    socket.on('error', (error) => this.logger.debug({ client, err: error }, 'RPC connection error'));
    socket.on('close', () => {
      closed.abort(CONNECTION_CLOSED);
      this.sockets.delete(socket);
    });
  }

  /** Stops accepting calls and ends every connection (in-flight calls see their signal abort). */
  close(): void {
    this.stopped = true;
    for (const [socket, closed] of this.sockets) {
      closed.abort(CONNECTION_CLOSED);
      socket.destroy();
    }
  }

  /**
   * The framed reply, undefined to send nothing (a duplicate still running), 'close' for a bad
   * record. Once it settles, nothing refers to `record` any more: its buffer is reused.
   */
  private async handleRecord(record: Buffer, client: RpcClient, signal: AbortSignal): Promise<Reply | 'close' | undefined> {
    const reader = new XdrReader(record);
    let header;
    try {
      header = decodeCallHeader(reader);
    } catch (error) {
      if (error instanceof XdrError) {
        this.logger.warn({ client, err: error }, 'unreadable RPC call header; closing the connection');
        return 'close';
      }
      throw error;
    }
    const { xid } = header;
    if (header.rpcVersion !== RPC_VERSION) return framed(rpcMismatchReply(xid, MARK_BYTES));
    if (header.credential.flavor === 'malformed') return framed(authErrorReply(xid, AuthStatus.AUTH_BADCRED, MARK_BYTES));
    if (header.credential.flavor === 'unsupported') return framed(authErrorReply(xid, AuthStatus.AUTH_TOOWEAK, MARK_BYTES));
    const program = this.programs.get(header.program);
    if (program === undefined) return framed(acceptedErrorReply(xid, AcceptStatus.PROG_UNAVAIL, MARK_BYTES));
    const procedures = program.versions.get(header.version);
    if (procedures === undefined) {
      const versions = [...program.versions.keys()];
      return framed(acceptedErrorReply(xid, AcceptStatus.PROG_MISMATCH, MARK_BYTES, { low: Math.min(...versions), high: Math.max(...versions) }));
    }
    const procedure = procedures.get(header.procedure);
    if (procedure === undefined) return framed(acceptedErrorReply(xid, AcceptStatus.PROC_UNAVAIL, MARK_BYTES));
    const args = reader.rest();
    let run;
    try {
      run = procedure.prepare(reader);
    } catch (error) {
      if (error instanceof XdrError) return framed(acceptedErrorReply(xid, AcceptStatus.GARBAGE_ARGS, MARK_BYTES));
      throw error;
    }
    const call: RpcCall = { xid, program: header.program, version: header.version, procedure: header.procedure, credential: header.credential, client, signal };
    if (procedure.idempotent) return this.run(run, call, program.name, procedure.name);
    const key = DuplicateRequestCache.key({ address: client.address, xid, program: header.program, version: header.version, procedure: header.procedure, args });
    const seen = this.cache.begin(key);
    if (seen === 'running') return undefined;
    if (seen !== 'new') return [seen];
    try {
      const reply = await this.run(run, call, program.name, procedure.name);
      const whole = reply.length === 1 ? (reply[0] as Uint8Array) : Buffer.concat(reply);
      this.cache.finish(key, whole);
      return [whole];
    } catch (error) {
      this.cache.abandon(key);
      throw error;
    }
  }

  private async run(run: (call: RpcCall, results: XdrWriter) => Promise<void>, call: RpcCall, programName: string, procedureName: string): Promise<Reply> {
    const writer = beginSuccessReply(call.xid, MARK_BYTES);
    try {
      await run(call, writer);
      return framed(writer);
    } catch (error) {
      // Procedures answer every expected failure in their own status codes; reaching here is a bug.
      this.logger.error({ err: error, program: programName, procedure: procedureName, client: call.client }, 'RPC procedure failed');
      return framed(acceptedErrorReply(call.xid, AcceptStatus.SYSTEM_ERR, MARK_BYTES));
    }
  }
}

/** A framed reply: the record's bytes in order, sent as one record of one fragment. */
type Reply = readonly Uint8Array[];

/** Writes the record mark into the reserved front of the reply and returns the whole record. */
function framed(writer: XdrWriter): Reply {
  writer.patchUint32(0, (0x8000_0000 | (writer.length - MARK_BYTES)) >>> 0);
  return writer.parts();
}

export { frameRecord, RecordError };
