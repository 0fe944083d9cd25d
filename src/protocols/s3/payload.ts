/**
 * Request bodies as verified streams of bytes. Every reader yields data as it arrives and throws an
 * S3Error at the first proof of a bad body (a chunk signature, a payload hash, a checksum, a
 * length); callers write what they get into a hidden staging file and publish it only when the
 * reader finished without an error, so a bad body never replaces stored data.
 *
 * aws-chunked (S3 API reference, "Signature Calculations for the Authorization Header:
 * Transferring Payload in Multiple Chunks" and "... Including Trailing Headers"):
 *   signed:   <hex size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n[trailers]\r\n
 *   unsigned: <hex size>\r\n<data>\r\n ... 0\r\n<name>:<value>\r\n\r\n
 */
import { createHash } from 'node:crypto';
import { createChecksum, checksumAlgorithmOfHeader, type Checksum } from './checksums.js';
import { S3Error } from './errors.js';
import { inThread, type Md5Offload, type Md5Session, type SharedBytes } from './md5-offload.js';
import { chunkStringToSign, constantTimeEqualHex, sha256Hex, signatureOf, trailerStringToSign, type PayloadMode, type VerifiedSignature } from './sigv4.js';

/** A chunk-size line or a trailer line longer than this is malformed (they are < 100 bytes in practice). */
export const CHUNK_LINE_BYTES_MAX = 4_096;
/** Trailer lines after the last chunk. */
const TRAILER_LINES_MAX = 16;

export interface BodyOptions {
  readonly mode: PayloadMode;
  /** Required for the streaming-signed mode. */
  readonly verified?: VerifiedSignature;
  /** The wire length (Content-Length), when the client sent one. */
  readonly contentLength?: number;
  /** x-amz-decoded-content-length, for aws-chunked bodies. */
  readonly decodedLength?: number;
  /** The names of the trailers the client announced (x-amz-trailer). */
  readonly trailerNames?: readonly string[];
  /** Checksum headers sent with the request itself: `x-amz-checksum-<algo>` -> base64. */
  readonly checksumHeaders?: ReadonlyMap<string, string>;
  /** Content-MD5, base64. */
  readonly contentMd5?: string;
  readonly bytesMax: number;
  /** Told each `x-amz-checksum-*` (header or trailer) once it matched the data, to echo it. */
  readonly onChecksumVerified?: (name: string, valueBase64: string) => void;
  /** Where the MD5 of large bodies is computed (off the event loop); absent: on it. */
  readonly md5Offload?: Md5Offload;
}

/** For a body whose MD5 is computed at its end, from the whole buffer. */
const NO_MD5: Md5Session = {
  update: () => undefined,
  digest: () => Promise.reject(new Error('assertion failed: no MD5 was kept for this body')),
};

function inThreadMd5(data: Uint8Array): Promise<Buffer> {
  return Promise.resolve(createHash('md5').update(data).digest());
}

/** Bodies at least this long (declared) have their MD5 computed by `md5Offload`. */
export const MD5_OFFLOAD_MIN_BYTES = 256 * 1024;

function md5SessionFor(options: BodyOptions): Md5Session {
  const declared = options.decodedLength ?? options.contentLength;
  return options.md5Offload !== undefined && declared !== undefined && declared >= MD5_OFFLOAD_MIN_BYTES ? options.md5Offload.session() : inThread();
}

/** Reads exact byte counts and lines out of a stream of buffers without copying more than needed. */
class ByteReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private readonly iterator: AsyncIterator<Buffer>;
  private done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done === true) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
    if (chunk.length > 0) {
      this.buffered.push(chunk);
      this.length += chunk.length;
    }
    return true;
  }

  /** A line ending in CRLF, without it; IncompleteBody at the end, malformed when too long. */
  async line(): Promise<string> {
    for (;;) {
      const joined = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered);
      this.buffered = joined.length === 0 ? [] : [joined];
      const end = joined.indexOf('\r\n');
      if (end !== -1) {
        if (end > CHUNK_LINE_BYTES_MAX) break;
        this.take(end + 2);
        return joined.subarray(0, end).toString('latin1');
      }
      if (joined.length > CHUNK_LINE_BYTES_MAX) break;
      if (!(await this.fill())) throw new S3Error('IncompleteBody', 'The request body ended inside an aws-chunked chunk header');
    }
    throw new S3Error('InvalidRequest', 'an aws-chunked header or trailer line is too long');
  }

  /** Up to `max` bytes (at least 1), or undefined at the end of the stream. */
  async some(max: number): Promise<Buffer | undefined> {
    while (this.length === 0) if (!(await this.fill())) return undefined;
    const first = this.buffered[0] as Buffer;
    const piece = first.subarray(0, Math.min(max, first.length));
    this.take(piece.length);
    return piece;
  }

  private take(count: number): void {
    let remaining = count;
    while (remaining > 0) {
      const first = this.buffered[0] as Buffer;
      if (first.length <= remaining) {
        this.buffered.shift();
        remaining -= first.length;
      } else {
        this.buffered[0] = first.subarray(remaining);
        remaining = 0;
      }
    }
    this.length -= count;
  }

  async atEnd(): Promise<boolean> {
    while (this.length === 0) if (!(await this.fill())) return true;
    return false;
  }
}

