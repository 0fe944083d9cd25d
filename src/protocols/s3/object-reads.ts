/**
 * Request parameters of GetObject and HeadObject beyond the object itself (S3 API reference,
 * GetObject): `response-*` header overrides and `partNumber`.
 */
import type { BucketRequest } from './context.js';
import { S3Error } from './errors.js';
import { PART_NUMBER_MAX } from './multipart.js';

/** Each `response-*` query parameter and the answer header it sets. */
const RESPONSE_OVERRIDES: ReadonlyArray<readonly [string, string]> = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

/**
 * The answer headers the `response-*` parameters ask for. S3 honours them on signed requests
 * (presigned URLs included) only: an anonymous request with one is InvalidRequest.
 */
export function responseOverrides(s3: BucketRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [parameter, header] of RESPONSE_OVERRIDES) {
    const value = s3.query.get(parameter);
    if (value === undefined) continue;
    if (s3.anonymous) throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
    headers[header] = value;
  }
  return headers;
}

/**
 * The bytes `partNumber` names, or undefined for the whole object (no partNumber, or part 1 of an
 * empty single-part object). A single-part object has one part, the whole object; a multipart
 * object's part is found from its recorded part sizes; a part number beyond the object's parts is
 * InvalidPartNumber (416). With a Range header it is InvalidRequest: the two select bytes in
 * different ways. An empty part reads as the whole (empty) answer.
 */
export function partRange(s3: BucketRequest, object: { size: number; partsCount: number | undefined; partSizes?: ReadonlyArray<readonly [number, number]> }): { start: number; end: number } | undefined {
  const text = s3.query.get('partNumber');
  if (text === undefined) return undefined;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > PART_NUMBER_MAX) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${PART_NUMBER_MAX}, inclusive`, { ArgumentName: 'partNumber', ArgumentValue: text });
  }
  if (s3.request.headers.range !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  const partNumber = Number(text);
  if (partNumber > (object.partsCount ?? 1)) throw new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: text, ActualPartCount: String(object.partsCount ?? 1) });
  if (object.partsCount !== undefined) {
    // Objects completed before part sizes were recorded have only the count.
    if (object.partSizes === undefined) throw new S3Error('NotImplemented', 'The part boundaries of this object were not recorded; use a Range');
    let start = 0;
    let before = partNumber - 1;
    for (const [bytes, count] of object.partSizes) {
      if (before < count) {
        start += before * bytes;
        return bytes === 0 ? undefined : { start, end: start + bytes - 1 };
      }
      start += count * bytes;
      before -= count;
    }
    throw new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: text, ActualPartCount: String(object.partsCount) });
  }
  return object.size === 0 ? undefined : { start: 0, end: object.size - 1 };
}
