import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { Logger } from 'pino';
import type { AuditSink, SinkBacklog } from '../auditor.js';
import type { AuditRecordEvent } from '../events.js';
import { datagram, frameSeq, octetCounted, syslogMessage, type SyslogFormat } from './format.js';
import { messageOfOctetCounted, nextTxnr, RELP_OPEN_OFFERS, RELP_WINDOW_FRAMES, relpFrame, RelpReader } from './relp.js';
import type { CursorStore, ReplaySource } from './sink-cursors.js';
import { Spool } from './spool.js';

export type SyslogTransport = 'udp' | 'tcp' | 'tls' | 'relp';

export interface SyslogTarget {
  readonly serverAddress: string;
  readonly serverPort: number;
  readonly transport: SyslogTransport;
  readonly format: SyslogFormat;
  readonly caCertificate?: string;
  readonly clientCertificate?: string;
  readonly clientKey?: string;
}

export interface SyslogSinkOptions {
  readonly id: string;
  readonly target: SyslogTarget;
  readonly hostname: string;
  /** `<data dir>/audit-spool/<id>`; required for tcp and tls. */
  readonly spoolDirectory: string;
  readonly logger: Logger;
  /** Frames held in memory; beyond it everything goes to the spool until the spool drains. */
  readonly queueMessagesMax?: number;
  /** Bytes already written that are sent again after a broken connection (see class comment). */
  readonly resendWindowBytes?: number;
  readonly reconnectDelayMinMs?: number;
  readonly reconnectDelayMaxMs?: number;
  readonly connectTimeoutMs?: number;
  /**
   * TCP and TLS: for this long after connecting, at most `resendWindowBytes` are written. A
   * receiver that refuses the connection right after accepting it (a TLS 1.3 server rejecting the
   * client certificate answers only after the client's handshake is done) then breaks it while
   * every frame written on it is still in the resend window, so none is lost.
   */
  readonly probationMs?: number;
  /**
   * Replay from the local log (tcp and tls): the sink persists a cursor and, on start, sends every
   * record after it before new ones. Without it, a crash loses what was in the memory queue.
   */
  readonly replay?: { readonly source: ReplaySource; readonly cursors: CursorStore; readonly persistIntervalMs?: number };
}

const REPLAY_PAGE_RECORDS = 1_000;

/**
 * One syslog destination. UDP (RFC 5426): one message per datagram, cut to 64 KiB at a character
 * boundary; fire and forget, no spool (a datagram sent is all UDP can know about).
 * TCP (RFC 6587 octet counting) and TLS (RFC 5425, TLS 1.2+, server checked against the
 * configured CA or the system CAs, optional client certificate): frames wait in a bounded memory
 * queue, spill to the disk spool when it is full (while the SIEM is down or slow), and are sent in
 * order after reconnecting with exponential backoff; a spool segment is deleted once all its frames
 * were written to the socket.
 *
 * Delivery is at least once, not exactly once: syslog has no application acknowledgement, so a
 * frame written to the socket may still die in kernel buffers or in the receiver's queue when the
 * connection breaks. The last `resendWindowBytes` of written frames are therefore sent again after
 * every reconnect, and each message carries its sequence number (`seq` in STRUCTURED-DATA, and in
 * JSON) so the SIEM can drop duplicates. Frames older than the window are not resent.
 *
 * RELP (relp.ts) has that acknowledgement: a frame leaves the sink's hands when the receiver
 * answered it, and after a broken connection exactly the unanswered frames are sent again (no
 * resend window), so the receiver sees every event once and in order.
 */