/** Checks kept while data flows: MD5 (for the ETag and Content-MD5) and any requested checksums. */
class BodyDigests {
  readonly checksums = new Map<string, Checksum>();
  /** Checksums that matched the data: header name -> base64. */
  readonly verified = new Map<string, string>();
  bytes = 0;

  constructor(
    names: Iterable<string>,
    readonly md5: Md5Session,
    private readonly onVerified?: (name: string, valueBase64: string) => void,
  ) {
    for (const name of names) {
      const algorithm = checksumAlgorithmOfHeader(name);
      if (algorithm === undefined) throw new S3Error('InvalidRequest', `unsupported checksum ${name}`);
      this.checksums.set(name.toLowerCase(), createChecksum(algorithm));
    }
  }

  update(data: Buffer, bytesMax: number): void {
    this.bytes += data.length;
    if (this.bytes > bytesMax) throw new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: String(bytesMax) });
    this.md5.update(data);
    for (const checksum of this.checksums.values()) checksum.update(data);
  }

  check(name: string, expectedBase64: string): void {
    const checksum = this.checksums.get(name.toLowerCase());
    if (checksum === undefined) throw new S3Error('InvalidRequest', `the trailer ${name} was not announced in x-amz-trailer`);
    if (checksum.digestBase64() !== expectedBase64.trim()) throw new S3Error('BadDigest', `The ${name.slice('x-amz-checksum-'.length).toUpperCase()} you specified did not match the calculated checksum.`);
    this.verified.set(name.toLowerCase(), expectedBase64.trim());
    this.onVerified?.(name.toLowerCase(), expectedBase64.trim());
  }
}

export interface BodyResult {
  readonly bytes: number;
  readonly md5Hex: string;
  /** The `x-amz-checksum-*` values (header or trailer) that matched the body: name -> base64. */
  readonly checksums: ReadonlyMap<string, string>;
}

/**
 * The decoded body as pieces of at most `pieceBytesMax`; `finish()` (after the generator ends)
 * answers the byte count and MD5. Throws S3Error for every malformed or unverifiable body.
 */
export function readBody(source: AsyncIterable<Buffer>, options: BodyOptions, pieceBytesMax = 1024 * 1024): { pieces: AsyncGenerator<Buffer>; finish: () => BodyResult } {
  const checksumNames = new Set<string>([...(options.checksumHeaders?.keys() ?? []), ...(options.trailerNames ?? []).filter((name) => name.startsWith('x-amz-checksum-'))]);
  const digests = new BodyDigests(checksumNames, md5SessionFor(options), options.onChecksumVerified);
  let finished = false;
  const chunked = options.mode.kind === 'streaming-signed' || options.mode.kind === 'streaming-unsigned-trailer';
  const pieces = chunked ? readChunked(new ByteReader(source), options, digests, pieceBytesMax) : readPlain(new ByteReader(source), options, digests, pieceBytesMax);
  async function* checked(): AsyncGenerator<Buffer> {
    yield* pieces;
    md5Hex = await finishDigests(options, digests);
    finished = true;
  }
  let md5Hex = '';
  return {
    pieces: checked(),
    finish: () => {
      if (!finished) throw new Error('assertion failed: the body was not read to its end');
      return { bytes: digests.bytes, md5Hex, checksums: digests.verified };
    },
  };
}

/** The checks at the end of every body: checksum headers, Content-MD5; answers the MD5 (hex). */
async function finishDigests(options: BodyOptions, digests: BodyDigests, md5Of?: () => Promise<Buffer>): Promise<string> {
  for (const [name, value] of options.checksumHeaders ?? []) digests.check(name, value);
  const md5 = await (md5Of?.() ?? digests.md5.digest());
  if (options.contentMd5 !== undefined && md5.toString('base64') !== options.contentMd5.trim()) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  return md5.toString('hex');
}

/** What readWholeBody reads from: a request (IncomingMessage), events only. */
export interface BodySource {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  readonly readableEnded: boolean;
}

