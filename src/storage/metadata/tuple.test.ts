import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { KEY_BYTES_MAX } from './metadata-store.js';
import { KeyReader, compareKeys, key, latin1Of, prefixEnd, readUint64 } from './tuple.js';

type Part =
  | { readonly kind: 'byte'; readonly value: number }
  | { readonly kind: 'uint'; readonly value: number }
  | { readonly kind: 'u64'; readonly value: bigint }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array };
type Kind = Part['kind'];

// Small alphabets make equal parts, shared prefixes and embedded NULs common.
const stringPart = fc.oneof(
  fc.array(fc.constantFrom('\0', 'a', 'b', '\u00ff', '\uffff', '\u{10000}', '😀'), { maxLength: 5 }).map((chars) => chars.join('')),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const bytesPart = fc.array(fc.constantFrom(0x00, 0x01, 0xfe, 0xff), { maxLength: 5 }).map((values) => Uint8Array.from(values));
const partOf: Record<Kind, fc.Arbitrary<Part>> = {
  byte: fc.integer({ min: 0, max: 0xff }).map((value) => ({ kind: 'byte', value })),
  uint: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.maxSafeNat()).map((value) => ({ kind: 'uint', value })),
  u64: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value) => ({ kind: 'u64', value })),
  string: stringPart.map((value) => ({ kind: 'string', value })),
  bytes: bytesPart.map((value) => ({ kind: 'bytes', value })),
};
const kinds: Kind[] = ['byte', 'uint', 'u64', 'string', 'bytes'];
/** Two tuples of one schema (the same kind at each position), as the keys of one keyspace are. */
const tuplePair = fc
  .array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 4 })
  .chain((schema) => fc.tuple(fc.tuple(...schema.map((kind) => partOf[kind])), fc.tuple(...schema.map((kind) => partOf[kind]))));

function encode(parts: readonly Part[]): Uint8Array {
  const writer = key();
  for (const part of parts) {
    if (part.kind === 'byte') writer.byte(part.value);
    else if (part.kind === 'uint') writer.uint(part.value);
    else if (part.kind === 'u64') writer.u64(part.value);
    else if (part.kind === 'string') writer.string(part.value);
    else writer.bytesPart(part.value);
  }
  return writer.build();
}

function sign(value: number | bigint): number {
  return value > 0 ? 1 : value < 0 ? -1 : 0;
}

function compareSequences(left: ArrayLike<number>, right: ArrayLike<number>): number {
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    const difference = (left[index] as number) - (right[index] as number);
    if (difference !== 0) return sign(difference);
  }
  return sign(left.length - right.length);
}

/** The order keys must keep: numbers by value, strings by code point, bytes lexicographically. */
function comparePart(left: Part, right: Part): number {
  if (left.kind === 'string' && right.kind === 'string') {
    const codePoints = (value: string): number[] => [...value].map((char) => char.codePointAt(0) as number);
    return compareSequences(codePoints(left.value), codePoints(right.value));
  }
  if (left.kind === 'bytes' && right.kind === 'bytes') return compareSequences(left.value, right.value);
  if (left.kind === 'u64' && right.kind === 'u64') return sign(left.value - right.value);
  if ((left.kind === 'byte' || left.kind === 'uint') && left.kind === right.kind) return sign(left.value - right.value);
  throw new Error('parts of different kinds');
}

function compareTuples(left: readonly Part[], right: readonly Part[]): number {
  for (let index = 0; index < left.length; index++) {
    const order = comparePart(left[index] as Part, right[index] as Part);
    if (order !== 0) return order;
  }
  return 0;
}