export class SyslogSink implements AuditSink {
  readonly id: string;
  private readonly options: SyslogSinkOptions;
  private readonly queueMessagesMax: number;
  private readonly resendWindowBytes: number;
  private memory: Buffer[] = [];
  private resend: Buffer[] = [];
  private window: Buffer[] = [];
  private windowBytes = 0;
  /** RELP: frames sent and not yet answered, oldest first, with their transaction numbers. */
  private unacked: Array<{ txnr: number; frame: Buffer }> = [];
  private txnr = 0;
  /** RELP: wakes a writer waiting for the window to open (or for the connection to break). */
  private acked: (() => void) | undefined;
  private spilling = false;
  private spool: Spool | undefined;
  private socket: Socket | undefined;
  private udp: UdpSocket | undefined;
  private delivered = 0;
  /** TCP and TLS: when the current connection was made, and the bytes written on it since. */
  private connectedAtMs = 0;
  private connectionBytes = 0;
  private failedDatagrams = 0;
  private closed = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** Replay state: records in (afterSeq, throughSeq] come from the local log, later ones from deliver. */
  private replayAfterSeq: number | undefined;
  private replayThroughSeq: number | undefined;
  /** The highest sequence number written to a socket. */
  private handedSeq = 0;
  private savedCursor: number | undefined;
  private persistTimer: NodeJS.Timeout | undefined;
  private persisting: Promise<void> = Promise.resolve();
  private spills: Promise<void> = Promise.resolve();
  private disconnectedSinceMs: number | undefined = Date.now();

  private constructor(options: SyslogSinkOptions) {
    this.id = options.id;
    this.options = options;
    this.queueMessagesMax = options.queueMessagesMax ?? 10_000;
    this.resendWindowBytes = options.resendWindowBytes ?? 2 * 1024 * 1024;
  }

  static async open(options: SyslogSinkOptions): Promise<SyslogSink> {
    const sink = new SyslogSink(options);
    if (options.target.transport === 'udp') {
      sink.udp = createSocket(isIP(options.target.serverAddress) === 6 ? 'udp6' : 'udp4');
      sink.udp.on('error', (error) => options.logger.warn({ err: error, sink: options.id }, 'syslog UDP socket error'));
      return sink;
    }
    sink.spool = await Spool.open(options.spoolDirectory);
    if (options.replay !== undefined) {
      const cursor = await options.replay.cursors.load(options.id);
      if (cursor !== undefined) {
        // Every frame still in the spool is after the cursor, so the replay sends it again from
        // the local log (the record of truth); the spool of the previous run is dropped.
        sink.replayAfterSeq = cursor;
        sink.handedSeq = cursor;
        sink.savedCursor = cursor;
        await sink.spool.clear();
      }
    }
    sink.spilling = !sink.spool.isEmpty();
    sink.running = sink.run();
    return sink;
  }

  /**
   * With replay: everything numbered so far comes from the local log (after the stored cursor;
   * a sink without a cursor starts at the present), everything later through `deliver`.
   */
  attached(): void {
    if (this.options.replay === undefined || this.udp !== undefined || this.replayThroughSeq !== undefined) return;
    const replay = this.options.replay;
    this.replayThroughSeq = replay.source.lastSeq();
    this.replayAfterSeq ??= this.replayThroughSeq;
    this.handedSeq = Math.max(this.handedSeq, this.replayAfterSeq);
    this.persistTimer = setInterval(() => void this.persistCursor(), replay.persistIntervalMs ?? 1_000);
    this.persistTimer.unref();
    this.wake?.();
  }

  deliver(record: AuditRecordEvent): void {
    if (this.closed) return;
    if (this.replayThroughSeq !== undefined && record.seq <= this.replayThroughSeq) return;
    const message = syslogMessage(record, { hostname: this.options.hostname, format: this.options.target.format });
    if (this.udp !== undefined) {
      this.udp.send(datagram(message), this.options.target.serverPort, this.options.target.serverAddress, (error) => {
        if (error) this.failedDatagrams++;
        else this.delivered++;
      });
      return;
    }
    const frame = octetCounted(message);
    if (this.spilling) void this.spill([frame]);
    else {
      this.memory.push(frame);
      if (this.memory.length > this.queueMessagesMax) {
        // Everything in memory goes to disk, in order; later frames follow it there until the
        // spool is empty again, so the spool is always older than memory.
        this.spilling = true;
        const frames = this.memory;
        this.memory = [];
        void this.spill(frames);
      }
    }
    this.wake?.();
  }

