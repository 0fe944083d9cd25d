/**
 * A bounded XDR decoder (RFC 4506). Every variable-length item is checked against both the bytes
 * left in the buffer and a caller-given maximum before anything is allocated, so a hostile length
 * cannot make us read past the record or reserve memory. A malformed input throws `XdrError`,
 * which the RPC layer answers with GARBAGE_ARGS.
 */
export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class XdrReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remainingBytes(): number {
    return this.bytes.byteLength - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  /** The bytes not yet read, without copying (the procedure body after the RPC header). */
  rest(): Uint8Array {
    return this.bytes.subarray(this.offset);
  }

  private need(count: number, what: string): void {
    if (count > this.remainingBytes) throw new XdrError(`truncated ${what}: need ${count} bytes, have ${this.remainingBytes}`);
  }

  uint32(what = 'uint32'): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  int32(what = 'int32'): number {
    this.need(4, what);
    const value = this.view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(what = 'uint64'): bigint {
    this.need(8, what);
    const value = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return value;
  }

  /** RFC 4506 §4.4: a boolean is an enum whose only values are 0 and 1. */
  bool(what = 'bool'): boolean {
    const value = this.uint32(what);
    if (value > 1) throw new XdrError(`${what}: boolean must be 0 or 1, got ${value}`);
    return value === 1;
  }

  /** Fixed-length opaque data (§4.9), padded to a multiple of four bytes. Not copied. */
  fixedOpaque(length: number, what = 'opaque'): Uint8Array {
    const padded = (length + 3) & ~3;
    this.need(padded, what);
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += padded;
    return value;
  }

  /** Variable-length opaque data (§4.10) of at most `maxBytes`. Not copied. */
  opaque(maxBytes: number, what = 'opaque'): Uint8Array {
    const length = this.uint32(`${what} length`);
    if (length > maxBytes) throw new XdrError(`${what}: length ${length} exceeds the maximum ${maxBytes}`);
    return this.fixedOpaque(length, what);
  }

  /** A string (§4.11) of at most `maxBytes`, which must be valid UTF-8 and hold no NUL. */
  string(maxBytes: number, what = 'string'): string {
    const bytes = this.opaque(maxBytes, what);
    let text: string;
    try {
      text = textDecoder.decode(bytes);
    } catch {
      throw new XdrError(`${what}: not valid UTF-8`);
    }
    if (text.includes('\0')) throw new XdrError(`${what}: contains NUL`);
    return text;
  }

  /** A counted array (§4.13) of at most `maxItems`; each item is at least 4 bytes on the wire. */
  array<T>(maxItems: number, readItem: (reader: XdrReader) => T, what = 'array'): T[] {
    const count = this.uint32(`${what} count`);
    if (count > maxItems) throw new XdrError(`${what}: ${count} items exceed the maximum ${maxItems}`);
    this.need(count * 4, what);
    const items: T[] = [];
    for (let index = 0; index < count; index += 1) items.push(readItem(this));
    return items;
  }

  /** Optional data (§4.19): `*T` is a boolean then, when true, the value. */
  optional<T>(readItem: (reader: XdrReader) => T): T | undefined {
    return this.bool('optional flag') ? readItem(this) : undefined;
  }

  /** Arguments must be consumed exactly: trailing bytes mean the caller and we disagree. */
  end(what = 'arguments'): void {
    if (this.remainingBytes !== 0) throw new XdrError(`${what}: ${this.remainingBytes} unexpected trailing bytes`);
  }
}
