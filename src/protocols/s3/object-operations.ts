import { createHash, randomBytes } from 'node:crypto';
import type { OpContext } from '../../core/context.js';
import { FsError } from '../../core/errors.js';
import { WRITE_BYTES_MAX, type Attributes, type FileSystem, type NodeHandle, type Xattrs } from '../../core/file-system.js';
import { bucketRoot, withBucketRoot } from './buckets.js';
import type { BucketRequest, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { parseObjectKey, RESERVED_PREFIX, type ObjectKey } from './object-keys.js';
import { objectMetadata, objectXattrs, storedObjectMetadata, USER_METADATA_BYTES_MAX, type ObjectMetadata } from './object-metadata.js';
import { readBody, readWholeBody, type BodyOptions, type BodyResult } from './payload.js';
import { httpDate, isoTime, sendEmpty, sendXml } from './respond.js';
import { bodyOptions } from './small-body.js';
import { element } from './xml.js';
import { COPY_BYTES_MAX } from '../../core/data/copy-range.js';
import { parseTaggingHeader } from './tagging.js';
import { checkStorageClass, hasStorageClass } from './storage-class.js';
import { checkAclHeaders } from './acl.js';
import { partRange, responseOverrides } from './object-reads.js';
import { noteAuditedObject } from './s3-audit.js';

/**
 * Objects up to this size are received whole and published with one core putFile; larger ones
 * stream through a staging file. At concurrency 16 this bounds the memory held to 128 MiB.
 */
const WHOLE_PUT_BYTES_MAX = Math.min(8 * 1024 * 1024, WRITE_BYTES_MAX);

/** Data goes to core in pieces of this size (core takes up to 16 MiB per write). */
export const WRITE_PIECE_BYTES = 4 * 1024 * 1024;
const READ_PIECE_BYTES = 1024 * 1024;

const notFound = (s3: BucketRequest) => new S3Error('NoSuchKey', undefined, { Key: s3.key ?? '' });

/**
 * The parent directory of a key, creating missing directories as the caller when asked. An
 * existing parent is found in one core call (one consistent read); only a missing one is walked
 * name by name to create what is missing.
 */
export async function parentOf(fs: FileSystem, ctx: OpContext, root: NodeHandle, key: ObjectKey, create: boolean): Promise<NodeHandle> {
  const folders = key.segments.slice(0, -1);
  if (folders.length === 0) return root;
  try {
    const found = await fs.resolvePath(ctx, folders.join('/'), { from: root });
    if (found.attributes.type === 'directory') return found.handle;
    throw new S3Error('ObjectConflict', `The key's prefix ${folders.join('/')} is an object, not a folder`);
  } catch (error) {
    if (!(error instanceof FsError) || error.code !== 'NotFound' || !create) throw error;
  }
  let current = root;
  for (const name of folders) current = await folderIn(fs, ctx, current, name);
  return current;
}

/** Rounds of lookup-then-mkdir before a folder that keeps vanishing is reported. */
const FOLDER_RACE_ROUNDS_MAX = 3;

/**
 * The folder `name` in `dir`, created when missing. A concurrent request may create it between
 * the lookup and the mkdir: mkdir then answers Exists (the metadata store reports such a refusal
 * only once the folder that caused it is durable, so the next lookup finds it), and the lookup
 * runs again. Another round is needed only if the folder is removed again meanwhile.
 */
async function folderIn(fs: FileSystem, ctx: OpContext, dir: NodeHandle, name: string): Promise<NodeHandle> {
  for (let round = 1; ; round++) {
    try {
      const found = await fs.lookup(ctx, dir, name);
      if (found.attributes.type !== 'directory') throw new S3Error('ObjectConflict', `The key's prefix ${name} is an object, not a folder`);
      return found.handle;
    } catch (error) {
      if (!(error instanceof FsError) || error.code !== 'NotFound') throw error;
    }
    try {
      return (await fs.mkdir(ctx, dir, name)).handle;
    } catch (error) {
      if (!(error instanceof FsError) || error.code !== 'Exists' || round >= FOLDER_RACE_ROUNDS_MAX) throw error;
    }
  }
}

/**
 * The object a request names. `withXattrs` also reads its extended attributes (the stored S3
 * metadata) in the same lookup; that needs READ_NAMED_ATTRS, which read access to a file grants.
 */
export async function findObject(services: S3Services, s3: BucketRequest, options: { withXattrs?: boolean } = {}): Promise<{ key: ObjectKey; root: NodeHandle; handle: NodeHandle; attributes: Attributes; xattrs?: Xattrs }> {
  const key = parseObjectKey(s3.key ?? '');
  // The recorded root without a read: a vanished bucket directory shows as Stale on first use.
  return withBucketRoot(services.fs, s3.ctx, s3.bucket, async (root) => {
    try {
      // The whole key in one core call: one consistent read, however deep the key.
      const found = await services.fs.resolvePath(s3.ctx, key.segments.join('/'), { from: root, withXattrs: options.withXattrs === true });
      const isFile = found.attributes.type === 'file';
      if (key.folder ? found.attributes.type !== 'directory' : !isFile) throw notFound(s3);
      return { key, root, handle: found.handle, attributes: found.attributes, ...(found.xattrs === undefined ? {} : { xattrs: found.xattrs }) };
    } catch (error) {
      if (error instanceof FsError && (error.code === 'NotFound' || error.code === 'NotADirectory')) throw notFound(s3);
      if (error instanceof S3Error && error.code === 'ObjectConflict') throw notFound(s3);
      throw error;
    }
  });
}

export function metadataFromHeaders(s3: BucketRequest): Omit<ObjectMetadata, 'etag'> {
  const headers = s3.request.headers;
  const userMetadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    userMetadata[name.slice('x-amz-meta-'.length)] = text;
    bytes += name.length - 'x-amz-meta-'.length + Buffer.byteLength(text);
  }
  if (bytes > USER_METADATA_BYTES_MAX) throw new S3Error('MetadataTooLarge', undefined, { Size: String(bytes), MaxSizeAllowed: String(USER_METADATA_BYTES_MAX) });
  checkStorageClass(headers);
  checkAclHeaders(headers);
  const pick = (name: string): Record<string, string> => {
    const value = headers[name];
    if (name === 'content-encoding' && typeof value === 'string') {
      // S3 API reference, "Transferring Payload in Multiple Chunks": the object is stored without
      // the aws-chunked coding (a transfer detail), and without Content-Encoding if it was the only one.
      const codings = value.split(',').map((coding) => coding.trim()).filter((coding) => coding !== '' && coding.toLowerCase() !== 'aws-chunked');
      return codings.length === 0 ? {} : { contentEncoding: codings.join(',') };
    }
    return typeof value === 'string' ? { [camel(name)]: value } : {};
  };
  const tagging = headers['x-amz-tagging'];
  const tags = typeof tagging === 'string' ? parseTaggingHeader(tagging) : undefined;
  return { ...pick('content-type'), ...pick('content-encoding'), ...pick('content-disposition'), ...pick('content-language'), ...pick('cache-control'), ...pick('expires'), userMetadata, ...(tags === undefined || tags.length === 0 ? {} : { tags }) };
}