describe('tuple keys', () => {
  it('encoded keys compare bytewise in the order their tuples compare', () => {
    fc.assert(
      fc.property(tuplePair, ([left, right]) => {
        assert.equal(sign(compareKeys(encode(left), encode(right))), compareTuples(left, right));
      }),
      { numRuns: 2_000 },
    );
  });

  it('a string sorts before every string it prefixes, NUL extensions included', () => {
    const ordered = ['', '\0', '\0\0', '\0a', 'a', 'a\0', 'a\0\0', 'a\0b', 'ab', '\u00ff', '\uffff', '\u{10000}'];
    const encoded = ordered.map((value) => key().string(value).uint(7).build());
    for (let index = 1; index < encoded.length; index++) {
      assert.ok(compareKeys(encoded[index - 1] as Uint8Array, encoded[index] as Uint8Array) < 0, `${index}`);
    }
  });

  it('decoding an encoded key gives back every part and consumes the key', () => {
    fc.assert(
      fc.property(tuplePair, ([parts]) => {
        const reader = new KeyReader(encode(parts));
        for (const part of parts) {
          if (part.kind === 'byte') assert.equal(reader.byte(), part.value);
          else if (part.kind === 'uint') assert.equal(reader.uint(), part.value);
          else if (part.kind === 'u64') assert.equal(reader.u64(), part.value);
          else if (part.kind === 'string') assert.equal(reader.string(), part.value);
          else assert.deepEqual(reader.bytesPart(), part.value);
        }
        assert.equal(reader.done, true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('rejects values a part cannot hold with RangeError', () => {
    assert.throws(() => key().byte(256), RangeError);
    assert.throws(() => key().uint(-1), RangeError);
    assert.throws(() => key().uint(1.5), RangeError);
    assert.throws(() => key().uint(2 ** 53), RangeError);
    assert.throws(() => key().u64(1n << 64n), RangeError);
    assert.throws(() => key().string('a\uD800b'), RangeError);
    assert.throws(() => key().string('\uDC00'), RangeError);
    assert.doesNotThrow(() => key().string('\uD800\uDC00'));
  });

  it('rejects truncated and malformed keys with RangeError', () => {
    assert.throws(() => new KeyReader(Uint8Array.from([1, 2])).uint(), RangeError);
    assert.throws(() => new KeyReader(Uint8Array.from([0x61, 0x00])).string(), RangeError);
    assert.throws(() => new KeyReader(Uint8Array.from([0x61, 0x00, 0x02])).bytesPart(), RangeError);
  });
});

describe('tuple helpers', () => {
  it('a string part is its UTF-8, escaped, whether or not it is ASCII (the fast path and the encoder agree)', () => {
    const escapedUtf8 = (text: string): number[] => {
      const out: number[] = [];
      for (const byte of new TextEncoder().encode(text)) out.push(...(byte === 0 ? [0x00, 0xff] : [byte]));
      return [...out, 0x00, 0x01];
    };
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), stringPart, fc.string({ unit: 'grapheme', maxLength: 12 })), (text) => {
        // A first part of 30 bytes leaves the writer's initial room nearly full: the string grows it.
        assert.deepEqual([...key().bytesPart(new Uint8Array(30).fill(7)).string(text).build().subarray(32)], escapedUtf8(text));
      }),
    );
    // ASCII then not: the bytes written before the first non-ASCII char are rewritten, not kept twice.
    assert.deepEqual([...key().string('ab\0c\u00e9').build()], escapedUtf8('ab\0c\u00e9'));
    assert.throws(() => key().string('ab\ud800'), RangeError);
  });

  it('latin1Of and readUint64 read the bytes as Buffer and DataView do', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.maxSafeNat(), (bytes, value) => {
        assert.equal(latin1Of(bytes), Buffer.from(bytes).toString('latin1'));
        assert.equal(latin1Of(bytes, Math.floor(bytes.length / 2)), Buffer.from(bytes.subarray(0, Math.floor(bytes.length / 2))).toString('latin1'));
        const encoded = key().byte(1).uint(value).build();
        assert.equal(readUint64(encoded, 1), value);
      }),
    );
  });
});

describe('prefixEnd', () => {
  it('bounds exactly the keys that start with the prefix', () => {
    const prefixArbitrary = fc.array(fc.constantFrom(0x00, 0x01, 0xfe, 0xff), { maxLength: 4 }).map((values) => Uint8Array.from(values));
    fc.assert(
      fc.property(prefixArbitrary, prefixArbitrary, (prefix, other) => {
        const end = prefixEnd(prefix);
        const extended = Uint8Array.from([...prefix, ...other]);
        assert.ok(compareKeys(extended, end) < 0);
        const startsWithPrefix = compareSequences(other.subarray(0, prefix.length), prefix) === 0 && other.length >= prefix.length;
        if (!startsWithPrefix && compareKeys(other, prefix) > 0) assert.ok(compareKeys(other, end) >= 0);
      }),
      { numRuns: 2_000 },
    );
  });

  it('for an all-0xff prefix, lies above every key of KEY_BYTES_MAX bytes that starts with it', () => {
    const end = prefixEnd(Uint8Array.from([0xff, 0xff]));
    assert.ok(compareKeys(new Uint8Array(KEY_BYTES_MAX).fill(0xff), end) < 0);
    assert.deepEqual(prefixEnd(Uint8Array.from([0x01, 0xff])), Uint8Array.from([0x02]));
  });
});