  backlog(): SinkBacklog & { failedDatagrams: number } {
    const connected = this.udp !== undefined || this.socket !== undefined;
    return {
      queuedMessages: this.memory.length + this.resend.length,
      spooledMessages: this.spool?.size() ?? 0,
      connected,
      deliveredMessages: this.delivered,
      failedDatagrams: this.failedDatagrams,
      ...(connected || this.disconnectedSinceMs === undefined ? {} : { disconnectedSinceMs: this.disconnectedSinceMs }),
      ...(this.replayPending() ? { replayRecords: (this.replayThroughSeq as number) - (this.replayAfterSeq as number) } : {}),
    };
  }

  /**
   * The cursor a restart may resume from: everything up to it was written to a socket and has
   * left the resend window (frames still in the window might have died in kernel buffers).
   */
  cursor(): number {
    let oldest: number | undefined;
    for (const frame of [this.resend[0], this.window[0], this.unacked[0]?.frame]) {
      const seq = frame === undefined ? undefined : frameSeq(frame);
      if (seq !== undefined && (oldest === undefined || seq < oldest)) oldest = seq;
    }
    return oldest === undefined ? this.handedSeq : Math.min(this.handedSeq, oldest - 1);
  }

  /** Stores the cursor if it moved (on a timer, at most once per interval, and at close). */
  persistCursor(): Promise<void> {
    const replay = this.options.replay;
    if (replay === undefined || this.replayThroughSeq === undefined) return Promise.resolve();
    const run = this.persisting.then(async () => {
      const cursor = this.cursor();
      if (cursor === this.savedCursor) return;
      try {
        await replay.cursors.save(this.id, cursor);
        this.savedCursor = cursor;
      } catch (error) {
        this.options.logger.warn({ err: error, sink: this.id }, 'saving the audit sink cursor failed');
      }
    });
    this.persisting = run;
    return run;
  }

  /**
   * Simulates a crash (tests): stops at once, persisting nothing more and spooling nothing; what
   * was in memory is gone, as it would be when the process dies.
   */
  async kill(): Promise<void> {
    this.closed = true;
    if (this.persistTimer !== undefined) clearInterval(this.persistTimer);
    this.udp?.close();
    this.socket?.destroy();
    this.wake?.();
    await this.running;
    await this.persisting;
    // A dead process writes nothing more; here, pending spool appends finish before the "restart".
    await this.spills;
    this.memory = [];
    this.resend = [];
    this.window = [];
  }

  private replayPending(): boolean {
    return this.replayThroughSeq !== undefined && this.replayAfterSeq !== undefined && this.replayAfterSeq < this.replayThroughSeq;
  }

  /** Stops sending; frames still in memory are spooled so the next start sends them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.persistTimer !== undefined) clearInterval(this.persistTimer);
    this.udp?.close();
    this.socket?.destroy();
    this.wake?.();
    await this.running;
    if (this.options.replay !== undefined && this.replayThroughSeq !== undefined) {
      // The next start replays from the cursor: memory need not be spooled.
      await this.persistCursor();
      return;
    }
    const left = [...this.resend, ...this.memory];
    this.resend = [];
    this.memory = [];
    if (left.length > 0) await this.spool?.append(left);
  }

  /** Resolves when memory, resend and spool are all written to a socket (tests, shutdown). */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.replayPending() && this.memory.length === 0 && this.resend.length === 0 && this.unacked.length === 0 && (this.spool?.isEmpty() ?? true) && this.socket !== undefined && this.socket.writableLength === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  private spill(frames: Buffer[]): Promise<void> {
    // spool.append counts the frames at once (so isEmpty is right before they reach the disk).
    const run = this.spillNow(frames);
    this.spills = Promise.all([this.spills, run]).then(() => undefined);
    return run;
  }

  private async spillNow(frames: Buffer[]): Promise<void> {
    try {
      await this.spool?.append(frames);
    } catch (error) {
      // The local log still holds these records; say loudly that the SIEM copy has a gap.
      this.options.logger.error({ err: error, sink: this.id, frames: frames.length }, 'audit spool write failed: the SIEM will miss these records');
    }
    this.wake?.();
  }