const camel = (header: string): string => header.replace(/-([a-z])/g, (_m, letter: string) => letter.toUpperCase());

/**
 * Writes `source` into a hidden staging file beside the target and renames it into place only once
 * the whole body was read and verified, so a failed or forged upload never replaces stored data.
 */
/**
 * Writes an object through a staging file in its folder, then publishes it: one rename over the
 * key that also sets its metadata (core rename with xattrs), so readers see the old object or the
 * new one with its metadata, never a mix. For bodies too large to hold in memory; small ones go
 * through publishWhole.
 */
export async function stageAndPublish(
  services: S3Services,
  s3: BucketRequest,
  key: ObjectKey,
  write: (stage: NodeHandle) => Promise<string>,
  /** The metadata to publish, or a function answering it once `write` is done (checksums). */
  metadata: Omit<ObjectMetadata, 'etag'> | (() => Omit<ObjectMetadata, 'etag'>),
  options: { noReplace: boolean },
): Promise<{ etag: string; attributes: Attributes }> {
  const { fs } = services;
  const root = await bucketRoot(fs, s3.ctx, s3.bucket);
  const parent = await parentOf(fs, s3.ctx, root, key, true);
  const name = key.segments.at(-1) as string;
  const stagingName = `${RESERVED_PREFIX}upload-${randomBytes(12).toString('hex')}`;
  const stage = await fs.create(s3.ctx, parent, stagingName, { exclusive: true });
  let published = false;
  try {
    const etag = await write(stage.handle);
    try {
      await fs.rename(s3.ctx, { sourceDir: parent, sourceName: stagingName, targetDir: parent, targetName: name, noReplace: options.noReplace, xattrs: objectXattrs({ ...(typeof metadata === 'function' ? metadata() : metadata), etag }) });
    } catch (error) {
      throw publishError(error, key, options);
    }
    published = true;
    const attributes = await fs.getattr(s3.ctx, stage.handle);
    return { etag, attributes };
  } finally {
    if (!published) {
      await fs.remove(s3.ctx, parent, stagingName).catch((error: unknown) => s3.ctx.logger.warn({ err: error }, 'cannot remove an S3 staging file'));
    }
  }
}

