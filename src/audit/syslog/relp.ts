/**
 * RELP, the Reliable Event Logging Protocol (rsyslog's imrelp; librelp's doc/relp.html): syslog
 * over TCP with an application acknowledgement per message, which plain syslog over TCP lacks.
 * Frames are `TXNR SP COMMAND SP DATALEN [SP DATA] LF`; the client opens with `open` (offering
 * `commands=syslog`), sends each message as `syslog`, and the server answers every frame with
 * `TXNR rsp DATALEN 200 OK`. A message is delivered once its `rsp` arrived; after a broken
 * connection exactly the unacknowledged ones are sent again, so the receiver sees each once
 * (unless it took a message and died before answering: then that one arrives twice).
 */
export const RELP_TXNR_MAX = 999_999_999;
/** Messages sent and not yet acknowledged at most (librelp's default window is 128). */
export const RELP_WINDOW_FRAMES = 128;
/** A response longer than this is a protocol error (responses are a status and a few offers). */
const RESPONSE_BYTES_MAX = 64 * 1024;
const LF = 0x0a;

export const nextTxnr = (txnr: number): number => (txnr >= RELP_TXNR_MAX ? 1 : txnr + 1);

export function relpFrame(txnr: number, command: string, data: Buffer): Buffer {
  const head = Buffer.from(`${txnr} ${command} ${data.length}${data.length > 0 ? ' ' : ''}`, 'ascii');
  return Buffer.concat([head, data, Buffer.from([LF])]);
}

export const RELP_OPEN_OFFERS = Buffer.from('relp_version=0\nrelp_software=enclave\ncommands=syslog', 'ascii');

/** The syslog message inside an RFC 6587 octet-counted frame (`LEN SP MSG`): what RELP carries. */
export function messageOfOctetCounted(frame: Buffer): Buffer {
  const space = frame.indexOf(0x20);
  return space < 0 ? frame : frame.subarray(space + 1);
}

export interface RelpResponse {
  readonly txnr: number;
  readonly command: string;
  readonly data: string;
}

/** Splits the server's byte stream into frames. Throws on anything that is not RELP. */
export class RelpReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RelpResponse[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: RelpResponse[] = [];
    for (;;) {
      const header = /^(\d{1,9}) ([a-z]{1,32}) (\d{1,9})/.exec(this.buffered.subarray(0, 64).toString('latin1'));
      if (header === null) {
        if (this.buffered.length >= 64 || (this.buffered.length > 0 && !/^[\d a-z]*$/.test(this.buffered.toString('latin1')))) throw new Error('not a RELP frame');
        return out;
      }
      const [whole, txnr = '0', command = '', lengthText = '0'] = header;
      const length = Number(lengthText);
      if (length > RESPONSE_BYTES_MAX) throw new Error('RELP response too long');
      const start = whole.length + (length > 0 ? 1 : 0);
      const end = start + length;
      if (this.buffered.length < end + 1) return out;
      if (this.buffered[end] !== LF) throw new Error('RELP frame without its trailer');
      out.push({ txnr: Number(txnr), command, data: this.buffered.subarray(start, end).toString('utf8') });
      this.buffered = this.buffered.subarray(end + 1);
    }
  }
}
