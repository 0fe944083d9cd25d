import type { S3Request } from './context.js';
import { S3Error } from './errors.js';
import { readBody } from './payload.js';
import { headerValues } from './sigv4.js';

/** A request body that must fit in memory (XML documents), verified like any other, bounded. */
export async function readSmallBody(s3: S3Request, bytesMax: number): Promise<Buffer> {
  const headers = headerValues(s3.request.rawHeaders);
  const contentLength = headers.get('content-length');
  const length = contentLength === undefined ? undefined : Number(contentLength);
  if (length !== undefined && length > bytesMax * 2 + 4096) throw new S3Error('MaxMessageLengthExceeded');
  const body = readBody(s3.request, bodyOptions(s3, bytesMax));
  const parts: Buffer[] = [];
  for await (const piece of body.pieces) parts.push(piece);
  return Buffer.concat(parts);
}

export function bodyOptions(s3: S3Request, bytesMax: number): Parameters<typeof readBody>[1] {
  const headers = headerValues(s3.request.rawHeaders);
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
  };
}