/** Core's refusals of a publish in S3's terms: an existing key under If-None-Match, a folder in the way. */
function publishError(error: unknown, key: ObjectKey, options: { noReplace: boolean }): unknown {
  if (!(error instanceof FsError)) return error;
  if (error.code === 'Exists' && options.noReplace) return new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  if (error.code === 'IsADirectory') return new S3Error('ObjectConflict', `${key.key} is a folder holding other objects`);
  return error;
}

/**
 * Publishes an object held in memory with core putFile: its data, its metadata and its name in
 * one transaction (small objects: no staging file, no rename, one commit).
 */
export async function publishWhole(services: S3Services, s3: BucketRequest, key: ObjectKey, data: Uint8Array, metadata: ObjectMetadata, options: { noReplace: boolean }): Promise<Attributes> {
  return withBucketRoot(services.fs, s3.ctx, s3.bucket, async (root) => {
    const parent = await parentOf(services.fs, s3.ctx, root, key, true);
    try {
      const put = await services.fs.putFile(s3.ctx, parent, key.segments.at(-1) as string, { data, xattrs: objectXattrs(metadata), noReplace: options.noReplace });
      return put.attributes;
    } catch (error) {
      throw publishError(error, key, options);
    }
  });
}

/** Writes a verified request body into a staging file in 4 MiB pieces; answers its MD5 (hex). */
export async function writeBody(services: S3Services, s3: BucketRequest, stage: NodeHandle, body: ReturnType<typeof readBody>): Promise<string> {
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
    await services.fs.write(s3.ctx, stage, { offset, data });
    offset += data.length;
    pending = [];
    pendingBytes = 0;
  };
  for await (const piece of body.pieces) {
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes >= WRITE_PIECE_BYTES) await flush();
  }
  await flush();
  return body.finish().md5Hex;
}

/** PutObject, or a folder marker (`key/`, empty body) as a directory. */
export async function putObject(services: S3Services, s3: BucketRequest): Promise<void> {
  const key = parseObjectKey(s3.key ?? '');
  const options = { ...bodyOptions(s3, services.objectBytesMax), md5Offload: services.md5Offload };
  if (key.folder) {
    const body = readBody(s3.request, options, WRITE_PIECE_BYTES);
    for await (const piece of body.pieces) if (piece.length > 0) throw new S3Error('InvalidArgument', 'A key ending in "/" is a folder and cannot hold data');
    const root = await bucketRoot(services.fs, s3.ctx, s3.bucket);
    const parent = await parentOf(services.fs, s3.ctx, root, key, true);
    await services.fs.mkdir(s3.ctx, parent, key.segments.at(-1) as string).catch((error: unknown) => {
      if (!(error instanceof FsError && error.code === 'Exists')) throw error;
    });
    sendEmpty(s3.response, 200, { etag: '"d41d8cd98f00b204e9800998ecf8427e"' });
    return;
  }
  const ifNoneMatch = s3.request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') throw new S3Error('NotImplemented', 'PutObject supports If-None-Match: * only');
  const declared = Number(s3.request.headers['content-length'] ?? Number.NaN);
  const decoded = Number(s3.request.headers['x-amz-decoded-content-length'] ?? Number.NaN);
  const expected = Number.isSafeInteger(decoded) ? decoded : declared;
  if (Number.isSafeInteger(expected) && expected <= WHOLE_PUT_BYTES_MAX) {
    // Small enough to hold: the body, then one core transaction (data, metadata, name).
    const { data, result: finished } = await readWhole(s3, options);
    const etag = finished.md5Hex;
    const published = await publishWhole(services, s3, key, data, { ...metadataFromHeaders(s3), etag, ...checksumsOf(finished.checksums) }, { noReplace: ifNoneMatch === '*' });
    noteAuditedObject(s3.response, { fileId: published.id });
    sendEmpty(s3.response, 200, { etag: `"${etag}"` });
    return;
  }
  const body = readBody(s3.request, options, WRITE_PIECE_BYTES);
  const result = await stageAndPublish(
    services,
    s3,
    key,
    (stage) => writeBody(services, s3, stage, body),
    () => ({ ...metadataFromHeaders(s3), ...checksumsOf(body.finish().checksums) }),
    { noReplace: ifNoneMatch === '*' },
  );
  noteAuditedObject(s3.response, { fileId: result.attributes.id });
  sendEmpty(s3.response, 200, { etag: `"${result.etag}"` });
}

