import type { OpContext } from '../../core/context.js';
import { FsError } from '../../core/errors.js';
import type { Attributes, FileSystem, NodeHandle, Xattrs } from '../../core/file-system.js';
import { bucketRoot, withBucketRoot } from './buckets.js';
import type { BucketRequest, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { compareKeys, RESERVED_PREFIX } from './object-keys.js';
import { isoTime, ownerElements, sendXml } from './respond.js';
import { uriEncode } from './sigv4.js';
import { element } from './xml.js';
import { objectMetadata } from './object-metadata.js';

export const MAX_KEYS_MAX = 1_000;
const READDIR_PAGE = 1_000;

/** A listed object: its attributes, and its extended attributes (stored S3 metadata) when the caller may read them. */
export interface ListedObject {
  readonly key: string;
  readonly attributes: Attributes;
  readonly xattrs?: Xattrs;
}
type Item = ({ kind: 'object' } & ListedObject) | { kind: 'prefix'; key: string };
type Pending = { sortKey: string; name: string; handle: NodeHandle; type: 'file' | 'directory'; attributes?: Attributes; xattrs?: Xattrs };

/**
 * Keys under a directory in S3 order (UTF-8 bytes of the full key). A directory `d` sorts as
 * `d/`, after names like `d-x` and `d.x` that the directory listing gives after `d`, so entries
 * wait in a small sorted queue until no later name can sort before them. Directories are read
 * page by page with core cursors, never whole; subtrees entirely before `after` are skipped.
 * With delimiter `/`, a directory is answered as one prefix instead of being walked.
 */
async function* walk(fs: FileSystem, ctx: OpContext, dir: NodeHandle, base: string, options: { prefix: string; after: string; slashDelimiter: boolean }): AsyncGenerator<Item> {
  const pending: Pending[] = [];
  const emit = async function* (item: Pending): AsyncGenerator<Item> {
    if (item.type === 'file') {
      if (compareKeys(item.sortKey, options.after) > 0 && item.sortKey.startsWith(options.prefix) && item.attributes !== undefined) yield { kind: 'object', key: item.sortKey, attributes: item.attributes, ...(item.xattrs === undefined ? {} : { xattrs: item.xattrs }) };
      return;
    }
    const dirKey = item.sortKey;
    // Only descend where keys may match the prefix and may come after `after`.
    if (!(dirKey.startsWith(options.prefix) || options.prefix.startsWith(dirKey))) return;
    if (compareKeys(options.after, dirKey) > 0 && !options.after.startsWith(dirKey)) return;
    if (options.slashDelimiter && dirKey.startsWith(options.prefix)) {
      if (compareKeys(dirKey, options.after) > 0) yield { kind: 'prefix', key: dirKey };
      return;
    }
    yield* walk(fs, ctx, item.handle, dirKey, options);
  };
  let cursor: string | undefined;
  do {
    let page;
    try {
      page = await fs.readdir(ctx, dir, { limit: READDIR_PAGE, withAttributes: true, withXattrs: true, ...(cursor === undefined ? {} : { cursor }) });
    } catch (error) {
      // A folder the caller may not list is left out, as a key they may not see.
      if (error instanceof FsError && error.code === 'PermissionDenied' && base !== '') return;
      throw error;
    }
    cursor = page.cursor;
    for (const entry of page.entries) {
      if (entry.name.startsWith(RESERVED_PREFIX) || (entry.type !== 'file' && entry.type !== 'directory')) continue;
      const fullName = base + entry.name;
      while (pending.length > 0 && compareKeys((pending[0] as Pending).sortKey, fullName) < 0) yield* emit(pending.shift() as Pending);
      const sortKey = entry.type === 'directory' ? `${fullName}/` : fullName;
      const item: Pending = { sortKey, name: entry.name, handle: entry.handle, type: entry.type, ...(entry.attributes === undefined ? {} : { attributes: entry.attributes }), ...(entry.xattrs === undefined ? {} : { xattrs: entry.xattrs }) };
      let index = pending.findIndex((other) => compareKeys(other.sortKey, sortKey) > 0);
      if (index === -1) index = pending.length;
      pending.splice(index, 0, item);
    }
  } while (cursor !== undefined);
  for (const item of pending) yield* emit(item);
}

interface ListInput {
  readonly prefix: string;
  readonly delimiter: string;
  readonly after: string;
  readonly maxKeys: number;
}

type ListedKeys = { objects: ListedObject[]; prefixes: string[]; truncated: boolean; last?: string };

export function listKeys(services: S3Services, s3: BucketRequest, input: ListInput): Promise<ListedKeys> {
  return withBucketRoot(services.fs, s3.ctx, s3.bucket, (root) => listKeysUnder(services, s3, input, root));
}

async function listKeysUnder(services: S3Services, s3: BucketRequest, input: ListInput, root: NodeHandle): Promise<ListedKeys> {
  // Start at the deepest folder the prefix names completely.
  let start = root;
  let base = '';
  const folders = input.prefix.split('/').slice(0, -1);
  for (const name of folders) {
    try {
      const found = await services.fs.lookup(s3.ctx, start, name);
      if (found.attributes.type !== 'directory') return { objects: [], prefixes: [], truncated: false };
      start = found.handle;
      base += `${name}/`;
    } catch (error) {
      if (error instanceof FsError && (error.code === 'NotFound' || error.code === 'InvalidName' || error.code === 'NameTooLong')) return { objects: [], prefixes: [], truncated: false };
      throw error;
    }
  }
  const objects: ListedObject[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  const count = () => objects.length + prefixes.length;
  if (input.maxKeys === 0) {
    // Nothing below touches the root then: check it, so a vanished bucket is still NoSuchBucket.
    if (start === root) await bucketRoot(services.fs, s3.ctx, s3.bucket);
    return { objects, prefixes, truncated: false };
  }
  for await (const item of walk(services.fs, s3.ctx, start, base, { prefix: input.prefix, after: input.after, slashDelimiter: input.delimiter === '/' })) {
    let entry: Item = item;
    if (input.delimiter !== '' && entry.kind === 'object') {
      const at = entry.key.indexOf(input.delimiter, input.prefix.length);
      if (at !== -1) entry = { kind: 'prefix', key: entry.key.slice(0, at + input.delimiter.length) };
    }
    if (entry.kind === 'prefix' && (prefixes.at(-1) === entry.key || compareKeys(entry.key, input.after) <= 0 || input.after.startsWith(entry.key))) continue;
    if (count() === input.maxKeys) return { objects, prefixes, truncated: true, ...(last === undefined ? {} : { last }) };
    if (entry.kind === 'prefix') prefixes.push(entry.key);
    else objects.push({ key: entry.key, attributes: entry.attributes, ...(entry.xattrs === undefined ? {} : { xattrs: entry.xattrs }) });
    last = entry.key;
  }
  return { objects, prefixes, truncated: false, ...(last === undefined ? {} : { last }) };
}

export function maxKeysOf(s3: BucketRequest): number {
  const text = s3.query.get('max-keys');
  if (text === undefined) return MAX_KEYS_MAX;
  if (!/^\d{1,9}$/.test(text)) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: text });
  return Math.min(Number(text), MAX_KEYS_MAX);
}

