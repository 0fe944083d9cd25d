/**
 * Multipart upload (S3 API reference: CreateMultipartUpload, UploadPart, UploadPartCopy,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads).
 *
 * Parts are files in a per-upload staging directory under the bucket root,
 * `.enclave-multipart/<uploadId>/<partNumber>`, invisible to listings (reserved prefix). The shared
 * `.enclave-multipart` directory is made by the system, mode 1777; each upload's directory is made
 * by the initiator, mode 0700, so core keeps other users out of it. A part's ETag (its MD5) is kept
 * in the object metadata store keyed by the part file, so it is valid only for the bytes it names.
 * Completion assembles the object by metadata: core copyRange gives the target file slices that
 * share the parts' chunks, no byte is copied. The upload record (key, headers, initiator, time) is
 * written before the directory exists, so a crash leaves at worst a record that the expiry sweep
 * removes.
 *
 * Records under Keyspace.settings sub-tag 0x43: [0x30, 0x43, bucket, uploadId] -> JSON.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { systemContext, type OpContext } from '../../core/context.js';
import { FsError } from '../../core/errors.js';
import type { Attributes, FileSystem, NodeHandle, Xattrs } from '../../core/file-system.js';
import { Keyspace } from '../../storage/metadata/keyspaces.js';
import type { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { key as tupleKey, prefixEnd } from '../../storage/metadata/tuple.js';
import { bucketRoot, bucketRootAttributes, type Bucket } from './buckets.js';
import type { BucketRequest, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { compareKeys, parseObjectKey, RESERVED_PREFIX } from './object-keys.js';
import { encodePartSizes, objectXattrs, storedObjectMetadata, type ObjectMetadata } from './object-metadata.js';
import { checkCopySourceConditions, copyBytes, copySource, md5Of, metadataFromHeaders, stageAndPublish, WRITE_PIECE_BYTES, writeBody } from './object-operations.js';
import { readBody } from './payload.js';
import { isoTime, sendEmpty, sendXml } from './respond.js';
import { uriEncode } from './sigv4.js';
import { bodyOptions, readSmallBody } from './small-body.js';
import { childText, element, parseXml } from './xml.js';

const MULTIPART = 0x43;
export const STAGING_DIR = `${RESERVED_PREFIX}multipart`;
export const PART_NUMBER_MAX = 10_000;
/** S3: every part but the last is at least 5 MiB, at most 5 GiB. */
export const PART_BYTES_MIN = 5 * 1024 * 1024;
export const PART_BYTES_MAX = 5 * 1024 ** 3;
const LIST_MAX = 1_000;
const COMPLETE_BODY_BYTES_MAX = 2 * 1024 * 1024;
/** Upload records examined by one listing or sweep. */
const RECORDS_SCAN_MAX = 10_000;

export interface UploadRecord {
  readonly bucket: string;
  readonly uploadId: string;
  readonly key: string;
  readonly initiatedMs: number;
  readonly ownerUid: number;
  readonly ownerName: string;
  readonly metadata: Omit<ObjectMetadata, 'etag'>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const recordKey = (bucket: string, uploadId: string) => tupleKey().byte(Keyspace.settings).byte(MULTIPART).string(bucket).string(uploadId).build();
const bucketPrefix = (bucket: string) => tupleKey().byte(Keyspace.settings).byte(MULTIPART).string(bucket).build();
const allPrefix = () => tupleKey().byte(Keyspace.settings).byte(MULTIPART).build();

export class MultipartStore {
  constructor(private readonly options: { metadata: MetadataStore }) {}

  async put(record: UploadRecord): Promise<void> {
    await this.options.metadata.write(async (tx) => tx.put(recordKey(record.bucket, record.uploadId), encoder.encode(JSON.stringify(record))));
  }

  async get(bucket: string, uploadId: string): Promise<UploadRecord | undefined> {
    const value = await this.options.metadata.read((tx) => tx.get(recordKey(bucket, uploadId)));
    return value === undefined ? undefined : (JSON.parse(decoder.decode(value)) as UploadRecord);
  }

  async delete(bucket: string, uploadId: string): Promise<void> {
    await this.options.metadata.write(async (tx) => tx.delete(recordKey(bucket, uploadId)));
  }