/** A body small enough to hold, read whole: in one buffer (plain bodies), or its pieces joined (aws-chunked). */
async function readWhole(s3: BucketRequest, options: BodyOptions): Promise<{ data: Buffer; result: BodyResult }> {
  const { contentLength } = options;
  if ((options.mode.kind === 'unsigned' || options.mode.kind === 'sha256') && contentLength !== undefined) return readWholeBody(s3.request, { ...options, contentLength });
  const body = readBody(s3.request, options, WRITE_PIECE_BYTES);
  const pieces: Buffer[] = [];
  for await (const piece of body.pieces) pieces.push(piece);
  return { data: pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces), result: body.finish() };
}

function objectHeaders(attributes: Attributes, metadata: ObjectMetadata): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    etag: `"${metadata.etag}"`,
    'last-modified': httpDate(attributes.mtimeNs),
    'accept-ranges': 'bytes',
    'content-type': metadata.contentType ?? 'binary/octet-stream',
  };
  if (metadata.contentEncoding !== undefined) headers['content-encoding'] = metadata.contentEncoding;
  if (metadata.contentDisposition !== undefined) headers['content-disposition'] = metadata.contentDisposition;
  if (metadata.contentLanguage !== undefined) headers['content-language'] = metadata.contentLanguage;
  if (metadata.cacheControl !== undefined) headers['cache-control'] = metadata.cacheControl;
  if (metadata.expires !== undefined) headers.expires = metadata.expires;
  for (const [name, value] of Object.entries(metadata.userMetadata)) headers[`x-amz-meta-${name}`] = value;
  if (metadata.tags !== undefined && metadata.tags.length > 0) headers['x-amz-tagging-count'] = metadata.tags.length;
  if (metadata.partsCount !== undefined) headers['x-amz-mp-parts-count'] = metadata.partsCount;
  return headers;
}

/** The verified checksums of a body, as stored object metadata (none: nothing). */
function checksumsOf(verified: ReadonlyMap<string, string>): { checksums?: Record<string, string> } {
  return verified.size === 0 ? {} : { checksums: Object.fromEntries(verified) };
}

