/**
 * RFC 5531 §11 record marking for RPC over TCP: each record is one or more fragments, each
 * preceded by a 4-byte mark whose high bit says "last fragment" and whose low 31 bits give the
 * fragment length. The decoder reassembles records up to `recordBytesMax` and at most
 * `fragmentsMax` fragments; anything beyond is a protocol violation and the connection must be
 * closed (there is no way to resynchronise a byte stream after a bad mark).
 */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

const LAST_FRAGMENT = 0x8000_0000;
const MARK_BYTES = 4;

export interface RecordLimits {
  readonly recordBytesMax: number;
  readonly fragmentsMax: number;
}

export class RecordDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fragments: Buffer[] = [];
  private recordBytes = 0;
  private fragmentCount = 0;

  constructor(private readonly limits: RecordLimits) {}

  /**
   * Feeds bytes from the socket; returns every record now complete. Throws RecordError. A record
   * is a view of a socket read or of one concatenation made for it, never written again, so
   * callers may keep it (the write gatherer keeps WRITE data without copying).
   */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    const records: Buffer[] = [];
    for (;;) {
      if (this.pendingBytes < MARK_BYTES) return records;
      const head = this.peek(MARK_BYTES);
      const mark = head.readUInt32BE(0);
      const fragmentBytes = mark & ~LAST_FRAGMENT;
      const last = (mark & LAST_FRAGMENT) !== 0;
      if (this.recordBytes + fragmentBytes > this.limits.recordBytesMax) {
        throw new RecordError(`record of more than ${this.limits.recordBytesMax} bytes`);
      }
      if (this.fragmentCount + 1 > this.limits.fragmentsMax) throw new RecordError(`record of more than ${this.limits.fragmentsMax} fragments`);
      if (this.pendingBytes < MARK_BYTES + fragmentBytes) return records;
      this.take(MARK_BYTES);
      this.fragments.push(this.take(fragmentBytes));
      this.recordBytes += fragmentBytes;
      this.fragmentCount += 1;
      if (last) {
        records.push(this.fragments.length === 1 ? (this.fragments[0] as Buffer) : Buffer.concat(this.fragments, this.recordBytes));
        this.fragments = [];
        this.recordBytes = 0;
        this.fragmentCount = 0;
      }
    }
  }

  /** Bytes held for an incomplete record (for tests and back-pressure). */
  get bufferedBytes(): number {
    return this.pendingBytes + this.recordBytes;
  }

  private peek(count: number): Buffer {
    const first = this.pending[0] as Buffer;
    if (first.byteLength >= count) return first.subarray(0, count);
    this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return (this.pending[0] as Buffer).subarray(0, count);
  }

  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    const first = this.pending[0] as Buffer;
    if (first.byteLength < count) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    const head = this.pending[0] as Buffer;
    const taken = head.subarray(0, count);
    if (head.byteLength === count) this.pending.shift();
    else this.pending[0] = head.subarray(count);
    this.pendingBytes -= count;
    return taken;
  }
}

/** Frames one record as a single last fragment (replies are built whole). */
export function frameRecord(body: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(MARK_BYTES + body.byteLength);
  framed.writeUInt32BE((LAST_FRAGMENT | body.byteLength) >>> 0, 0);
  framed.set(body, MARK_BYTES);
  return framed;
}
