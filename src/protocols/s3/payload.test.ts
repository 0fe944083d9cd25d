import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { crc32c } from './checksums.js';
import { S3Error } from './errors.js';
import { readBody, type BodyOptions } from './payload.js';
import { deriveSigningKey } from './sigv4.js';

async function decode(wire: Buffer | Buffer[], options: BodyOptions): Promise<Buffer> {
  const pieces = Array.isArray(wire) ? wire : [wire];
  const body = readBody((async function* () { yield* pieces; })(), options);
  const out: Buffer[] = [];
  for await (const piece of body.pieces) out.push(piece);
  body.finish();
  return Buffer.concat(out);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof S3Error ? error.code : `not an S3Error: ${String(error)}`;
  }
  return 'no error';
}

// S3 API reference, "Signature Calculations for the Authorization Header: Transferring Payload in
// Multiple Chunks": 66,560 bytes of 'a' in chunks of 65,536 and 1,024, with these signatures.
const example = {
  verified: { signingKey: deriveSigningKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1', 's3'), seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9', amzDate: '20130524T000000Z', scope: '20130524/us-east-1/s3/aws4_request' },
  chunks: [
    [65536, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'],
    [1024, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497'],
    [0, 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'],
  ] as Array<[number, string]>,
};

function signedWire(chunks: Array<[number, string]>): Buffer {
  return Buffer.concat(chunks.map(([size, signature]) => Buffer.concat([Buffer.from(`${size.toString(16)};chunk-signature=${signature}\r\n`), Buffer.alloc(size, 'a'), Buffer.from('\r\n')])));
}

describe('request bodies', () => {
  it('decodes and verifies the S3 reference signed aws-chunked example, split at every awkward place', async () => {
    const wire = signedWire(example.chunks);
    const options: BodyOptions = { mode: { kind: 'streaming-signed', trailer: false }, verified: example.verified, decodedLength: 66560, bytesMax: 1 << 20 };
    assert.deepEqual(await decode(wire, options), Buffer.alloc(66560, 'a'));
    const split = [wire.subarray(0, 3), wire.subarray(3, 70), wire.subarray(70, 65_700), wire.subarray(65_700)];
    assert.equal((await decode(split, options)).length, 66560);
  });

  it('a bad chunk signature, a truncated stream and a wrong decoded length are errors', async () => {
    const options: BodyOptions = { mode: { kind: 'streaming-signed', trailer: false }, verified: example.verified, decodedLength: 66560, bytesMax: 1 << 20 };
    const bad: Array<[number, string]> = [example.chunks[0] as [number, string], [1024, '0'.repeat(64)], example.chunks[2] as [number, string]];
    assert.equal(await codeOf(decode(signedWire(bad), options)), 'SignatureDoesNotMatch');
    const wire = signedWire(example.chunks);
    assert.equal(await codeOf(decode(wire.subarray(0, 40_000), options)), 'IncompleteBody');
    assert.equal(await codeOf(decode(wire, { ...options, decodedLength: 5 })), 'IncompleteBody');
    // Refused at the chunk that exceeds the declaration, before any of its bytes are handed on.
    const handedOn: Buffer[] = [];
    const short = readBody((async function* () { yield wire; })(), { ...options, decodedLength: 5 });
    await assert.rejects(async () => { for await (const piece of short.pieces) handedOn.push(piece); }, (error: unknown) => error instanceof Error && /decoded-content-length/.test(error.message));
    assert.equal(Buffer.concat(handedOn).length, 0);
    assert.equal(await codeOf(decode(Buffer.from('zz;chunk-signature=00\r\n'), options)), 'InvalidRequest');
    assert.equal(await codeOf(decode(Buffer.alloc(10_000, 'f'), options)), 'InvalidRequest');
  });

  it('unsigned aws-chunked with CRC32, CRC32C and SHA-256 trailers is checked', async () => {
    const data = Buffer.from('hello, trailing checksums');
    const crcBytes = (value: number) => { const bytes = Buffer.alloc(4); bytes.writeUInt32BE(value >>> 0); return bytes.toString('base64'); };
    const values: Record<string, string> = {
      'x-amz-checksum-crc32': crcBytes(crc32(data)),
      'x-amz-checksum-crc32c': crcBytes(crc32c(data)),
      'x-amz-checksum-sha256': createHash('sha256').update(data).digest('base64'),
    };
    for (const [name, value] of Object.entries(values)) {
      const wire = (checksum: string) => Buffer.from(`${data.length.toString(16)}\r\n${data.toString()}\r\n0\r\n${name}:${checksum}\r\n\r\n`);
      const options: BodyOptions = { mode: { kind: 'streaming-unsigned-trailer' }, trailerNames: [name], decodedLength: data.length, bytesMax: 1 << 20 };
      assert.deepEqual(await decode(wire(value), options), data);
      assert.equal(await codeOf(decode(wire(crcBytes(1)), options)), 'BadDigest', name);
    }
    // The RFC 3720 CRC32C check value.
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  it('plain bodies: the hex SHA-256, Content-MD5 and the size limit are enforced', async () => {
    const data = Buffer.from('payload');
    const hex = createHash('sha256').update(data).digest('hex');
    assert.deepEqual(await decode(data, { mode: { kind: 'sha256', hex }, contentLength: data.length, bytesMax: 100 }), data);
    assert.equal(await codeOf(decode(Buffer.from('payloaX'), { mode: { kind: 'sha256', hex }, contentLength: 7, bytesMax: 100 })), 'XAmzContentSHA256Mismatch');
    assert.equal(await codeOf(decode(data, { mode: { kind: 'unsigned' }, contentMd5: createHash('md5').update('other').digest('base64'), bytesMax: 100 })), 'BadDigest');
    assert.equal(await codeOf(decode(data, { mode: { kind: 'unsigned' }, contentLength: 7, bytesMax: 3 })), 'EntityTooLarge');
  });

  it('fuzz: random and truncated chunked bodies always end in an S3Error or success, never a crash or hang', async () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['0', '1', 'a', 'f', ';', '=', '\r', '\n', '\r\n', 'x-amz-checksum-crc32:', 'chunk-signature=', 'zz', ' '];
    for (let round = 0; round < 500; round++) {
      let text = '';
      const length = Math.floor(random() * 60);
      for (let index = 0; index < length; index++) text += alphabet[Math.floor(random() * alphabet.length)];
      for (const mode of [{ kind: 'streaming-unsigned-trailer' as const }, { kind: 'streaming-signed' as const, trailer: false }]) {
        const code = await codeOf(decode(Buffer.from(text), { mode, verified: example.verified, trailerNames: ['x-amz-checksum-crc32'], bytesMax: 1 << 16 }));
        assert.ok(!code.startsWith('not an S3Error'), `${JSON.stringify(text)}: ${code}`);
      }
    }
  });
});