/** ListObjectsV2 (list-type=2) and ListObjects (v1, marker). */
export async function listObjects(services: S3Services, s3: BucketRequest, version: 1 | 2): Promise<void> {
  const prefix = s3.query.get('prefix') ?? '';
  const delimiter = s3.query.get('delimiter') ?? '';
  const encodingType = s3.query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
  const encode = (text: string) => (encodingType === 'url' ? uriEncode(text, true) : text);
  const maxKeys = maxKeysOf(s3);
  let after = '';
  const token = s3.query.get('continuation-token');
  if (version === 2) {
    if (token !== undefined) {
      const decoded = Buffer.from(token, 'base64url').toString('utf8');
      if (!decoded.startsWith('k:')) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
      after = decoded.slice(2);
    } else after = s3.query.get('start-after') ?? '';
  } else after = s3.query.get('marker') ?? '';
  const result = await listKeys(services, s3, { prefix, delimiter, after, maxKeys });
  const contents: string[] = [];
  for (const object of result.objects) {
    const metadata = objectMetadata(object.attributes, object.xattrs);
    contents.push(element('Contents', [
      element('Key', encode(object.key)),
      element('LastModified', isoTime(object.attributes.mtimeNs)),
      element('ETag', `"${metadata.etag}"`),
      element('Size', object.attributes.size),
      element('StorageClass', 'STANDARD'),
      // V2 answers Owner only for fetch-owner=true; V1 always does (S3 API reference, ListObjectsV2, ListObjects).
      ...(s3.query.get('fetch-owner') === 'true' || version === 1 ? [element('Owner', ownerElements(s3, object.attributes.uid))] : []),
    ]));
  }
  const common = result.prefixes.map((item) => element('CommonPrefixes', [element('Prefix', encode(item))]));
  const parts = [element('Name', s3.bucket.name), element('Prefix', encode(prefix))];
  if (version === 2) {
    if (token !== undefined) parts.push(element('ContinuationToken', token));
    if (s3.query.has('start-after')) parts.push(element('StartAfter', encode(s3.query.get('start-after') ?? '')));
    parts.push(element('KeyCount', result.objects.length + result.prefixes.length));
  } else {
    parts.push(element('Marker', encode(after)));
  }
  parts.push(element('MaxKeys', maxKeys));
  if (delimiter !== '') parts.push(element('Delimiter', encode(delimiter)));
  if (encodingType !== undefined) parts.push(element('EncodingType', 'url'));
  parts.push(element('IsTruncated', result.truncated));
  if (result.truncated && result.last !== undefined) {
    if (version === 2) parts.push(element('NextContinuationToken', Buffer.from(`k:${result.last}`, 'utf8').toString('base64url')));
    // ListObjects (V1): "This element is returned only if you have the delimiter request parameter
    // specified"; without one, clients continue from the last Key.
    else if (delimiter !== '') parts.push(element('NextMarker', encode(result.last)));
  }
  sendXml(s3.response, 200, 'ListBucketResult', parts.join('') + contents.join('') + common.join(''));
}