  /** Uploads of one bucket (or of all buckets), in store order, at most `limit`. */
  async list(bucket: string | undefined, limit = RECORDS_SCAN_MAX): Promise<UploadRecord[]> {
    const prefix = bucket === undefined ? allPrefix() : bucketPrefix(bucket);
    const entries = await this.options.metadata.read((tx) => tx.scan({ start: prefix, end: prefixEnd(prefix), limit }));
    return entries.map((entry) => JSON.parse(decoder.decode(entry.value)) as UploadRecord);
  }

  /** Every upload record, read page by page (the sweep). */
  async *all(pageSize = 1_000): AsyncGenerator<UploadRecord> {
    const prefix = allPrefix();
    let start: Uint8Array = prefix;
    for (;;) {
      const from = start;
      const entries = await this.options.metadata.read((tx) => tx.scan({ start: from, end: prefixEnd(prefix), limit: pageSize }));
      for (const entry of entries) yield JSON.parse(decoder.decode(entry.value)) as UploadRecord;
      if (entries.length < pageSize) return;
      const last = (entries.at(-1) as { key: Uint8Array }).key;
      start = Buffer.concat([last, Buffer.from([0])]);
    }
  }
}

const noSuchUpload = (uploadId: string) => new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
const isNotFound = (error: unknown) => error instanceof FsError && (error.code === 'NotFound' || error.code === 'Stale');

/** The shared staging directory of a bucket, made by the system (mode 1777) when asked. */
async function stagingDir(fs: FileSystem, ctx: OpContext, bucket: Bucket, create: boolean): Promise<NodeHandle | undefined> {
  const system = systemContext(ctx.logger, ctx.requestId);
  const root = await bucketRoot(fs, system, bucket);
  try {
    return (await fs.lookup(system, root, STAGING_DIR)).handle;
  } catch (error) {
    if (!isNotFound(error) || !create) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
  try {
    return (await fs.mkdir(system, root, STAGING_DIR, { mode: 0o1777, uid: 0, gid: 0 })).handle;
  } catch (error) {
    if (error instanceof FsError && error.code === 'Exists') return (await fs.lookup(system, root, STAGING_DIR)).handle;
    throw error;
  }
}

/** The directory of one upload, looked up as the caller (core decides whether they may use it). */
async function uploadDir(fs: FileSystem, ctx: OpContext, bucket: Bucket, uploadId: string): Promise<NodeHandle> {
  const staging = await stagingDir(fs, ctx, bucket, false);
  if (staging === undefined) throw noSuchUpload(uploadId);
  try {
    return (await fs.lookup(ctx, staging, uploadId)).handle;
  } catch (error) {
    if (isNotFound(error)) throw noSuchUpload(uploadId);
    throw error;
  }
}

function uploadIdOf(s3: BucketRequest): string {
  const uploadId = s3.query.get('uploadId') ?? '';
  if (!/^[0-9a-f]{32}$/.test(uploadId)) throw noSuchUpload(uploadId);
  return uploadId;
}

/** The upload named by `uploadId`, which must be for the request's key. */
async function requireUpload(services: S3Services, s3: BucketRequest): Promise<{ record: UploadRecord; dir: NodeHandle }> {
  const uploadId = uploadIdOf(s3);
  const record = await services.uploads.get(s3.bucket.name, uploadId);
  if (record === undefined || record.key !== s3.key) throw noSuchUpload(uploadId);
  return { record, dir: await uploadDir(services.fs, s3.ctx, s3.bucket, uploadId) };
}

function partNumberOf(s3: BucketRequest): number {
  const text = s3.query.get('partNumber') ?? '';
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > PART_NUMBER_MAX) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${PART_NUMBER_MAX}, inclusive`, { ArgumentName: 'partNumber', ArgumentValue: text });
  }
  return Number(text);
}

/**
 * 32 hex digits: the initiation time (ms, 12 digits) then 80 random bits. ListMultipartUploads
 * lists a key's uploads by initiation time and pages with upload-id-marker compared
 * lexicographically (S3 API reference); time-ordered ids make the two orders one.
 */
function newUploadId(nowMs: number): string {
  return Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, '0').slice(-12) + randomBytes(10).toString('hex');
}

const owner = (record: UploadRecord) => [element('ID', String(record.ownerUid)), element('DisplayName', record.ownerName)];

export async function createMultipartUpload(services: S3Services, s3: BucketRequest): Promise<void> {
  const key = parseObjectKey(s3.key ?? '');
  if (key.folder) throw new S3Error('InvalidArgument', 'A key ending in "/" is a folder and cannot hold data');
  const metadata = metadataFromHeaders(s3);
  const uploadId = newUploadId(services.nowMs());
  const record: UploadRecord = { bucket: s3.bucket.name, uploadId, key: key.key, initiatedMs: services.nowMs(), ownerUid: s3.ctx.principal.uid, ownerName: s3.ctx.principal.name ?? String(s3.ctx.principal.uid), metadata };
  await services.uploads.put(record);
  try {
    const staging = (await stagingDir(services.fs, s3.ctx, s3.bucket, true)) as NodeHandle;
    await services.fs.mkdir(s3.ctx, staging, uploadId, { mode: 0o700 });
  } catch (error) {
    await services.uploads.delete(s3.bucket.name, uploadId);
    throw error;
  }
  sendXml(s3.response, 200, 'InitiateMultipartUploadResult', element('Bucket', s3.bucket.name) + element('Key', key.key) + element('UploadId', uploadId));
}

/** Writes a part into a hidden temporary file, then renames it over `<partNumber>`. */
async function publishPart(services: S3Services, s3: BucketRequest, dir: NodeHandle, partNumber: number, write: (stage: NodeHandle) => Promise<string>): Promise<{ etag: string; attributes: Attributes }> {
  const { fs } = services;
  const name = String(partNumber);
  const temporary = `${RESERVED_PREFIX}part-${randomBytes(8).toString('hex')}`;
  const stage = await fs.create(s3.ctx, dir, temporary, { exclusive: true, mode: 0o600 });
  let published = false;
  try {
    const etag = await write(stage.handle);
    // The part and its ETag take the name in one transaction (core rename with xattrs).
    await fs.rename(s3.ctx, { sourceDir: dir, sourceName: temporary, targetDir: dir, targetName: name, xattrs: objectXattrs({ etag, userMetadata: {} }) });
    published = true;
    const attributes = await fs.getattr(s3.ctx, stage.handle);
    return { etag, attributes };
  } finally {
    if (!published) await fs.remove(s3.ctx, dir, temporary).catch((error: unknown) => s3.ctx.logger.warn({ err: error }, 'cannot remove a multipart staging file'));
  }
}

export async function uploadPart(services: S3Services, s3: BucketRequest): Promise<void> {
  const partNumber = partNumberOf(s3);
  const { dir } = await requireUpload(services, s3);
  const body = readBody(s3.request, { ...bodyOptions(s3, Math.min(PART_BYTES_MAX, services.objectBytesMax)), md5Offload: services.md5Offload }, WRITE_PIECE_BYTES);
  const result = await publishPart(services, s3, dir, partNumber, (stage) => writeBody(services, s3, stage, body));
  sendEmpty(s3.response, 200, { etag: `"${result.etag}"` });
}

/** UploadPartCopy: a range of an existing object becomes a part by sharing its chunks. */
export async function uploadPartCopy(services: S3Services, s3: BucketRequest, resolveSource: (bucket: string, key: string) => Promise<BucketRequest>): Promise<void> {
  const partNumber = partNumberOf(s3);
  const { dir } = await requireUpload(services, s3);
  const source = await copySource(services, s3, resolveSource);
  checkCopySourceConditions(s3, source.attributes, source.metadata.etag);
  const size = source.attributes.size;
  let start = 0;
  let length = size;
  const rangeHeader = s3.request.headers['x-amz-copy-source-range'];
  if (typeof rangeHeader === 'string') {
    const match = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
    if (match === null || Number(match[2]) < Number(match[1])) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
    start = Number(match[1]);
    const end = Number(match[2]);
    if (end >= size) throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: rangeHeader, ActualObjectSize: String(size) });
    length = end - start + 1;
  }
  if (length > PART_BYTES_MAX) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(length), MaxSizeAllowed: String(PART_BYTES_MAX) });
  const whole = start === 0 && length === size;
  const result = await publishPart(services, s3, dir, partNumber, async (stage) => {
    await copyBytes(services.fs, s3.ctx, { source: source.handle, sourceOffset: start, target: stage, targetOffset: 0, length });
    // The source's stored MD5 names these bytes only when the whole single-part object is copied.
    return whole && source.stored && /^[0-9a-f]{32}$/.test(source.metadata.etag) ? source.metadata.etag : md5Of(services.fs, s3.ctx, source.handle, start, length);
  });
  sendXml(s3.response, 200, 'CopyPartResult', element('LastModified', isoTime(result.attributes.mtimeNs)) + element('ETag', `"${result.etag}"`));
}

const unquote = (etag: string) => etag.trim().replace(/^"|"$/g, '');

export async function completeMultipartUpload(services: S3Services, s3: BucketRequest, options: { partBytesMin: number }): Promise<void> {
  const { record, dir } = await requireUpload(services, s3);
  const root = parseXml((await readSmallBody(s3, COMPLETE_BODY_BYTES_MAX)).toString('utf8'));
  if (root.name !== 'CompleteMultipartUpload') throw new S3Error('MalformedXML');
  const requested = root.children.filter((child) => child.name === 'Part').map((part) => {
    const number = childText(part, 'PartNumber')?.trim() ?? '';
    const etag = childText(part, 'ETag');
    if (!/^\d{1,5}$/.test(number) || etag === undefined) throw new S3Error('MalformedXML', 'every Part needs a PartNumber and an ETag');
    return { partNumber: Number(number), etag: unquote(etag) };
  });
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
  if (requested.length > PART_NUMBER_MAX) throw new S3Error('MalformedXML', `at most ${PART_NUMBER_MAX} parts`);
  const parts: Array<{ partNumber: number; etag: string; handle: NodeHandle; size: number }> = [];
  for (const [index, part] of requested.entries()) {
    if (index > 0 && part.partNumber <= (requested[index - 1] as { partNumber: number }).partNumber) throw new S3Error('InvalidPartOrder');
    const invalid = () => new S3Error('InvalidPart', undefined, { UploadId: record.uploadId, PartNumber: String(part.partNumber), ETag: part.etag });
    let found;
    try {
      found = await services.fs.lookup(s3.ctx, dir, String(part.partNumber), { withXattrs: true });
    } catch (error) {
      if (isNotFound(error)) throw invalid();
      throw error;
    }
    const stored = storedObjectMetadata(found.xattrs);
    if (stored === undefined || stored.etag !== part.etag) throw invalid();
    parts.push({ ...part, handle: found.handle, size: found.attributes.size });
  }
  for (const part of parts.slice(0, -1)) {
    if (part.size < options.partBytesMin) {
      throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(part.size), MinSizeAllowed: String(options.partBytesMin), PartNumber: String(part.partNumber), ETag: part.etag });
    }
  }
  const total = parts.reduce((sum, part) => sum + part.size, 0);
  const key = parseObjectKey(record.key);
  const result = await stageAndPublish(
    services,
    s3,
    key,
    async (stage) => {
      let offset = 0;
      for (const part of parts) {
        await copyBytes(services.fs, s3.ctx, { source: part.handle, sourceOffset: 0, target: stage, targetOffset: offset, length: part.size });
        offset += part.size;
      }
      if (offset !== total) throw new Error('assertion failed: assembled size differs from the parts');
      const digests = Buffer.concat(parts.map((part) => Buffer.from(part.etag, 'hex')));
      return `${createHash('md5').update(digests).digest('hex')}-${parts.length}`;
    },
    { ...record.metadata, partsCount: parts.length, partSizes: encodePartSizes(parts.map((part) => part.size)) },
    { noReplace: false },
  );
  await removeUpload(services, s3.ctx, s3.bucket, record.uploadId);
  // An absolute URL, as S3 answers it: the scheme and host the request came to, path-style.
  const scheme = (s3.request.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  const host = typeof s3.request.headers.host === 'string' && /^[A-Za-z0-9.:[\]-]+$/.test(s3.request.headers.host) ? s3.request.headers.host : 'localhost';
  const location = `${scheme}://${host}/${s3.bucket.name}/${uriEncode(record.key, true)}`;
  sendXml(s3.response, 200, 'CompleteMultipartUploadResult', element('Location', location) + element('Bucket', s3.bucket.name) + element('Key', record.key) + element('ETag', `"${result.etag}"`));
}

/** Removes an upload's parts, its directory and its record (the record last, so a failure can be retried). */
async function removeUpload(services: S3Services, ctx: OpContext, bucket: Bucket, uploadId: string): Promise<void> {
  const { fs } = services;
  const staging = await stagingDir(fs, ctx, bucket, false).catch((error: unknown) => {
    if (error instanceof S3Error && error.code === 'NoSuchBucket') return undefined;
    throw error;
  });
  let dir: NodeHandle | undefined;
  if (staging !== undefined) dir = await fs.lookup(ctx, staging, uploadId).then((found) => found.handle, (error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  if (staging !== undefined && dir !== undefined) {
    for (;;) {
      const page = await fs.readdir(ctx, dir, { limit: 1_000 });
      if (page.entries.length === 0) break;
      for (const entry of page.entries) await fs.remove(ctx, dir, entry.name);
    }
    await fs.rmdir(ctx, staging, uploadId).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }
  await services.uploads.delete(bucket.name, uploadId);
}

export async function abortMultipartUpload(services: S3Services, s3: BucketRequest): Promise<void> {
  const { record } = await requireUpload(services, s3);
  await removeUpload(services, s3.ctx, s3.bucket, record.uploadId);
  sendEmpty(s3.response, 204);
}

function boundedInteger(s3: BucketRequest, name: string, fallback: number, max: number): number {
  const text = s3.query.get(name);
  if (text === undefined) return fallback;
  if (!/^\d{1,9}$/.test(text)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: text });
  return Math.min(Number(text), max);
}

export async function listParts(services: S3Services, s3: BucketRequest): Promise<void> {
  const { record, dir } = await requireUpload(services, s3);
  const maxParts = boundedInteger(s3, 'max-parts', LIST_MAX, LIST_MAX);
  const marker = boundedInteger(s3, 'part-number-marker', 0, PART_NUMBER_MAX);
  const parts: Array<{ partNumber: number; attributes: Attributes; xattrs?: Xattrs }> = [];
  let cursor: string | undefined;
  do {
    const page = await services.fs.readdir(s3.ctx, dir, { limit: 1_000, withAttributes: true, withXattrs: true, ...(cursor === undefined ? {} : { cursor }) });
    cursor = page.cursor;
    for (const entry of page.entries) {
      if (!/^\d{1,5}$/.test(entry.name) || entry.attributes === undefined) continue;
      const partNumber = Number(entry.name);
      if (partNumber > marker) parts.push({ partNumber, attributes: entry.attributes, ...(entry.xattrs === undefined ? {} : { xattrs: entry.xattrs }) });
    }
  } while (cursor !== undefined);
  parts.sort((left, right) => left.partNumber - right.partNumber);
  const shown = parts.slice(0, maxParts);
  const truncated = parts.length > maxParts;
  const items: string[] = [];
  for (const part of shown) {
    const stored = storedObjectMetadata(part.xattrs);
    items.push(element('Part', [element('PartNumber', part.partNumber), element('LastModified', isoTime(part.attributes.mtimeNs)), element('ETag', `"${stored?.etag ?? ''}"`), element('Size', part.attributes.size)]));
  }
  sendXml(s3.response, 200, 'ListPartsResult', [
    element('Bucket', s3.bucket.name),
    element('Key', record.key),
    element('UploadId', record.uploadId),
    element('Initiator', owner(record)),
    element('Owner', owner(record)),
    element('StorageClass', 'STANDARD'),
    element('PartNumberMarker', marker),
    ...(truncated && shown.length > 0 ? [element('NextPartNumberMarker', (shown.at(-1) as { partNumber: number }).partNumber)] : []),
    element('MaxParts', maxParts),
    element('IsTruncated', truncated),
    ...items,
  ].join(''));
}

export async function listMultipartUploads(services: S3Services, s3: BucketRequest): Promise<void> {
  // Listing the uploads of a bucket needs the right to see the bucket's directory.
  await bucketRootAttributes(services.fs, s3.ctx, s3.bucket);
  const prefix = s3.query.get('prefix') ?? '';
  const delimiter = s3.query.get('delimiter') ?? '';
  const keyMarker = s3.query.get('key-marker') ?? '';
  const uploadIdMarker = s3.query.get('upload-id-marker') ?? '';
  const encodingType = s3.query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
  const encode = (text: string) => (encodingType === 'url' ? uriEncode(text, true) : text);
  const maxUploads = boundedInteger(s3, 'max-uploads', LIST_MAX, LIST_MAX);
  const records = (await services.uploads.list(s3.bucket.name))
    .filter((record) => record.key.startsWith(prefix))
    .sort((left, right) => compareKeys(left.key, right.key) || (left.uploadId < right.uploadId ? -1 : left.uploadId > right.uploadId ? 1 : 0));
  const after = (record: UploadRecord) => {
    const order = compareKeys(record.key, keyMarker);
    if (keyMarker === '' || order > 0) return true;
    return order === 0 && uploadIdMarker !== '' && record.uploadId > uploadIdMarker;
  };
  const uploads: UploadRecord[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last: { key: string; uploadId: string } | undefined;
  for (const record of records.filter(after)) {
    let commonPrefix: string | undefined;
    if (delimiter !== '') {
      const at = record.key.indexOf(delimiter, prefix.length);
      if (at !== -1) commonPrefix = record.key.slice(0, at + delimiter.length);
    }
    if (commonPrefix !== undefined && prefixes.at(-1) === commonPrefix) continue;
    if (uploads.length + prefixes.length === maxUploads) {
      truncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      prefixes.push(commonPrefix);
      last = { key: commonPrefix, uploadId: '' };
    } else {
      uploads.push(record);
      last = { key: record.key, uploadId: record.uploadId };
    }
  }
  sendXml(s3.response, 200, 'ListMultipartUploadsResult', [
    element('Bucket', s3.bucket.name),
    element('KeyMarker', encode(keyMarker)),
    element('UploadIdMarker', uploadIdMarker),
    ...(truncated && last !== undefined ? [element('NextKeyMarker', encode(last.key)), element('NextUploadIdMarker', last.uploadId)] : []),
    element('Prefix', encode(prefix)),
    ...(delimiter === '' ? [] : [element('Delimiter', encode(delimiter))]),
    element('MaxUploads', maxUploads),
    ...(encodingType === undefined ? [] : [element('EncodingType', 'url')]),
    element('IsTruncated', truncated),
    ...uploads.map((record) => element('Upload', [element('Key', encode(record.key)), element('UploadId', record.uploadId), element('Initiator', owner(record)), element('Owner', owner(record)), element('StorageClass', 'STANDARD'), element('Initiated', new Date(record.initiatedMs).toISOString())])),
    ...prefixes.map((item) => element('CommonPrefixes', [element('Prefix', encode(item))])),
  ].join(''));
}

/**
 * Removes uploads initiated more than `maxAgeMs` ago, at most `step` per call (the server runs it
 * on a timer), as the system. A bucket that is gone takes its upload records with it.
 */
export async function sweepExpiredUploads(services: S3Services, logger: Logger, options: { maxAgeMs: number; step: number }): Promise<number> {
  const ctx = systemContext(logger, 's3-multipart-sweep');
  const cutoff = services.nowMs() - options.maxAgeMs;
  let removed = 0;
  for await (const record of services.uploads.all()) {
    if (removed >= options.step) break;
    if (record.initiatedMs > cutoff) continue;
    const bucket = await services.buckets.get(record.bucket);
    try {
      if (bucket === undefined) await services.uploads.delete(record.bucket, record.uploadId);
      else await removeUpload(services, ctx, bucket, record.uploadId);
      removed++;
    } catch (error) {
      logger.warn({ err: error, bucket: record.bucket, uploadId: record.uploadId }, 'cannot remove an expired multipart upload');
    }
  }
  if (removed > 0) logger.info({ removed }, 'expired multipart uploads removed');
  return removed;
}