/**
 * A plain body (UNSIGNED-PAYLOAD or a signed SHA-256; not aws-chunked) with a Content-Length,
 * read whole into one buffer: the same checks as readBody (length, size limit, payload hash,
 * checksums, Content-MD5, each digest computed once as the data arrives), without an async step
 * per piece. A body that arrives in one piece is answered without a copy; otherwise the pieces
 * are copied once into a buffer of the declared length, allocated at the second piece. On the
 * first failed check the source is paused and left unread (the caller answers and closes).
 */
export function readWholeBody(source: BodySource, options: BodyOptions & { readonly contentLength: number }): Promise<{ data: Buffer; result: BodyResult }> {
  if (options.mode.kind !== 'unsigned' && options.mode.kind !== 'sha256') throw new Error('assertion failed: readWholeBody reads plain bodies only');
  const expectedBytes = options.contentLength;
  if (expectedBytes > options.bytesMax) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(expectedBytes), MaxSizeAllowed: String(options.bytesMax) });
  const checksumNames = new Set<string>([...(options.checksumHeaders?.keys() ?? []), ...(options.trailerNames ?? []).filter((name) => name.startsWith('x-amz-checksum-'))]);
  // A large body goes into shared memory that the MD5 worker hashes in place once it is complete.
  const offload = options.md5Offload !== undefined && expectedBytes >= MD5_OFFLOAD_MIN_BYTES ? options.md5Offload : undefined;
  const digests = new BodyDigests(checksumNames, offload === undefined ? inThread() : NO_MD5, options.onChecksumVerified);
  const sha256 = options.mode.kind === 'sha256' ? createHash('sha256') : undefined;
  const expectedSha256 = options.mode.kind === 'sha256' ? options.mode.hex : '';
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let whole: Buffer | undefined;
    const stop = (): void => {
      source.removeListener('data', onData);
      source.removeListener('end', onEnd);
      source.removeListener('error', onError);
      source.removeListener('close', onClose);
    };
    const fail = (error: unknown): void => {
      stop();
      source.pause();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      try {
        // More than declared is refused here, not at the end (node frames a body by its length,
        // so this is a guard, not a case clients reach).
        if (chunk.length > expectedBytes - digests.bytes) throw new S3Error('IncompleteBody', 'The body is longer than its Content-Length');
        const at = digests.bytes;
        digests.update(chunk, options.bytesMax);
        sha256?.update(chunk);
        if (at === 0) first = chunk;
        else {
          if (whole === undefined) {
            whole = offload === undefined ? Buffer.allocUnsafeSlow(expectedBytes) : offload.sharedBuffer(expectedBytes);
            (first as Buffer).copy(whole, 0);
          }
          chunk.copy(whole, at);
        }
      } catch (error) {
        fail(error);
      }
    };
    const onEnd = (): void => {
      stop();
      void (async () => {
        if (digests.bytes !== expectedBytes) throw new S3Error('IncompleteBody');
        if (sha256 !== undefined && !constantTimeEqualHex(sha256.digest('hex'), expectedSha256)) {
          throw new S3Error('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: expectedSha256 });
        }
        const data = whole ?? first ?? Buffer.alloc(0);
        const md5Hex = await finishDigests(options, digests, offload === undefined ? undefined : () => (whole === undefined ? inThreadMd5(data) : offload.digestOf(whole as SharedBytes)));
        return { data, result: { bytes: digests.bytes, md5Hex, checksums: digests.verified } };
      })().then(resolve, reject);
    };
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => {
      if (!source.readableEnded) fail(new S3Error('IncompleteBody', 'The connection closed before the body ended'));
    };
    if (source.readableEnded) return void onEnd();
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError);
    source.on('close', onClose);
  });
}

async function* readPlain(reader: ByteReader, options: BodyOptions, digests: BodyDigests, pieceBytesMax: number): AsyncGenerator<Buffer> {
  const sha256 = options.mode.kind === 'sha256' ? createHash('sha256') : undefined;
  const expected = options.contentLength ?? 0;
  if (expected > options.bytesMax) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(expected), MaxSizeAllowed: String(options.bytesMax) });
  for (;;) {
    const piece = await reader.some(pieceBytesMax);
    if (piece === undefined) break;
    digests.update(piece, options.bytesMax);
    sha256?.update(piece);
    yield piece;
  }
  if (options.contentLength !== undefined && digests.bytes !== options.contentLength) throw new S3Error('IncompleteBody');
  if (sha256 !== undefined && options.mode.kind === 'sha256' && !constantTimeEqualHex(sha256.digest('hex'), options.mode.hex)) {
    throw new S3Error('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: options.mode.hex });
  }
}

const SIGNED_CHUNK_LINE = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})$/;
const UNSIGNED_CHUNK_LINE = /^([0-9a-fA-F]{1,16})(;.*)?$/;

