import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ASSEMBLED_BYTES_MIN, frameRecord, RecordBuffers, RecordDecoder, RecordError } from '../rpc/record-marking.js';
import { XdrError, XdrReader } from './xdr-reader.js';
import { BORROW_BYTES_MIN, XdrWriter } from './xdr-writer.js';

describe('XDR codec', () => {
  it('round-trips integers, booleans, opaque data, strings, arrays and optionals with padding', () => {
    const writer = new XdrWriter()
      .uint32(0xffff_ffff)
      .int32(-2)
      .uint64(2n ** 63n + 5n)
      .bool(true)
      .opaque(Uint8Array.of(1, 2, 3))
      .string('héllo')
      .optional(7, (inner, value) => inner.uint32(value))
      .optional<number>(undefined, (inner, value) => inner.uint32(value));
    writer.uint32(2).uint32(10).uint32(20);
    const bytes = writer.bytes();
    assert.equal(bytes.byteLength % 4, 0);
    const reader = new XdrReader(bytes);
    assert.equal(reader.uint32(), 0xffff_ffff);
    assert.equal(reader.int32(), -2);
    assert.equal(reader.uint64(), 2n ** 63n + 5n);
    assert.equal(reader.bool(), true);
    assert.deepEqual([...reader.opaque(16)], [1, 2, 3]);
    assert.equal(reader.string(16), 'héllo');
    assert.equal(reader.optional((inner) => inner.uint32()), 7);
    assert.equal(reader.optional((inner) => inner.uint32()), undefined);
    assert.deepEqual(reader.array(4, (inner) => inner.uint32()), [10, 20]);
    reader.end();
  });

  it('references large opaques instead of copying them, and the parts read back as the whole', () => {
    const data = new Uint8Array(BORROW_BYTES_MIN + 3).map((_, index) => index % 256);
    const writer = new XdrWriter(4).uint32(7).opaque(data).bool(true);
    writer.patchUint32(0, writer.length - 4);
    const parts = writer.parts();
    assert.equal(parts.length, 3);
    assert.equal(parts[1], data, 'the data itself, not a copy');
    assert.equal(writer.length, 4 + 4 + 4 + data.byteLength + 1 + 4);
    const whole = writer.bytes();
    assert.deepEqual(whole, Buffer.concat(parts));
    const reader = new XdrReader(whole);
    assert.equal(reader.uint32(), writer.length - 4);
    assert.equal(reader.uint32(), 7);
    assert.deepEqual(Uint8Array.from(reader.opaque(data.byteLength)), data);
    assert.equal(reader.bool(), true);
    reader.end();
    assert.throws(() => writer.patchUint32(12, 0), RangeError, 'offsets after a borrowed opaque are not the buffer\'s');
  });

  it('writes uint64 numbers as their BigInt would be written, and strings in place with zero padding', () => {
    const numbers = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER, -1];
    const fromNumbers = new XdrWriter();
    const fromBigInts = new XdrWriter();
    for (const value of numbers) {
      fromNumbers.uint64(value);
      fromBigInts.uint64(BigInt(value));
    }
    assert.deepEqual([...fromNumbers.bytes()], [...fromBigInts.bytes()]);
    assert.throws(() => new XdrWriter().uint64(1.5), RangeError, 'a fraction is not a uint64');

    // Lengths 1 to 4 cover every padding; multi-byte characters and a lone surrogate (written as
    // U+FFFD, as TextEncoder does) size by bytes, not characters; reserve() leaves no gaps.
    const texts = ['a', 'ab', 'abc', 'abcd', 'héllo', '日本語の名前', 'x\uD800y', 'z'.repeat(300)];
    const writer = new XdrWriter(4).reserve(64);
    for (const text of texts) writer.string(text);
    const bytes = writer.bytes();
    const reader = new XdrReader(bytes.subarray(4));
    for (const text of texts) {
      const encoded = new TextEncoder().encode(text);
      assert.equal(reader.uint32(), encoded.byteLength);
      const body = reader.fixedOpaque(encoded.byteLength);
      assert.deepEqual([...body], [...encoded]);
    }
    reader.end();
    const expected = new XdrWriter(4);
    for (const text of texts) expected.opaque(new TextEncoder().encode(text));
    assert.deepEqual([...bytes], [...expected.bytes()], 'padding bytes are zero');
  });

  it('refuses a length beyond the maximum before reading anything', () => {
    const bytes = new XdrWriter().opaque(new Uint8Array(20)).bytes();
    assert.throws(() => new XdrReader(bytes).opaque(16), XdrError);
  });

  it('refuses a length beyond the remaining bytes (truncated input)', () => {
    const bytes = new XdrWriter().uint32(1_000_000).bytes();
    assert.throws(() => new XdrReader(bytes).opaque(2_000_000), /truncated/);
    assert.throws(() => new XdrReader(Uint8Array.of(0, 0)).uint32(), XdrError);
  });

  it('refuses huge array counts without allocating, bad booleans, invalid UTF-8, NUL and trailing bytes', () => {
    assert.throws(() => new XdrReader(new XdrWriter().uint32(0xffff_ffff).bytes()).array(16, (inner) => inner.uint32()), /exceed/);
    assert.throws(() => new XdrReader(new XdrWriter().uint32(10).bytes()).array(16, (inner) => inner.uint32()), /truncated/);
    assert.throws(() => new XdrReader(new XdrWriter().uint32(2).bytes()).bool(), /boolean/);
    assert.throws(() => new XdrReader(new XdrWriter().opaque(Uint8Array.of(0xff, 0xfe)).bytes()).string(16), /UTF-8/);
    assert.throws(() => new XdrReader(new XdrWriter().string('a\0b').bytes()).string(16), /NUL/);
    const reader = new XdrReader(new XdrWriter().uint32(1).uint32(2).bytes());
    reader.uint32();
    assert.throws(() => reader.end(), /trailing/);
  });
});

