/**
 * Order-preserving key encoding. Keys built here compare bytewise (memcmp) in the same order as
 * their parts compare: single bytes and unsigned integers as fixed-width big-endian, strings and
 * byte strings escaped (0x00 -> 0x00 0xff) and terminated by 0x00 0x01, so a string sorts before
 * every longer string it prefixes and any bytes, NUL included, can be encoded.
 */

import { KEY_BYTES_MAX } from './metadata-store.js';

const ESCAPE = 0x00;
const ESCAPED_ZERO = 0xff;
const TERMINATOR = 0x01;
const textEncoder = new TextEncoder();
// ignoreBOM: a name may begin with U+FEFF, and it must come back as stored.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class KeyWriter {
  private bytes: Uint8Array;
  private length = 0;

  constructor(capacityBytes = 32) {
    this.bytes = new Uint8Array(capacityBytes);
  }

  byte(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`not a byte: ${value}`);
    this.reserve(1);
    this.bytes[this.length++] = value;
    return this;
  }

  /** An unsigned integer up to 2^53 - 1, as 8 bytes big-endian. */
  uint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not an unsigned safe integer: ${value}`);
    this.reserve(8);
    // Byte by byte rather than through a DataView: keys are built on every metadata operation,
    // and a view per part was a measurable share of the allocations.
    writeUint32(this.bytes, this.length, Math.floor(value / 2 ** 32));
    writeUint32(this.bytes, this.length + 4, value >>> 0);
    this.length += 8;
    return this;
  }

  /** An unsigned 64-bit integer, as 8 bytes big-endian. */
  u64(value: bigint): this {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`not an unsigned 64-bit integer: ${value}`);
    this.reserve(8);
    writeUint32(this.bytes, this.length, Number(value >> 32n));
    writeUint32(this.bytes, this.length + 4, Number(value & 0xffff_ffffn));
    this.length += 8;
    return this;
  }

  /**
   * A well-formed string, as UTF-8, so strings sort by code point. A lone surrogate is rejected:
   * TextEncoder would turn it into U+FFFD, and two different strings would share one key.
   */
  string(value: string): this {
    // ASCII (most names) is its own UTF-8: written in place, with no encoder call (each made an
    // off-heap buffer) and no surrogate to look for.
    this.reserve(value.length * 2 + 2);
    const start = this.length;
    for (let index = 0; index < value.length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) {
        this.length = start;
        return this.utf8(value);
      }
      this.escapedByte(code);
    }
    return this.terminate();
  }

  private utf8(value: string): this {
    if (LONE_SURROGATE.test(value)) throw new RangeError('string has a lone surrogate; it cannot be a key part');
    return this.escaped(textEncoder.encode(value));
  }

  bytesPart(value: Uint8Array): this {
    return this.escaped(value);
  }

  /** Raw bytes with no terminator: only as the last part, for prefix scans. */
  raw(value: Uint8Array): this {
    this.reserve(value.length);
    this.bytes.set(value, this.length);
    this.length += value.length;
    return this;
  }

  build(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  private escaped(value: Uint8Array): this {
    this.reserve(value.length * 2 + 2);
    for (const byte of value) this.escapedByte(byte);
    return this.terminate();
  }

  /** One byte of an escaped part; the caller reserved two bytes for it. */
  private escapedByte(byte: number): void {
    this.bytes[this.length++] = byte;
    if (byte === ESCAPE) this.bytes[this.length++] = ESCAPED_ZERO;
  }

  /** Ends an escaped part; the caller reserved the two bytes. */
  private terminate(): this {
    this.bytes[this.length++] = ESCAPE;
    this.bytes[this.length++] = TERMINATOR;
    return this;
  }

  private reserve(extraBytes: number): void {
    if (this.length + extraBytes <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extraBytes));
    // All of it, not a subarray: a view of a small array V8 holds on its heap moves it off first.
    grown.set(this.bytes);
    this.bytes = grown;
  }
}

/** Big-endian, as DataView.setUint32 writes it. */
function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (((bytes[offset] as number) << 24) >>> 0) + (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number));
}

/**
 * The 8 bytes at `offset` as a big-endian unsigned integer up to 2^53 - 1 (a `uint` key part),
 * read without a DataView: `.buffer` of a small array V8 keeps on its heap moves it off the heap,
 * an allocation per call on the hottest paths.
 */
export function readUint64(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset) * 2 ** 32 + readUint32(bytes, offset + 4);
}

/**
 * The first `length` bytes as a string of one char per byte (a map key that compares and hashes
 * as the bytes do), without `.buffer` (see readUint64).
 */
export function latin1Of(bytes: Uint8Array, length = bytes.length): string {
  let text = '';
  for (let index = 0; index < length; index++) text += String.fromCharCode(bytes[index] as number);
  return text;
}

export function key(): KeyWriter {
  return new KeyWriter();
}

export class KeyReader {
  private position = 0;

  constructor(private readonly bytes: Uint8Array) {}

  byte(): number {
    this.need(1);
    return this.bytes[this.position++] as number;
  }

  uint(): number {
    this.need(8);
    const value = readUint32(this.bytes, this.position) * 2 ** 32 + readUint32(this.bytes, this.position + 4);
    this.position += 8;
    return value;
  }

  u64(): bigint {
    this.need(8);
    const value = (BigInt(readUint32(this.bytes, this.position)) << 32n) | BigInt(readUint32(this.bytes, this.position + 4));
    this.position += 8;
    return value;
  }

  string(): string {
    return textDecoder.decode(this.bytesPart());
  }

  bytesPart(): Uint8Array {
    const out: number[] = [];
    for (;;) {
      this.need(1);
      const byte = this.bytes[this.position++] as number;
      if (byte !== ESCAPE) {
        out.push(byte);
        continue;
      }
      this.need(1);
      const next = this.bytes[this.position++] as number;
      if (next === TERMINATOR) return Uint8Array.from(out);
      if (next !== ESCAPED_ZERO) throw new RangeError('malformed escaped key part');
      out.push(ESCAPE);
    }
  }

  rest(): Uint8Array {
    const rest = this.bytes.slice(this.position);
    this.position = this.bytes.length;
    return rest;
  }

  get done(): boolean {
    return this.position >= this.bytes.length;
  }

  private need(count: number): void {
    if (this.position + count > this.bytes.length) throw new RangeError('key too short');
  }
}

/** The smallest key greater than every key that starts with `prefix` (for exclusive scan ends). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let index = end.length - 1; index >= 0; index--) {
    if ((end[index] as number) < 0xff) {
      end[index] = (end[index] as number) + 1;
      return end.slice(0, index + 1);
    }
  }
  // All 0xff: no key of any length is greater than every extension, but every storable key is at
  // most KEY_BYTES_MAX bytes, so KEY_BYTES_MAX + 1 bytes of 0xff is above every one of them (scan
  // bounds may be that long, see limits.ts). Eight extra bytes, as before, missed longer keys.
  return new Uint8Array(Math.max(KEY_BYTES_MAX + 1, prefix.length + 1)).fill(0xff);
}

export function compareKeys(left: Uint8Array, right: Uint8Array): number {
  return Buffer.compare(left, right);
}