async function* readChunked(reader: ByteReader, options: BodyOptions, digests: BodyDigests, pieceBytesMax: number): AsyncGenerator<Buffer> {
  const signed = options.mode.kind === 'streaming-signed';
  const verified = options.verified;
  if (signed && verified === undefined) throw new Error('assertion failed: a signed stream needs the verified seed signature');
  if (options.decodedLength !== undefined && options.decodedLength > options.bytesMax) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(options.decodedLength), MaxSizeAllowed: String(options.bytesMax) });
  let previousSignature = verified?.seedSignature ?? '';
  for (;;) {
    const line = await reader.line();
    const match = (signed ? SIGNED_CHUNK_LINE : UNSIGNED_CHUNK_LINE).exec(line);
    if (match === null) throw new S3Error('InvalidRequest', signed ? 'a chunk header is not <hex size>;chunk-signature=<signature>' : 'a chunk header is not a hex size');
    const size = Number.parseInt(match[1] as string, 16);
    if (size > options.bytesMax - digests.bytes) throw new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: String(options.bytesMax) });
    // More than the declared decoded length is refused at the chunk that exceeds it, not at the
    // end: a receiver may size its buffers by the declaration.
    if (options.decodedLength !== undefined && size > options.decodedLength - digests.bytes) {
      throw new S3Error('IncompleteBody', `x-amz-decoded-content-length says ${options.decodedLength} bytes; the chunks hold more`);
    }
    const chunkHash = signed ? createHash('sha256') : undefined;
    let remaining = size;
    while (remaining > 0) {
      const piece = await reader.some(Math.min(remaining, pieceBytesMax));
      if (piece === undefined) throw new S3Error('IncompleteBody', 'The request body ended inside an aws-chunked chunk');
      remaining -= piece.length;
      digests.update(piece, options.bytesMax);
      chunkHash?.update(piece);
      yield piece;
    }
    if (signed && verified !== undefined && chunkHash !== undefined) {
      const expected = signatureOf(verified.signingKey, chunkStringToSign(verified, previousSignature, chunkHash.digest('hex')));
      if (!constantTimeEqualHex(expected, match[2] as string)) throw new S3Error('SignatureDoesNotMatch', 'The chunk signature does not match.');
      previousSignature = expected;
    }
    if (size === 0) break;
    if ((await reader.line()) !== '') throw new S3Error('InvalidRequest', 'an aws-chunked chunk is not followed by CRLF');
  }
  await readTrailers(reader, options, digests, previousSignature);
  if (options.decodedLength !== undefined && digests.bytes !== options.decodedLength) throw new S3Error('IncompleteBody', `x-amz-decoded-content-length says ${options.decodedLength} bytes; the chunks held ${digests.bytes}`);
  if (!(await reader.atEnd())) throw new S3Error('InvalidRequest', 'data after the end of an aws-chunked body');
}

async function readTrailers(reader: ByteReader, options: BodyOptions, digests: BodyDigests, previousSignature: string): Promise<void> {
  const announced = new Set(options.trailerNames ?? []);
  const trailers: Array<[string, string]> = [];
  let trailerSignature: string | undefined;
  for (let count = 0; ; count++) {
    // A body without trailers may simply end after the last chunk's CRLF (the SDK sends `0\r\n\r\n`).
    if (count === 0 && announced.size === 0 && (await reader.atEnd())) return;
    const line = await reader.line();
    if (line === '') break;
    if (count >= TRAILER_LINES_MAX) throw new S3Error('InvalidRequest', 'too many trailer lines');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new S3Error('InvalidRequest', 'a trailer line is not <name>:<value>');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') trailerSignature = value;
    else {
      if (!announced.has(name)) throw new S3Error('InvalidRequest', `the trailer ${name} was not announced in x-amz-trailer`);
      trailers.push([name, value]);
    }
  }
  const verified = options.verified;
  if (options.mode.kind === 'streaming-signed' && options.mode.trailer && verified !== undefined) {
    if (trailerSignature === undefined) throw new S3Error('SignatureDoesNotMatch', 'the trailer signature is missing');
    const canonical = trailers.map(([name, value]) => `${name}:${value}\n`).join('');
    const expected = signatureOf(verified.signingKey, trailerStringToSign(verified, previousSignature, sha256Hex(canonical)));
    if (!constantTimeEqualHex(expected, trailerSignature)) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match.');
  }
  for (const name of announced) if (!trailers.some(([found]) => found === name)) throw new S3Error('InvalidRequest', `the announced trailer ${name} is missing`);
  for (const [name, value] of trailers) if (name.startsWith('x-amz-checksum-')) digests.check(name, value);
}