describe('RPC record marking', () => {
  const limits = { recordBytesMax: 1024, fragmentsMax: 4 };

  it('reassembles a record split into fragments and across socket chunks', () => {
    const decoder = new RecordDecoder(limits);
    const first = Buffer.alloc(4 + 3);
    first.writeUInt32BE(3, 0);
    first.set([1, 2, 3], 4);
    const last = frameRecord(Uint8Array.of(4, 5));
    const stream = Buffer.concat([first, last, frameRecord(Uint8Array.of(9))]);
    const records: Buffer[] = [];
    for (let offset = 0; offset < stream.byteLength; offset += 1) records.push(...decoder.push(stream.subarray(offset, offset + 1)));
    assert.deepEqual(records.map((record) => [...record]), [[1, 2, 3, 4, 5], [9]]);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('assembles a large record that spans socket reads in a reused buffer, given back on release', () => {
    const bigLimits = { recordBytesMax: 4 * ASSEMBLED_BYTES_MIN, fragmentsMax: 4 };
    const buffers = new RecordBuffers(bigLimits.recordBytesMax, 1);
    const decoder = new RecordDecoder(bigLimits, buffers);
    const body = (fill: number) => new Uint8Array(2 * ASSEMBLED_BYTES_MIN).fill(fill);
    // Two records and the start of a third arrive in reads of 10,000 bytes.
    const stream = Buffer.concat([frameRecord(body(1)), frameRecord(body(2)), frameRecord(Uint8Array.of(7, 7))]);
    const records: Buffer[] = [];
    for (let offset = 0; offset < stream.byteLength; offset += 10_000) records.push(...decoder.push(stream.subarray(offset, offset + 10_000)));
    assert.deepEqual(records.map((record) => [record.byteLength, record[0], record.at(-1)]), [[2 * ASSEMBLED_BYTES_MIN, 1, 1], [2 * ASSEMBLED_BYTES_MIN, 2, 2], [2, 7, 7]]);
    assert.equal(decoder.bufferedBytes, 0);
    const [first, second] = records as [Buffer, Buffer];
    assert.notEqual(first.buffer, second.buffer, 'records alive at once never share a buffer');
    decoder.release(first);
    decoder.release(first);
    assert.equal(buffers.idleCount, 1, 'released once, however often asked');
    decoder.release(second);
    assert.equal(buffers.idleCount, 1, 'at most idleMax are kept');
    const [third] = decoder.push(frameRecord(body(3)).subarray(0, 8)).concat(decoder.push(frameRecord(body(3)).subarray(8)));
    assert.equal(third?.buffer, first.buffer, 'the next large record reuses the buffer given back');
    assert.equal(third?.[0], 3);
    assert.equal(first[0], 3, 'so nothing may keep a record after its release');
  });

  it('keeps small records and records in one read out of the reused buffers', () => {
    const buffers = new RecordBuffers(4 * ASSEMBLED_BYTES_MIN, 4);
    const decoder = new RecordDecoder({ recordBytesMax: 4 * ASSEMBLED_BYTES_MIN, fragmentsMax: 4 }, buffers);
    const whole = frameRecord(new Uint8Array(2 * ASSEMBLED_BYTES_MIN).fill(4));
    const [inOneRead] = decoder.push(whole);
    const framedSmall = frameRecord(Uint8Array.of(1, 2, 3));
    const [small] = decoder.push(framedSmall.subarray(0, 5)).concat(decoder.push(framedSmall.subarray(5)));
    decoder.release(inOneRead as Buffer);
    decoder.release(small as Buffer);
    assert.equal(buffers.idleCount, 0, 'neither took a reused buffer');
    assert.deepEqual([...(small as Buffer)], [1, 2, 3]);
  });

  it('refuses an oversized record as soon as its mark arrives', () => {
    const decoder = new RecordDecoder(limits);
    const mark = Buffer.alloc(4);
    mark.writeUInt32BE((0x8000_0000 | 2048) >>> 0, 0);
    assert.throws(() => decoder.push(mark), RecordError);
  });

  it('refuses a record of too many fragments (endless empty fragments)', () => {
    const decoder = new RecordDecoder(limits);
    assert.throws(() => decoder.push(Buffer.alloc(4 * 10)), /fragments/);
  });
});