  private async run(): Promise<void> {
    let delayMs = this.options.reconnectDelayMinMs ?? 100;
    while (!this.closed) {
      try {
        this.socket = await this.connect();
        this.connectedAtMs = Date.now();
        this.connectionBytes = 0;
        this.disconnectedSinceMs = undefined;
        delayMs = this.options.reconnectDelayMinMs ?? 100;
        await this.sendWhileConnected(this.socket);
      } catch (error) {
        if (!this.closed) this.options.logger.warn({ err: error, sink: this.id, retryInMs: delayMs }, 'syslog connection failed');
      }
      this.socket?.destroy();
      this.socket = undefined;
      this.disconnectedSinceMs ??= Date.now();
      // Frames in the window (RELP: not answered) may not have reached the SIEM: send them again first.
      this.resend = [...this.unacked.map((sent) => sent.frame), ...this.window, ...this.resend];
      this.unacked = [];
      this.window = [];
      this.windowBytes = 0;
      if (this.closed) return;
      await this.sleep(delayMs);
      delayMs = Math.min(delayMs * 2, this.options.reconnectDelayMaxMs ?? 30_000);
    }
  }

  private connect(): Promise<Socket> {
    const target = this.options.target;
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      const common = { host: target.serverAddress, port: target.serverPort, timeout: this.options.connectTimeoutMs ?? 10_000 };
      const socket =
        target.transport === 'tls'
          ? connectTls({
              ...common,
              minVersion: 'TLSv1.2',
              ...(isIP(target.serverAddress) === 0 ? { servername: target.serverAddress } : {}),
              ...(target.caCertificate === undefined ? {} : { ca: target.caCertificate }),
              ...(target.clientCertificate === undefined || target.clientKey === undefined ? {} : { cert: target.clientCertificate, key: target.clientKey }),
            }, () => done())
          : connectTcp(common, () => done());
      const done = (): void => {
        socket.off('error', onError);
        socket.setTimeout(0);
        resolve(socket);
      };
      socket.once('error', onError);
      socket.once('timeout', () => socket.destroy(new Error('connect timed out')));
    });
  }

  /**
   * Sends resend, then the replay from the local log, then spool segments, then memory, until the
   * socket breaks or the sink closes. A replaying sink waits for `attached` before sending.
   */
  private async sendWhileConnected(socket: Socket): Promise<void> {
    let broken: Error | undefined;
    const onBroken = (error?: Error): void => {
      broken ??= error ?? new Error('connection closed by the receiver');
      this.wake?.();
      this.acked?.();
    };
    socket.on('error', onBroken);
    socket.on('close', () => onBroken());
    if (this.options.target.transport === 'relp') {
      await this.openRelp(socket, (error) => onBroken(error));
      if (broken !== undefined) throw broken;
    } else {
      // The receiver never sends anything; reading keeps 'close' and 'error' timely.
      socket.resume();
    }
    while (!this.closed && broken === undefined) {
      // A destroyed socket may not have said so yet ('close' is emitted later): stop here rather
      // than spin between resend and write without ever yielding to the event loop.
      if (socket.destroyed) {
        broken = new Error('connection destroyed');
        break;
      }
      if (this.resend.length > 0) {
        const frames = this.resend;
        this.resend = [];
        await this.write(socket, frames);
      } else if (this.options.replay !== undefined && this.replayThroughSeq === undefined) {
        await this.sleep(1_000);
      } else if (this.replayPending()) {
        await this.replayPage(socket);
      } else if (this.spool !== undefined && !this.spool.isEmpty()) {
        const oldest = await this.spool.oldest();
        if (oldest === undefined) continue;
        await this.write(socket, oldest.frames);
        if (broken !== undefined) break;
        await this.spool.remove(oldest.segment, oldest.frames.length);
      } else if (this.spilling) {
        this.spilling = false;
      } else if (this.memory.length > 0) {
        const frames = this.memory;
        this.memory = [];
        await this.write(socket, frames);
      } else {
        await this.sleep(1_000);
      }
    }
    if (broken !== undefined && !this.closed) throw broken;
  }

  /** Sends the next page of records after the replay cursor, up to the boundary taken at `attached`. */
  private async replayPage(socket: Socket): Promise<void> {
    const source = (this.options.replay as { source: ReplaySource }).source;
    const through = this.replayThroughSeq as number;
    const page = await source.query({ afterSeq: this.replayAfterSeq as number, limit: REPLAY_PAGE_RECORDS });
    const records = page.events.filter((record) => record.seq <= through);
    const frames = records.map((record) => octetCounted(syslogMessage(record, { hostname: this.options.hostname, format: this.options.target.format })));
    const last = records[records.length - 1]?.seq;
    // Records trimmed by retention, or checkpoints, leave gaps: the scan position moves past them.
    this.replayAfterSeq = records.length < page.events.length || page.next === undefined ? through : Math.min(Math.max(page.next, last ?? 0), through);
    await this.write(socket, frames);
  }

  /**
   * RELP session start: offers `syslog`, waits for `200`; then every answer acknowledges the
   * oldest unanswered frames up to its transaction number (answers come in order). Anything else
   * (an error status, `serverclose`, garbage) breaks the connection; unanswered frames are resent.
   */
  private async openRelp(socket: Socket, onBroken: (error: Error) => void): Promise<void> {
    const reader = new RelpReader();
    this.txnr = 1;
    let opened: (() => void) | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      opened = resolve;
      const timer = setTimeout(() => reject(new Error('RELP open not answered')), this.options.connectTimeoutMs ?? 10_000);
      timer.unref();
      socket.once('close', () => reject(new Error('connection closed during RELP open')));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const response of reader.push(chunk)) {
          if (response.command !== 'rsp' || !response.data.startsWith('200')) throw new Error(`RELP: ${response.command} ${response.data.slice(0, 200)}`);
          if (opened !== undefined && response.txnr === 1) {
            opened();
            opened = undefined;
            continue;
          }
          const index = this.unacked.findIndex((sent) => sent.txnr === response.txnr);
          if (index >= 0) this.unacked.splice(0, index + 1);
        }
        this.acked?.();
      } catch (error) {
        onBroken(error as Error);
        socket.destroy();
        this.acked?.();
      }
    });
    socket.write(relpFrame(this.txnr, 'open', RELP_OPEN_OFFERS));
    await ready;
  }

  /** Writes frames, waiting for 'drain' when the socket buffers fill; remembers them for resend. */
  private async write(socket: Socket, frames: readonly Buffer[]): Promise<void> {
    const relp = this.options.target.transport === 'relp';
    for (const frame of frames) {
      while (relp && this.unacked.length >= RELP_WINDOW_FRAMES && !socket.destroyed) {
        await new Promise<void>((resolve) => {
          this.acked = () => {
            this.acked = undefined;
            resolve();
          };
        });
      }
      if (!relp) await this.waitOutProbation(socket, frame.length);
      if (socket.destroyed) {
        this.resend.push(frame);
        continue;
      }
      let flushed: boolean;
      if (relp) {
        this.txnr = nextTxnr(this.txnr);
        this.unacked.push({ txnr: this.txnr, frame });
        flushed = socket.write(relpFrame(this.txnr, 'syslog', messageOfOctetCounted(frame)));
      } else {
        flushed = socket.write(frame);
        this.remember(frame);
      }
      this.delivered++;
      const seq = frameSeq(frame);
      if (seq !== undefined && seq > this.handedSeq) this.handedSeq = seq;
      if (!flushed) await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }

  /** See `probationMs`: holds a frame that would push a young connection past the resend window. */
  private async waitOutProbation(socket: Socket, frameBytes: number): Promise<void> {
    const probationMs = this.options.probationMs ?? 1_000;
    for (;;) {
      const leftMs = this.connectedAtMs + probationMs - Date.now();
      if (leftMs <= 0 || socket.destroyed || this.connectionBytes + frameBytes <= this.resendWindowBytes) break;
      await new Promise((resolve) => setTimeout(resolve, leftMs));
    }
    this.connectionBytes += frameBytes;
  }

  private remember(frame: Buffer): void {
    this.window.push(frame);
    this.windowBytes += frame.length;
    while (this.windowBytes > this.resendWindowBytes && this.window.length > 0) this.windowBytes -= (this.window.shift() as Buffer).length;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
