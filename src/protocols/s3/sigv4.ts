/**
 * AWS Signature Version 4 verification for S3 (AWS General Reference, "Signature Version 4
 * signing process"; S3 API reference, "Authenticating Requests (AWS Signature Version 4)"):
 * the Authorization header form and the presigned-URL (query) form. The server recomputes the
 * signature from the request as received, with the secret of the access key named in the
 * credential scope, and compares in constant time. Payload hashes are checked by the body readers
 * (payload.ts, aws-chunked.ts), which get the seed signature and signing key from here.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from './errors.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** S3: requests more than 15 minutes from the server's clock are refused (RequestTimeTooSkewed). */
export const CLOCK_SKEW_MAX_MS = 15 * 60_000;
/** Presigned URLs live at most 7 days (X-Amz-Expires ≤ 604800). */
export const PRESIGNED_EXPIRES_MAX_SECONDS = 604_800;
const SIGNING_KEYS_CACHED_MAX = 1_024;

export type PayloadMode =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'sha256'; readonly hex: string }
  | { readonly kind: 'streaming-signed'; readonly trailer: boolean }
  | { readonly kind: 'streaming-unsigned-trailer' };

/** What the header or query of a request says, before any secret is known. */
export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** yyyymmdd/region/service/aws4_request */
  readonly scope: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly presigned: boolean;
  readonly expiresSeconds?: number;
  readonly payload: PayloadMode;
}

/** The parts of an HTTP request that SigV4 covers. `rawHeaders` as node gives them (name, value, ...). */
export interface SignableRequest {
  readonly method: string;
  /** The request target as received: path and query, still percent-encoded. */
  readonly url: string;
  readonly rawHeaders: readonly string[];
  /** `headerValues(rawHeaders)`, when the caller has it already (computed once per request). */
  readonly headers?: ReadonlyMap<string, string>;
}

