import type { S3Request } from './context.js';
import { S3Error } from './errors.js';
import { readBody } from './payload.js';

/** A request body that must fit in memory (XML documents), verified like any other, bounded. */
export async function readSmallBody(s3: S3Request, bytesMax: number): Promise<Buffer> {
  const headers = s3.headerValues;
  const contentLength = headers.get('content-length');
  const length = contentLength === undefined ? undefined : Number(contentLength);
  if (length !== undefined && length > bytesMax * 2 + 4096) throw new S3Error('MaxMessageLengthExceeded');
  // The checksums of an XML request document describe the request, not an object: not echoed.
  const body = readBody(s3.request, bodyOptions(s3, bytesMax, { echoChecksums: false }));
  const parts: Buffer[] = [];
  for await (const piece of body.pieces) parts.push(piece);
  return Buffer.concat(parts);
}

/**
 * How to read and verify a request body. Malformed digests are refused before any byte is read:
 * Content-MD5 that is not the base64 of 16 bytes is InvalidDigest, an `x-amz-checksum-*` value of
 * the wrong size is InvalidRequest (S3 API reference, PutObject; "Checking object integrity").
 * A body sent with Transfer-Encoding and no length is MissingContentLength. Verified checksums are
 * echoed in the answer's headers (PutObject, UploadPart) unless `echoChecksums` is false.
 */
export function bodyOptions(s3: S3Request, bytesMax: number, options: { echoChecksums: boolean } = { echoChecksums: true }): Parameters<typeof readBody>[1] {
  const headers = s3.headerValues;
  checkDigestHeaders(headers);
  if (headers.has('transfer-encoding') && !headers.has('content-length') && !(s3.auth.payload.kind.startsWith('streaming') && headers.has('x-amz-decoded-content-length'))) {
    throw new S3Error('MissingContentLength');
  }
  const contentLength = headers.get('content-length');
  const decoded = headers.get('x-amz-decoded-content-length');
  const checksumHeaders = new Map([...headers].filter(([name]) => name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type' && name !== 'x-amz-checksum-algorithm'));
  const trailer = headers.get('x-amz-trailer');
  const md5 = headers.get('content-md5');
  const parseLength = (text: string | undefined, name: string): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d{1,16}$/.test(text)) throw new S3Error('InvalidArgument', `${name} must be a number`, { ArgumentName: name });
    return Number(text);
  };
  return {
    mode: s3.auth.payload,
    verified: s3.verified,
    ...(contentLength === undefined ? {} : { contentLength: parseLength(contentLength, 'Content-Length') as number }),
    ...(decoded === undefined ? {} : { decodedLength: parseLength(decoded, 'x-amz-decoded-content-length') as number }),
    ...(trailer === undefined ? {} : { trailerNames: trailer.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '') }),
    checksumHeaders,
    ...(md5 === undefined ? {} : { contentMd5: md5 }),
    bytesMax,
    ...(options.echoChecksums ? { onChecksumVerified: (name: string, value: string) => s3.response.setHeader(name, value) } : {}),
  };
}

/** Digest sizes in bytes of the checksum headers S3 defines. */
const CHECKSUM_BYTES: Readonly<Record<string, number>> = { 'x-amz-checksum-crc32': 4, 'x-amz-checksum-crc32c': 4, 'x-amz-checksum-sha1': 20, 'x-amz-checksum-sha256': 32 };
const CONTENT_MD5_BYTES = 16;

/** Strict base64 of exactly `bytes` bytes (node's decoder skips junk, so re-encode and compare). */
function isBase64Of(value: string, bytes: number): boolean {
  const decoded = Buffer.from(value, 'base64');
  return decoded.length === bytes && decoded.toString('base64') === value;
}

function checkDigestHeaders(headers: ReadonlyMap<string, string>): void {
  const md5 = headers.get('content-md5');
  if (md5 !== undefined && !isBase64Of(md5.trim(), CONTENT_MD5_BYTES)) throw new S3Error('InvalidDigest', undefined, { 'Content-MD5': md5 });
  for (const [name, value] of headers) {
    const bytes = CHECKSUM_BYTES[name];
    if (bytes !== undefined && !isBase64Of(value.trim(), bytes)) throw new S3Error('InvalidRequest', `Value for ${name} header is invalid.`);
  }
}

/**
 * PutObject and UploadPart need the length up front (S3: 411 MissingContentLength), aws-chunked
 * bodies the decoded length. Not asked of other requests, whose bodies may be empty.
 */
export function requireContentLength(s3: S3Request): void {
  const headers = s3.request.headers;
  if (headers['content-length'] !== undefined) return;
  if (s3.auth.payload.kind.startsWith('streaming') && headers['x-amz-decoded-content-length'] !== undefined) return;
  throw new S3Error('MissingContentLength');
}
