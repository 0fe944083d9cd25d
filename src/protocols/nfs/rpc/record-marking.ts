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

/** Fragments at least this large that span socket reads are assembled in a reused buffer. */
export const ASSEMBLED_BYTES_MIN = 64 * 1024;

/**
 * Reused buffers of one size (the largest record) for fragments that span socket reads: a stream
 * of 1 MiB WRITEs then allocates no buffer per call. Each fresh ArrayBuffer counts as external
 * memory, and V8 starts a full collection every 64 MiB of it: a 1 GiB write made 32 of them.
 * Shared by a server's connections; at most `idleMax` are kept while none is in use.
 */
export class RecordBuffers {
  readonly #idle: Uint8Array[] = [];
  readonly #lent = new WeakSet<Uint8Array>();

  constructor(
    readonly bytes: number,
    private readonly idleMax: number,
  ) {}

  take(): Uint8Array {
    const buffer = this.#idle.pop() ?? new Uint8Array(this.bytes);
    this.#lent.add(buffer);
    return buffer;
  }

  /** Only a buffer `take` lent, and once: anything else is ignored. */
  give(buffer: Uint8Array): void {
    if (!this.#lent.delete(buffer)) return;
    if (this.#idle.length < this.idleMax) this.#idle.push(buffer);
  }

  get idleCount(): number {
    return this.#idle.length;
  }
}

export class RecordDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fragments: Buffer[] = [];
  private recordBytes = 0;
  private fragmentCount = 0;
  /** Records (and fragments) assembled in a buffer of `buffers`, to be given back by `release`. */
  private readonly assembled = new WeakMap<Buffer, Uint8Array>();

  constructor(
    private readonly limits: RecordLimits,
    private readonly buffers?: RecordBuffers,
  ) {}

  /**
   * Feeds bytes from the socket; returns every record now complete. Throws RecordError. A record
   * is a view of a socket read, of one concatenation made for it, or of a reused buffer: the
   * caller calls `release` once the record's call is done, and nothing may keep a view of a
   * record after that (the write gatherer copies WRITE data).
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
        if (this.fragments.length === 1) records.push(this.fragments[0] as Buffer);
        else {
          records.push(Buffer.concat(this.fragments, this.recordBytes));
          for (const fragment of this.fragments) this.release(fragment);
        }
        this.fragments = [];
        this.recordBytes = 0;
        this.fragmentCount = 0;
      }
    }
  }

  /** Gives back the reused buffer of a record `push` returned, if it has one; idempotent. */
  release(record: Buffer): void {
    const buffer = this.assembled.get(record);
    if (buffer === undefined) return;
    this.assembled.delete(record);
    this.buffers?.give(buffer);
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
    if (first.byteLength < count) {
      if (this.buffers !== undefined && count >= ASSEMBLED_BYTES_MIN && count <= this.buffers.bytes) return this.assemble(this.buffers, count);
      this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    }
    const head = this.pending[0] as Buffer;
    const taken = head.subarray(0, count);
    if (head.byteLength === count) this.pending.shift();
    else this.pending[0] = head.subarray(count);
    this.pendingBytes -= count;
    return taken;
  }

  /** Copies the next `count` pending bytes (held in several reads) into a reused buffer. */
  private assemble(buffers: RecordBuffers, count: number): Buffer {
    const target = buffers.take();
    let filled = 0;
    while (filled < count) {
      const head = this.pending[0] as Buffer;
      const used = Math.min(head.byteLength, count - filled);
      target.set(used === head.byteLength ? head : head.subarray(0, used), filled);
      filled += used;
      if (used === head.byteLength) this.pending.shift();
      else this.pending[0] = head.subarray(used);
    }
    this.pendingBytes -= count;
    const view = Buffer.from(target.buffer, target.byteOffset, count);
    this.assembled.set(view, target);
    return view;
  }
}

/** Frames one record as a single last fragment (replies are built whole). */
export function frameRecord(body: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(MARK_BYTES + body.byteLength);
  framed.writeUInt32BE((LAST_FRAGMENT | body.byteLength) >>> 0, 0);
  framed.set(body, MARK_BYTES);
  return framed;
}
