/**
 * An XDR encoder (RFC 4506) into a growing buffer. Replies are built whole and sent as one
 * record, so the writer also reserves room for the record mark (rpc/record-marking.ts).
 *
 * Opaques of at least BORROW_BYTES_MIN (a READ's file data) are not copied: the writer keeps a
 * reference and `parts()` hands them out between the encoded pieces, for one gathered socket
 * write. Contract: such bytes must not change until the reply is sent.
 */
const INITIAL_BYTES = 512;
const TWO_TO_32 = 2 ** 32;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair, 2 units, takes 4). */
const UTF8_BYTES_PER_UNIT_MAX = 3;
export const BORROW_BYTES_MIN = 16 * 1024;

export class XdrWriter {
  // A Buffer, so strings are encoded straight into it (Buffer#write), without an intermediate.
  private buffer: Buffer;
  private view: DataView;
  private offset: number;
  /** Finished parts: encoded pieces of `buffer` and borrowed opaques, in order. */
  private readonly finished: Uint8Array[] = [];
  private borrowedBytes = 0;
  /** Where the piece of `buffer` not yet in `finished` starts. */
  private pieceStart = 0;
  /** Buffer offsets below this are logical offsets too (nothing borrowed before them). */
  private patchableEnd = Number.POSITIVE_INFINITY;

  /** `reserveBytes` are left at the front (zeroed) for a header written later. */
  constructor(reserveBytes = 0) {
    this.buffer = Buffer.alloc(Math.max(INITIAL_BYTES, reserveBytes * 2));
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.offset = reserveBytes;
  }

  /** Bytes encoded so far, borrowed ones included. */
  get length(): number {
    return this.offset + this.borrowedBytes;
  }

  /**
   * Makes room for `count` more bytes at once, so a reply whose size is known (a READDIRPLUS page)
   * is not copied again and again as it grows.
   */
  reserve(count: number): this {
    const needed = this.offset + count;
    // Exactly what was asked: a 16 KiB buffer for an 8 KiB reply costs twice the allocation.
    if (needed > this.buffer.byteLength) this.grow(needed);
    return this;
  }

  private ensure(count: number): void {
    const needed = this.offset + count;
    if (needed <= this.buffer.byteLength) return;
    let size = this.buffer.byteLength * 2;
    while (size < needed) size *= 2;
    this.grow(size);
  }

  private grow(size: number): void {
    const next = Buffer.alloc(size);
    this.buffer.copy(next, 0, 0, this.offset);
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  uint32(value: number): this {
    this.ensure(4);
    this.view.setUint32(this.offset, value >>> 0);
    this.offset += 4;
    return this;
  }

  int32(value: number): this {
    this.ensure(4);
    this.view.setInt32(this.offset, value);
    this.offset += 4;
    return this;
  }

  uint64(value: bigint | number): this {
    this.ensure(8);
    // File ids, sizes and the like are safe integers: two words, without a BigInt per value.
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      this.view.setUint32(this.offset, Math.floor(value / TWO_TO_32));
      this.view.setUint32(this.offset + 4, value >>> 0);
    } else {
      this.view.setBigUint64(this.offset, BigInt(value));
    }
    this.offset += 8;
    return this;
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  fixedOpaque(bytes: Uint8Array): this {
    const padded = (bytes.byteLength + 3) & ~3;
    this.ensure(padded);
    this.buffer.set(bytes, this.offset);
    this.buffer.fill(0, this.offset + bytes.byteLength, this.offset + padded);
    this.offset += padded;
    return this;
  }

  opaque(bytes: Uint8Array): this {
    this.uint32(bytes.byteLength);
    if (bytes.byteLength < BORROW_BYTES_MIN) return this.fixedOpaque(bytes);
    this.patchableEnd = Math.min(this.patchableEnd, this.offset);
    this.finished.push(this.buffer.subarray(this.pieceStart, this.offset), bytes);
    this.borrowedBytes += bytes.byteLength;
    this.pieceStart = this.offset;
    return this.padding(bytes.byteLength);
  }

  private padding(byteLength: number): this {
    const count = ((byteLength + 3) & ~3) - byteLength;
    this.ensure(count);
    this.buffer.fill(0, this.offset, this.offset + count);
    this.offset += count;
    return this;
  }

  /** UTF-8 with its length word, encoded in place (names are far below BORROW_BYTES_MIN). */
  string(text: string): this {
    const padded = (text.length * UTF8_BYTES_PER_UNIT_MAX + 3) & ~3;
    this.ensure(4 + padded);
    const byteLength = this.buffer.write(text, this.offset + 4, 'utf8');
    this.view.setUint32(this.offset, byteLength);
    this.offset += 4 + byteLength;
    return this.padding(byteLength);
  }

  optional<T>(value: T | undefined, writeItem: (writer: XdrWriter, item: T) => void): this {
    this.bool(value !== undefined);
    if (value !== undefined) writeItem(this, value);
    return this;
  }

  /** Overwrites a uint32 already written (a record mark, a count known only at the end). */
  patchUint32(at: number, value: number): void {
    if (at + 4 > this.patchableEnd) throw new RangeError('cannot patch after a borrowed opaque');
    this.view.setUint32(at, value >>> 0);
  }

  /** The encoded bytes (a view, valid until the next write; a copy once something was borrowed). */
  bytes(): Uint8Array {
    if (this.finished.length === 0) return this.buffer.subarray(0, this.offset);
    return Buffer.concat(this.parts());
  }

  /** The encoded bytes as the pieces to send in order (views, valid until the next write). */
  parts(): Uint8Array[] {
    const current = this.buffer.subarray(this.pieceStart, this.offset);
    if (this.finished.length === 0) return [current];
    return current.byteLength === 0 ? [...this.finished] : [...this.finished, current];
  }
}

/** Bytes a string takes on the wire: length word plus padded UTF-8. */
export function xdrStringBytes(text: string): number {
  return 4 + ((Buffer.byteLength(text, 'utf8') + 3) & ~3);
}
