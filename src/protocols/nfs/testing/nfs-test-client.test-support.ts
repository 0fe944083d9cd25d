import { connect, type Socket } from 'node:net';
import { RecordDecoder } from '../rpc/record-marking.js';
import { XdrReader } from '../xdr/xdr-reader.js';
import { XdrWriter } from '../xdr/xdr-writer.js';

/**
 * A minimal ONC RPC client over TCP for tests: sends calls with AUTH_SYS (or AUTH_NONE), matches
 * replies by xid, and hands back the accepted body. Enough to drive every procedure that the
 * libnfs tools do not reach.
 */
export interface ClientCredential {
  readonly uid: number;
  readonly gid: number;
  readonly gids?: readonly number[];
}

export interface RpcReply {
  readonly replyStatus: number;
  /** accept_stat when accepted, reject_stat when denied. */
  readonly status: number;
  readonly body: XdrReader;
}

export class NfsTestClient {
  private nextXid = 1;
  private readonly waiting = new Map<number, (reply: RpcReply) => void>();
  private readonly decoder = new RecordDecoder({ recordBytesMax: 64 * 1024 * 1024, fragmentsMax: 1_000_000 });
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const record of this.decoder.push(chunk)) {
        const reader = new XdrReader(record);
        const xid = reader.uint32();
        reader.uint32();
        const replyStatus = reader.uint32();
        let status: number;
        if (replyStatus === 0) {
          reader.uint32();
          reader.opaque(400);
          status = reader.uint32();
        } else {
          status = reader.uint32();
        }
        this.waiting.get(xid)?.({ replyStatus, status, body: reader });
        this.waiting.delete(xid);
      }
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  static async open(port: number, options: { localPort?: number; host?: string } = {}): Promise<NfsTestClient> {
    const socket = connect({ port, host: options.host ?? '127.0.0.1', ...(options.localPort !== undefined ? { localPort: options.localPort } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new NfsTestClient(socket);
  }

  /** Sends raw bytes (fuzzing). */
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  call(input: { program: number; version: number; procedure: number; args?: (writer: XdrWriter) => void; credential?: ClientCredential | 'none' | { flavor: number }; xid?: number }): Promise<RpcReply> {
    const xid = input.xid ?? this.nextXid++;
    const writer = new XdrWriter(4);
    writer.uint32(xid).uint32(0).uint32(2).uint32(input.program).uint32(input.version).uint32(input.procedure);
    const credential = input.credential ?? { uid: 0, gid: 0 };
    if (credential === 'none') writer.uint32(0).uint32(0);
    else if ('flavor' in credential) writer.uint32(credential.flavor).uint32(0);
    else {
      const body = new XdrWriter().uint32(0).string('test-client').uint32(credential.uid).uint32(credential.gid);
      body.uint32(credential.gids?.length ?? 0);
      for (const gid of credential.gids ?? []) body.uint32(gid);
      writer.uint32(1).opaque(body.bytes());
    }
    writer.uint32(0).uint32(0);
    input.args?.(writer);
    writer.patchUint32(0, (0x8000_0000 | (writer.length - 4)) >>> 0);
    const reply = new Promise<RpcReply>((resolve) => this.waiting.set(xid, resolve));
    this.socket.write(Uint8Array.from(writer.bytes()));
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}
