import type { ServerResponse } from 'node:http';
import type { S3Request } from './context.js';
import { element, S3_NAMESPACE, XML_DECLARATION } from './xml.js';

export function sendXml(response: ServerResponse, status: number, rootName: string, inner: string): void {
  const body = `${XML_DECLARATION}<${rootName} xmlns="${S3_NAMESPACE}">${inner}</${rootName}>`;
  response.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

export function sendEmpty(response: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  response.writeHead(status, { ...headers, 'content-length': headers['content-length'] ?? 0 });
  response.end();
}

/** S3's timestamp form in XML bodies: ISO 8601 with milliseconds. */
export function isoTime(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

/** RFC 7231 HTTP-date, for Last-Modified. */
export function httpDate(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toUTCString();
}

/**
 * `<ID>` and `<DisplayName>` of an Owner, Initiator or Grantee: one canonical ID per user in every
 * answer (ListBuckets, listings, ACLs), the uid. The display name is known for the caller only;
 * other owners show their uid.
 */
export function ownerElements(s3: S3Request, uid: number): string[] {
  const name = uid === s3.ctx.principal.uid && !s3.anonymous ? s3.ownerName : String(uid);
  return [element('ID', String(uid)), element('DisplayName', name)];
}