const valuesOf = (request: SignableRequest): ReadonlyMap<string, string> => request.headers ?? headerValues(request.rawHeaders);

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Uint8Array | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes, upper-case hex. */
export function uriEncode(text: string, keepSlash: boolean): string {
  // Most keys and query values need no escaping: answered as they are, without a byte walk.
  if ((keepSlash ? UNRESERVED_OR_SLASH : UNRESERVED).test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(char) || (keepSlash && char === '/')) out += char;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_OR_SLASH = /^[A-Za-z0-9\-._~/]*$/;

/** Decodes %XX sequences; a malformed escape is kept as is (it was signed as is). */
export function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function splitTarget(url: string): { path: string; query: string } {
  const mark = url.indexOf('?');
  return mark === -1 ? { path: url, query: '' } : { path: url.slice(0, mark), query: url.slice(mark + 1) };
}

/** Query parameters, decoded, in order of appearance; `+` is a literal plus (S3 signs it so). */
export function parseQuery(query: string): Array<[string, string]> {
  if (query === '') return [];
  return query.split('&').filter((part) => part !== '').map((part) => {
    const equals = part.indexOf('=');
    return equals === -1 ? [percentDecode(part), ''] : [percentDecode(part.slice(0, equals)), percentDecode(part.slice(equals + 1))];
  });
}

export function canonicalQuery(parameters: ReadonlyArray<readonly [string, string]>, exclude?: string): string {
  return parameters
    .filter(([name]) => name !== exclude)
    .map(([name, value]) => [uriEncode(name, false), uriEncode(value, false)] as const)
    .sort((left, right) => (left[0] < right[0] ? -1 : left[0] > right[0] ? 1 : left[1] < right[1] ? -1 : left[1] > right[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** Header values by lower-case name, several occurrences joined with `,` (SigV4 canonical form). */
export function headerValues(rawHeaders: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] as string).toLowerCase();
    const trimmed = (rawHeaders[index + 1] as string).trim();
    // Sequential spaces become one space; most values have none, and skip the replace.
    const value = NOT_CANONICAL_SPACE.test(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
    const earlier = values.get(name);
    values.set(name, earlier === undefined ? value : `${earlier},${value}`);
  }
  return values;
}

/** Whitespace that `/\s+/g -> ' '` would change: a run of two, or any whitespace but a space. */
const NOT_CANONICAL_SPACE = /\s\s|[^\S ]/;

export function canonicalRequest(request: SignableRequest, signedHeaders: readonly string[], payloadHash: string, options: { presigned: boolean }): string {
  const { path, query } = splitTarget(request.url);
  // S3 does not normalise the path: each segment is encoded once, as the client encoded it.
  const canonicalUri = uriEncode(percentDecode(path), true);
  const headers = valuesOf(request);
  const canonicalHeaders = signedHeaders.map((name) => `${name}:${headers.get(name) ?? ''}\n`).join('');
  return [
    request.method,
    canonicalUri === '' ? '/' : canonicalUri,
    canonicalQuery(parseQuery(query), options.presigned ? 'X-Amz-Signature' : undefined),
    canonicalHeaders,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

/**
 * Signing keys depend on the secret, the day, the region and the service: cached per access key,
 * day, region and service, bounded. An entry is used only for the very secret it was derived from
 * (both sides of that comparison are the server's own values), so a key whose secret changed gets
 * a fresh derivation, and no secret or digest of one is part of a map key.
 */
export class SigningKeyCache {
  private readonly keys = new Map<string, { readonly secret: string; readonly signingKey: Buffer }>();

  constructor(private readonly entriesMax = SIGNING_KEYS_CACHED_MAX) {}

  get(scope: { accessKeyId: string; secret: string; date: string; region: string; service: string }): Buffer {
    const { accessKeyId, secret, date, region, service } = scope;
    const cacheKey = `${accessKeyId}/${date}/${region}/${service}`;
    const cached = this.keys.get(cacheKey);
    if (cached !== undefined && cached.secret === secret) return cached.signingKey;
    const signingKey = deriveSigningKey(secret, date, region, service);
    if (cached !== undefined) this.keys.delete(cacheKey);
    else if (this.keys.size >= this.entriesMax) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(cacheKey, { secret, signingKey });
    return signingKey;
  }
}

export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

export function signatureOf(signingKey: Uint8Array, text: string): string {
  return createHmac('sha256', signingKey).update(text, 'utf8').digest('hex');
}

export function constantTimeEqualHex(left: string, right: string): boolean {
  const a = Buffer.from(left, 'utf8');
  const b = Buffer.from(right, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export function parseAmzDate(text: string): number | undefined {
  const match = AMZ_DATE.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? undefined : ms;
}

export function parsePayloadMode(value: string | undefined, presigned: boolean): PayloadMode {
  if (value === undefined) {
    if (presigned) return { kind: 'unsigned' };
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (value === UNSIGNED_PAYLOAD) return { kind: 'unsigned' };
  if (value === STREAMING_SIGNED) return { kind: 'streaming-signed', trailer: false };
  if (value === STREAMING_SIGNED_TRAILER) return { kind: 'streaming-signed', trailer: true };
  if (value === STREAMING_UNSIGNED_TRAILER) return { kind: 'streaming-unsigned-trailer' };
  if (/^[0-9a-f]{64}$/.test(value)) return { kind: 'sha256', hex: value };
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value, or a hex SHA-256', { ArgumentName: 'x-amz-content-sha256' });
}

function parseCredential(text: string, malformed: (why: string) => S3Error): { accessKeyId: string; scope: string; date: string; region: string; service: string } {
  const parts = text.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') throw malformed('the Credential must be <access key>/<date>/<region>/<service>/aws4_request');
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (!/^\d{8}$/.test(date)) throw malformed('the Credential date must be yyyymmdd');
  if (service !== 's3') throw malformed(`the Credential service must be s3, not ${service}`);
  return { accessKeyId, scope: parts.slice(1).join('/'), date, region, service };
}

/**
 * Reads the authentication of a request: undefined for an anonymous one. SigV2 and unknown
 * schemes are refused with a clear error rather than treated as anonymous.
 */
export function parseAuthorization(request: SignableRequest): ParsedAuthorization | undefined {
  const headers = valuesOf(request);
  const header = headers.get('authorization');
  const query = new Map(parseQuery(splitTarget(request.url).query));
  if (header !== undefined) {
    if (query.has('X-Amz-Signature') || query.has('X-Amz-Credential')) throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified');
    if (header.startsWith('AWS ')) throw new S3Error('InvalidRequest', 'Signature Version 2 is not supported; sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256)');
    if (!header.startsWith(`${ALGORITHM} `)) throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; the only supported algorithm is AWS4-HMAC-SHA256');
    const malformed = (why: string) => new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${why}`);
    const fields = new Map<string, string>();
    for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
      const equals = part.indexOf('=');
      if (equals !== -1) fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
    }
    const credential = fields.get('Credential');
    const signedHeaders = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    if (credential === undefined || signedHeaders === undefined || signature === undefined) throw malformed('it needs Credential, SignedHeaders and Signature');
    const amzDate = headers.get('x-amz-date') ?? '';
    if (parseAmzDate(amzDate) === undefined) throw new S3Error('AccessDenied', 'AWS authentication requires a valid x-amz-date header (yyyymmddThhmmssZ)');
    const scope = parseCredential(credential, malformed);
    if (!amzDate.startsWith(scope.date)) throw malformed(`the Credential date ${scope.date} is not the day of x-amz-date`);
    return {
      ...scope,
      amzDate,
      signedHeaders: signedHeaders.split(';'),
      signature,
      presigned: false,
      payload: parsePayloadMode(headers.get('x-amz-content-sha256'), false),
    };
  }
  if (query.has('AWSAccessKeyId') || (query.has('Signature') && !query.has('X-Amz-Signature'))) {
    throw new S3Error('InvalidRequest', 'Signature Version 2 is not supported; sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256)');
  }
  if (!query.has('X-Amz-Algorithm') && !query.has('X-Amz-Signature')) return undefined;
  const malformed = (why: string) => new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${why}`);
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const credential = query.get('X-Amz-Credential');
  const amzDate = query.get('X-Amz-Date') ?? '';
  const expires = query.get('X-Amz-Expires');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined || expires === undefined) {
    throw new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  if (parseAmzDate(amzDate) === undefined) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (!/^\d{1,7}$/.test(expires)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds > PRESIGNED_EXPIRES_MAX_SECONDS) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
  const scope = parseCredential(credential, malformed);
  const payloadHeader = headers.get('x-amz-content-sha256');
  return {
    ...scope,
    amzDate,
    signedHeaders: signedHeaders.split(';'),
    signature,
    presigned: true,
    expiresSeconds,
    payload: parsePayloadMode(payloadHeader ?? UNSIGNED_PAYLOAD, true),
  };
}

/** The result of a verified request: what the body readers need to check chunk signatures. */
export interface VerifiedSignature {
  readonly signingKey: Buffer;
  readonly seedSignature: string;
  readonly amzDate: string;
  readonly scope: string;
}

/**
 * Checks time and signature of a parsed request with the access key's secret. Throws
 * RequestTimeTooSkewed, AccessDenied (expired presigned URL) or SignatureDoesNotMatch.
 */
export function verifySignature(options: { request: SignableRequest; auth: ParsedAuthorization; secret: string; nowMs: number; keys: SigningKeyCache }): VerifiedSignature {
  const { request, auth, nowMs } = options;
  const signedAtMs = parseAmzDate(auth.amzDate) as number;
  if (auth.presigned) {
    if (signedAtMs - nowMs > CLOCK_SKEW_MAX_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (nowMs > signedAtMs + (auth.expiresSeconds ?? 0) * 1000) throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': String(auth.expiresSeconds), Expires: new Date(signedAtMs + (auth.expiresSeconds ?? 0) * 1000).toISOString() });
  } else if (Math.abs(nowMs - signedAtMs) > CLOCK_SKEW_MAX_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: auth.amzDate, ServerTime: new Date(nowMs).toISOString(), MaxAllowedSkewMilliseconds: String(CLOCK_SKEW_MAX_MS) });
  }
  if (!auth.signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'The host header must be signed');
  for (const name of auth.signedHeaders) {
    if (!/^[a-z0-9-]+$/.test(name)) throw new S3Error('AuthorizationHeaderMalformed', `bad signed header name ${name}`);
  }
  const headers = valuesOf(request);
  const payloadHash = auth.presigned ? (headers.get('x-amz-content-sha256') ?? UNSIGNED_PAYLOAD) : (headers.get('x-amz-content-sha256') as string);
  const canonical = canonicalRequest(request.headers === undefined ? { ...request, headers } : request, auth.signedHeaders, payloadHash, { presigned: auth.presigned });
  const toSign = stringToSign(auth.amzDate, auth.scope, canonical);
  const signingKey = options.keys.get({ accessKeyId: auth.accessKeyId, secret: options.secret, date: auth.date, region: auth.region, service: auth.service });
  const expected = signatureOf(signingKey, toSign);
  if (!constantTimeEqualHex(expected, auth.signature.toLowerCase())) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: auth.accessKeyId, StringToSign: toSign, CanonicalRequest: canonical });
  }
  return { signingKey, seedSignature: expected, amzDate: auth.amzDate, scope: auth.scope };
}

/** The string to sign of one aws-chunked chunk (S3 API reference, "Signature calculations for the Authorization header: Transferring payload in multiple chunks"). */
export function chunkStringToSign(verified: Pick<VerifiedSignature, 'amzDate' | 'scope'>, previousSignature: string, chunkSha256Hex: string): string {
  return `AWS4-HMAC-SHA256-PAYLOAD\n${verified.amzDate}\n${verified.scope}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
}

export function trailerStringToSign(verified: Pick<VerifiedSignature, 'amzDate' | 'scope'>, previousSignature: string, trailerSha256Hex: string): string {
  return `AWS4-HMAC-SHA256-TRAILER\n${verified.amzDate}\n${verified.scope}\n${previousSignature}\n${trailerSha256Hex}`;
}