/** RFC 9110 §13.2.2 order, as S3 applies it: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since. */
function checkConditions(s3: BucketRequest, attributes: Attributes, etag: string, headers: Record<string, string | number>): void {
  const request = s3.request.headers;
  const modifiedMs = Math.floor(Number(attributes.mtimeNs / 1_000_000n) / 1000) * 1000;
  const matches = (list: string) => list.split(',').map((tag) => tag.trim().replace(/^W\//, '')).some((tag) => tag === '*' || tag === `"${etag}"` || tag === etag);
  const date = (text: string | undefined) => (text === undefined ? undefined : Date.parse(text));
  const ifMatch = request['if-match'];
  const ifUnmodified = date(request['if-unmodified-since']);
  if (ifMatch !== undefined) {
    if (!matches(ifMatch)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  } else if (ifUnmodified !== undefined && !Number.isNaN(ifUnmodified) && modifiedMs > ifUnmodified) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
  }
  const ifNoneMatch = request['if-none-match'];
  const ifModified = date(request['if-modified-since']);
  const notModified = ifNoneMatch !== undefined ? matches(ifNoneMatch) : ifModified !== undefined && !Number.isNaN(ifModified) && modifiedMs <= ifModified;
  if (notModified) throw new S3Error('NotModified', undefined, {}, { etag: headers.etag as string, 'last-modified': headers['last-modified'] as string });
}

/** A single `bytes=` range (S3 ignores multi-range requests and serves the whole object). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw new S3Error('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: String(size) }, { 'content-range': `bytes */${size}` });
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== '' && Number(match[2]) < start) return undefined;
  }
  if (start >= size) throw new S3Error('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: String(size) }, { 'content-range': `bytes */${size}` });
  return { start, end };
}

export async function getObject(services: S3Services, s3: BucketRequest, head: boolean): Promise<void> {
  const overrides = responseOverrides(s3);
  const found = await findObject(services, s3, { withXattrs: true });
  noteAuditedObject(s3.response, { fileId: found.attributes.id });
  const metadata: ObjectMetadata = found.attributes.type === 'file' ? objectMetadata(found.attributes, found.xattrs) : { etag: 'd41d8cd98f00b204e9800998ecf8427e', userMetadata: {} };
  const size = found.attributes.type === 'file' ? found.attributes.size : 0;
  const headers = objectHeaders(found.attributes, metadata);
  checkConditions(s3, found.attributes, metadata.etag, headers);
  Object.assign(headers, overrides);
  const part = partRange(s3, { size, partsCount: metadata.partsCount, ...(metadata.partSizes === undefined ? {} : { partSizes: metadata.partSizes }) });
  const range = part ?? (found.attributes.type === 'file' ? parseRange(s3.request.headers.range, size) : undefined);
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  headers['content-length'] = Math.max(0, end - start + 1);
  if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  // Stored full-object checksums, when asked for and the whole object is answered (S3 answers no
  // full-object checksum for a range).
  if (String(s3.request.headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED' && range === undefined && metadata.checksums !== undefined) {
    for (const [name, value] of Object.entries(metadata.checksums)) headers[name] = value;
    headers['x-amz-checksum-type'] = 'FULL_OBJECT';
  }
  // The first read happens before the status is sent, so a denied read is an AccessDenied answer
  // (HEAD too: a zero-byte read asks core whether the caller may read the data, with no data I/O).
  const first = found.attributes.type !== 'file' ? undefined : await services.fs.read(s3.ctx, found.handle, { offset: start, length: head || size === 0 ? 0 : Math.min(READ_PIECE_BYTES, end - start + 1) });
  s3.response.writeHead(range === undefined ? 200 : 206, headers);
  if (head || first === undefined || size === 0) {
    s3.response.end();
    return;
  }
  // The whole answer in the first read (small objects): headers and body leave in one write.
  if (first.data.length === end - start + 1) {
    s3.response.end(first.data);
    return;
  }
  // Headers are sent: a failure from here on can only cut the connection (the client sees a short body).
  let offset = start;
  let pending: typeof first | undefined = first;
  while (offset <= end) {
    const result = pending ?? (await services.fs.read(s3.ctx, found.handle, { offset, length: Math.min(READ_PIECE_BYTES, end - offset + 1) }));
    pending = undefined;
    if (result.data.length === 0) break;
    offset += result.data.length;
    if (!s3.response.write(result.data)) {
      await new Promise<void>((resolve, reject) => {
        s3.response.once('drain', resolve);
        s3.response.once('close', () => reject(new FsError('Cancelled', 'the client went away')));
      });
    }
  }
  s3.response.end();
}

/** DeleteObject: 204 whether or not the key existed (S3 semantics); empty parent folders go too. */
export async function deleteObject(services: S3Services, s3: BucketRequest): Promise<void> {
  await deleteKey(services, s3, s3.key ?? '');
  sendEmpty(s3.response, 204);
}

export async function deleteKey(services: S3Services, s3: BucketRequest, rawKey: string): Promise<void> {
  const key = parseObjectKey(rawKey);
  let found;
  try {
    found = await findObject(services, { ...s3, key: rawKey });
  } catch (error) {
    if (error instanceof S3Error && error.code === 'NoSuchKey') return;
    throw error;
  }
  const name = key.segments.at(-1) as string;
  const parent = await parentOf(services.fs, s3.ctx, found.root, key, false);
  if (key.folder) await services.fs.rmdir(s3.ctx, parent, name).catch((error: unknown) => {
    if (!(error instanceof FsError && error.code === 'NotEmpty')) throw error;
  });
  else {
    await services.fs.remove(s3.ctx, parent, name);
  }
  await removeEmptyParents(services, s3, key);
}

/**
 * After a delete, folders left empty disappear, as prefixes do in S3 once their last object is
 * gone. Best effort: stops at the first folder that is not empty or may not be removed.
 */
async function removeEmptyParents(services: S3Services, s3: BucketRequest, key: ObjectKey): Promise<void> {
  const root = await bucketRoot(services.fs, s3.ctx, s3.bucket);
  for (let depth = key.segments.length - 1; depth > 0; depth--) {
    try {
      const parent = await parentOf(services.fs, s3.ctx, root, { ...key, segments: key.segments.slice(0, depth) }, false);
      await services.fs.rmdir(s3.ctx, parent, key.segments[depth - 1] as string);
    } catch {
      return;
    }
  }
}

/** Copies `length` bytes by sharing chunks, one core call per GiB at most. */
export async function copyBytes(fs: FileSystem, ctx: OpContext, request: { source: NodeHandle; sourceOffset: number; target: NodeHandle; targetOffset: number; length: number }): Promise<void> {
  for (let done = 0; done < request.length; ) {
    const length = Math.min(COPY_BYTES_MAX, request.length - done);
    const result = await fs.copyRange(ctx, { source: request.source, sourceOffset: request.sourceOffset + done, target: request.target, targetOffset: request.targetOffset + done, length });
    if (result.bytesWritten === 0) break;
    done += result.bytesWritten;
  }
}

/** MD5 of a byte range, read through core (used only where no stored MD5 describes the bytes). */
export async function md5Of(fs: FileSystem, ctx: OpContext, node: NodeHandle, start: number, length: number): Promise<string> {
  const md5 = createHash('md5');
  for (let offset = start; offset < start + length; ) {
    const piece = await fs.read(ctx, node, { offset, length: Math.min(WRITE_PIECE_BYTES, start + length - offset) });
    if (piece.data.length === 0) break;
    md5.update(piece.data);
    offset += piece.data.length;
  }
  return md5.digest('hex');
}

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=null]`, URL-encoded. */
export function parseCopySource(s3: BucketRequest): { bucket: string; key: string } {
  const header = String(s3.request.headers['x-amz-copy-source']);
  const [path, query] = header.split('?') as [string, string | undefined];
  let decoded: string;
  try {
    decoded = decodeURIComponent(path).replace(/^\//, '');
  } catch {
    throw new S3Error('InvalidArgument', 'Copy Source is not properly URL-encoded', { ArgumentName: 'x-amz-copy-source' });
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  const versionId = query === undefined ? undefined : new URLSearchParams(query).get('versionId');
  if (versionId !== undefined && versionId !== null && versionId !== 'null') throw new S3Error('NoSuchKey', 'The specified version of the copy source does not exist.');
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

/**
 * x-amz-copy-source-if-*: If-Match true with If-Unmodified-Since false copies; If-None-Match false
 * with If-Modified-Since true fails (S3 API reference, CopyObject). Every failure is 412.
 */
export function checkCopySourceConditions(s3: BucketRequest, attributes: Attributes, etag: string): void {
  const header = (name: string) => {
    const value = s3.request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const modifiedMs = Math.floor(Number(attributes.mtimeNs / 1_000_000n) / 1000) * 1000;
  const matches = (list: string) => list.split(',').map((tag) => tag.trim().replace(/^W\//, '')).some((tag) => tag === '*' || tag === `"${etag}"` || tag === etag);
  const date = (text: string | undefined) => {
    const value = text === undefined ? Number.NaN : Date.parse(text);
    return Number.isNaN(value) ? undefined : value;
  };
  const fail = (condition: string) => new S3Error('PreconditionFailed', undefined, { Condition: condition });
  const ifMatch = header('x-amz-copy-source-if-match');
  const ifUnmodified = date(header('x-amz-copy-source-if-unmodified-since'));
  const ifNoneMatch = header('x-amz-copy-source-if-none-match');
  const ifModified = date(header('x-amz-copy-source-if-modified-since'));
  if (ifMatch !== undefined) {
    if (!matches(ifMatch)) throw fail('x-amz-copy-source-If-Match');
  } else if (ifUnmodified !== undefined && modifiedMs > ifUnmodified) throw fail('x-amz-copy-source-If-Unmodified-Since');
  if (ifNoneMatch !== undefined) {
    if (matches(ifNoneMatch)) throw fail('x-amz-copy-source-If-None-Match');
  } else if (ifModified !== undefined && modifiedMs <= ifModified) throw fail('x-amz-copy-source-If-Modified-Since');
}

/** The source object of a copy, with its metadata and an MD5 that describes its bytes. */
export async function copySource(services: S3Services, s3: BucketRequest, resolveSource: (bucket: string, key: string) => Promise<BucketRequest>): Promise<{ request: BucketRequest; handle: NodeHandle; attributes: Attributes; metadata: ObjectMetadata; stored: boolean }> {
  const { bucket, key } = parseCopySource(s3);
  const request = await resolveSource(bucket, key);
  const source = await findObject(services, request, { withXattrs: true });
  if (source.attributes.type !== 'file') throw new S3Error('NoSuchKey', undefined, { Key: key });
  const stored = storedObjectMetadata(source.xattrs);
  return { request, handle: source.handle, attributes: source.attributes, metadata: stored ?? objectMetadata(source.attributes, undefined), stored: stored !== undefined };
}

/**
 * CopyObject, server-side by sharing chunks (core copyRange, per GiB): no byte is read or written
 * unless the source has no stored MD5 (a file written by another protocol), which is then read
 * once to compute one. Metadata directive COPY (default) or REPLACE; tagging directive likewise.
 */
export async function copyObject(services: S3Services, s3: BucketRequest, resolveSource: (bucket: string, key: string) => Promise<BucketRequest>): Promise<void> {
  const source = await copySource(services, s3, resolveSource);
  checkCopySourceConditions(s3, source.attributes, source.metadata.etag);
  const key = parseObjectKey(s3.key ?? '');
  if (key.folder) throw new S3Error('InvalidArgument', 'A key ending in "/" is a folder and cannot hold data');
  const directive = String(s3.request.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' });
  const taggingDirective = String(s3.request.headers['x-amz-tagging-directive'] ?? 'COPY').toUpperCase();
  if (taggingDirective !== 'COPY' && taggingDirective !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive' });
  if (directive === 'COPY' && taggingDirective === 'COPY' && !hasStorageClass(s3.request.headers) && source.request.bucket.name === s3.bucket.name && source.request.key === s3.key) {
    throw new S3Error('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  const { etag: _etag, tags: sourceTags, ...kept } = source.metadata;
  const replaced = metadataFromHeaders(s3);
  const { tags: _replacedTags, ...replacedRest } = replaced;
  const tags = taggingDirective === 'COPY' ? sourceTags : replaced.tags;
  const metadata = { ...(directive === 'COPY' ? kept : replacedRest), ...(tags === undefined ? {} : { tags }) };
  const size = source.attributes.size;
  const result = await stageAndPublish(
    services,
    s3,
    key,
    async (stage) => {
      await copyBytes(services.fs, s3.ctx, { source: source.handle, sourceOffset: 0, target: stage, targetOffset: 0, length: size });
      return source.stored ? source.metadata.etag : md5Of(services.fs, s3.ctx, source.handle, 0, size);
    },
    metadata,
    { noReplace: false },
  );
  noteAuditedObject(s3.response, { fileId: result.attributes.id, size });
  sendXml(s3.response, 200, 'CopyObjectResult', element('LastModified', isoTime(result.attributes.mtimeNs)) + element('ETag', `"${result.etag}"`));
}
