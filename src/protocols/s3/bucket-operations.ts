import { systemContext } from '../../core/context.js';
import { FsError } from '../../core/errors.js';
import { checkAclHeaders } from './acl.js';
import { STAGING_DIR } from './multipart.js';
import { POLICY_BYTES_MAX, compilePolicy } from './policy.js';
import { noteAuditedObject } from './s3-audit.js';
import { bucketRoot, bucketRootAttributes, ensureDirectory, isValidBucketName } from './buckets.js';
import type { BucketRequest, S3Request, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { isoTime, ownerElements, sendEmpty, sendXml } from './respond.js';
import { childText, element, parseXml } from './xml.js';
import { readSmallBody } from './small-body.js';

/** ListBuckets: every bucket whose root the caller may see (getattr passes core's checks). */
export async function listBuckets(services: S3Services, s3: S3Request): Promise<void> {
  const entries: string[] = [];
  for (const bucket of await services.buckets.list()) {
    try {
      const root = await bucketRoot(services.fs, s3.ctx, bucket);
      const attributes = await services.fs.getattr(s3.ctx, root);
      entries.push(element('Bucket', [element('Name', bucket.name), element('CreationDate', isoTime(attributes.birthTimeNs))]));
    } catch (error) {
      if (!(error instanceof FsError)) throw error;
    }
  }
  sendXml(s3.response, 200, 'ListAllMyBucketsResult', element('Owner', ownerElements(s3, s3.ctx.principal.uid)) + element('Buckets', entries));
}

/**
 * CreateBucket: a new directory `<base_path>/<name>` made as the caller (so core decides whether
 * they may), owned by them. A LocationConstraint is accepted and ignored: one region.
 */
export async function createBucket(services: S3Services, s3: S3Request, name: string): Promise<void> {
  if (!isValidBucketName(name)) throw new S3Error('InvalidBucketName', undefined, { BucketName: name });
  checkAclHeaders(s3.request.headers, 'InvalidBucketAclWithObjectOwnership');
  const body = await readSmallBody(s3, 64 * 1024);
  if (body.length > 0) {
    const root = parseXml(body.toString('utf8'));
    if (root.name !== 'CreateBucketConfiguration') throw new S3Error('MalformedXML');
    void childText(root, 'LocationConstraint');
  }
  const existing = await services.buckets.get(name);
  if (existing !== undefined) {
    throw new S3Error(existing.ownerUid === s3.ctx.principal.uid ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists', undefined, { BucketName: name });
  }
  const base = (await services.basePath()).replace(/\/+$/, '');
  const path = `${base}/${name}`;
  let made;
  try {
    made = await ensureDirectory(services.fs, s3.ctx, path, { mustCreate: true });
  } catch (error) {
    if (error instanceof FsError && error.code === 'Exists') throw new S3Error('BucketAlreadyExists', `A directory ${path} already exists; an administrator can attach it as a bucket`, { BucketName: name });
    throw error;
  }
  const attributes = await services.fs.getattr(s3.ctx, made.handle);
  try {
    await services.buckets.add({ name, path, rootId: attributes.id, rootGeneration: attributes.generation, createdAtMs: services.nowMs(), ownerUid: s3.ctx.principal.uid });
  } catch (error) {
    if (error instanceof FsError && error.code === 'Exists') throw new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
    throw error;
  }
  sendEmpty(s3.response, 200, { location: `/${name}` });
}

/** DeleteBucket: removes the directory when empty (BucketNotEmpty otherwise), then the record. */
export async function deleteBucket(services: S3Services, s3: BucketRequest): Promise<void> {
  const root = await bucketRoot(services.fs, s3.ctx, s3.bucket);
  const attributes = await services.fs.getattr(s3.ctx, root);
  const page = await services.fs.readdir(s3.ctx, root, { limit: 2 });
  if (page.entries.some((entry) => entry.name !== STAGING_DIR)) throw new S3Error('BucketNotEmpty', undefined, { BucketName: s3.bucket.name });
  if (page.entries.length > 0) {
    // Only the multipart staging directory is left: it goes if no upload is in progress.
    await services.fs.rmdir(systemContext(s3.ctx.logger, s3.ctx.requestId), root, STAGING_DIR).catch((error: unknown) => {
      if (error instanceof FsError && error.code === 'NotEmpty') throw new S3Error('BucketNotEmpty', 'The bucket has multipart uploads in progress; abort them first (ListMultipartUploads, AbortMultipartUpload)', { BucketName: s3.bucket.name });
      throw error;
    });
  }
  const parent = await services.fs.handleOf(s3.ctx, attributes.parentId);
  const name = s3.bucket.path.split('/').filter((part) => part !== '').at(-1);
  if (name !== undefined && attributes.id !== parent.id) {
    const found = await services.fs.lookup(s3.ctx, parent, name).catch(() => undefined);
    if (found?.attributes.id === attributes.id) await services.fs.rmdir(s3.ctx, parent, name);
  }
  await services.buckets.remove(s3.bucket.name);
  sendEmpty(s3.response, 204);
}

export async function headBucket(services: S3Services, s3: BucketRequest): Promise<void> {
  await bucketRootAttributes(services.fs, s3.ctx, s3.bucket);
  sendEmpty(s3.response, 200, { 'x-amz-bucket-region': 'us-east-1' });
}

/** One region; AWS answers an empty LocationConstraint for us-east-1. */
export async function getBucketLocation(services: S3Services, s3: BucketRequest): Promise<void> {
  await bucketRootAttributes(services.fs, s3.ctx, s3.bucket);
  sendXml(s3.response, 200, 'LocationConstraint', '');
}

/** Versioning is never enabled yet: an empty VersioningConfiguration means "never enabled". */
export async function getBucketVersioning(services: S3Services, s3: BucketRequest): Promise<void> {
  await bucketRootAttributes(services.fs, s3.ctx, s3.bucket);
  sendXml(s3.response, 200, 'VersioningConfiguration', '');
}

/**
 * Bucket policies are managed by the owner of the bucket's directory (as only the owner may
 * change a directory's permissions in core), or by the system.
 */
async function requireRootOwner(services: S3Services, s3: BucketRequest): Promise<void> {
  const attributes = await bucketRootAttributes(services.fs, s3.ctx, s3.bucket);
  if (s3.anonymous || (s3.ctx.principal.superuser !== true && attributes.uid !== s3.ctx.principal.uid)) {
    throw new S3Error('AccessDenied', 'Only the owner of the bucket\'s directory may read or change its policy');
  }
}

export async function getBucketPolicy(services: S3Services, s3: BucketRequest): Promise<void> {
  await requireRootOwner(services, s3);
  if (s3.bucket.policy === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: s3.bucket.name });
  s3.response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s3.bucket.policy) });
  s3.response.end(s3.bucket.policy);
}

export async function putBucketPolicy(services: S3Services, s3: BucketRequest): Promise<void> {
  await requireRootOwner(services, s3);
  const text = (await readSmallBody(s3, POLICY_BYTES_MAX)).toString('utf8');
  compilePolicy(text, s3.bucket.name);
  noteAuditedObject(s3.response, { before: { policy: s3.bucket.policy ?? null }, after: { policy: text } });
  await services.buckets.setPolicy(s3.bucket.name, text);
  sendEmpty(s3.response, 204);
}

export async function deleteBucketPolicy(services: S3Services, s3: BucketRequest): Promise<void> {
  await requireRootOwner(services, s3);
  noteAuditedObject(s3.response, { before: { policy: s3.bucket.policy ?? null }, after: { policy: null } });
  await services.buckets.setPolicy(s3.bucket.name, undefined);
  sendEmpty(s3.response, 204);
}
