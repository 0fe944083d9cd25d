/**
 * ACLs (S3 API reference: GetBucketAcl, GetObjectAcl, PutBucketAcl, PutObjectAcl, and the
 * `x-amz-acl` / `x-amz-grant-*` headers). Permissions here are core's ACLs and modes, not S3
 * grants, so buckets behave as S3 buckets with Object Ownership "bucket owner enforced" (the S3
 * default since 2023): reads answer the owner (the uid owning the directory or file, the same ID
 * every listing gives) with FULL_CONTROL; setting exactly that is accepted and changes nothing;
 * any other grant is refused (AccessControlListNotSupported), never silently dropped. Core's own
 * ACL entries are not translated into grants.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Attributes } from '../../core/file-system.js';
import { bucketRootAttributes } from './buckets.js';
import type { BucketRequest, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { findObject } from './object-operations.js';
import { ownerElements, sendEmpty, sendXml } from './respond.js';
import { readSmallBody } from './small-body.js';
import { childText, element, parseXml, type XmlElement } from './xml.js';

const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';
/** Canned ACLs that grant the owner FULL_CONTROL and nothing else. */
const OWNER_ONLY_CANNED = new Set(['private', 'bucket-owner-full-control']);
const ACL_BODY_BYTES_MAX = 64 * 1024;
const NOT_SUPPORTED = 'This server does not use S3 ACLs (as a bucket with Object Ownership "bucket owner enforced"): permissions are the file system\'s; only the owner\'s FULL_CONTROL can be set';

function ownerFullControl(s3: BucketRequest, attributes: Attributes): string {
  const owner = ownerElements(s3, attributes.uid);
  const grantee = `<Grantee xmlns:xsi="${XSI_NAMESPACE}" xsi:type="CanonicalUser">${owner.join('')}</Grantee>`;
  return element('Owner', owner) + element('AccessControlList', [element('Grant', [grantee, element('Permission', 'FULL_CONTROL')])]);
}

/**
 * `x-amz-acl` and `x-amz-grant-*` on PutObject, CopyObject, CreateMultipartUpload (and, with
 * `code` InvalidBucketAclWithObjectOwnership, CreateBucket): owner-only canned ACLs pass.
 */
export function checkAclHeaders(headers: IncomingHttpHeaders, code: 'AccessControlListNotSupported' | 'InvalidBucketAclWithObjectOwnership' = 'AccessControlListNotSupported'): void {
  const canned = headers['x-amz-acl'];
  const grants = Object.keys(headers).some((name) => name.startsWith('x-amz-grant-'));
  if (grants || (canned !== undefined && !OWNER_ONLY_CANNED.has(String(canned)))) throw new S3Error(code, NOT_SUPPORTED);
}

/** Needs the caller to see the bucket's directory (core getattr). */
export async function getBucketAcl(services: S3Services, s3: BucketRequest): Promise<void> {
  const attributes = await bucketRootAttributes(services.fs, s3.ctx, s3.bucket);
  sendXml(s3.response, 200, 'AccessControlPolicy', ownerFullControl(s3, attributes));
}

/** Needs the caller to reach the object (core lookup along its path); NoSuchKey otherwise. */
export async function getObjectAcl(services: S3Services, s3: BucketRequest): Promise<void> {
  const found = await findObject(services, s3);
  sendXml(s3.response, 200, 'AccessControlPolicy', ownerFullControl(s3, found.attributes));
}

/**
 * PutBucketAcl and PutObjectAcl: accepted, changing nothing, when they grant the owner
 * FULL_CONTROL only (an owner-only canned ACL, or a body with that one grant); only the owner of
 * the directory or file (or the system) may say so.
 */
export async function putAcl(services: S3Services, s3: BucketRequest): Promise<void> {
  const attributes = s3.key === undefined ? await bucketRootAttributes(services.fs, s3.ctx, s3.bucket) : (await findObject(services, s3)).attributes;
  if (s3.anonymous || (s3.ctx.principal.superuser !== true && attributes.uid !== s3.ctx.principal.uid)) throw new S3Error('AccessDenied', 'Only the owner may set an ACL');
  checkAclHeaders(s3.request.headers);
  const body = await readSmallBody(s3, ACL_BODY_BYTES_MAX);
  if (body.length > 0) {
    const root = parseXml(body.toString('utf8'));
    if (root.name !== 'AccessControlPolicy') throw new S3Error('MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema');
    const grants = root.children.find((child) => child.name === 'AccessControlList')?.children.filter((child) => child.name === 'Grant') ?? [];
    if (!grants.every((grant) => isOwnerFullControl(grant, String(attributes.uid)))) throw new S3Error('AccessControlListNotSupported', NOT_SUPPORTED);
  } else if (s3.request.headers['x-amz-acl'] === undefined) {
    throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header: x-amz-acl, or an AccessControlPolicy body', { MissingHeaderName: 'x-amz-acl' });
  }
  sendEmpty(s3.response, 200);
}

function isOwnerFullControl(grant: XmlElement, ownerId: string): boolean {
  const grantee = grant.children.find((child) => child.name === 'Grantee');
  return grantee !== undefined && childText(grantee, 'ID')?.trim() === ownerId && childText(grant, 'Permission')?.trim() === 'FULL_CONTROL';
}
