/**
 * Object tagging (S3 API reference: PutObjectTagging, GetObjectTagging, DeleteObjectTagging, and
 * the x-amz-tagging header of PutObject, CopyObject and CreateMultipartUpload). Tags live in the
 * object's S3 metadata record; limits as AWS: at most 10 tags, keys 1-128 and values 0-256
 * Unicode characters, keys unique.
 */
import type { BucketRequest, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { findObject } from './object-operations.js';
import { objectMetadata, objectXattrs, type ObjectMetadata } from './object-metadata.js';
import { sendEmpty, sendXml } from './respond.js';
import { readSmallBody } from './small-body.js';
import { element, parseXml } from './xml.js';
import { noteAuditedObject } from './s3-audit.js';

export const TAGS_MAX = 10;
export const TAG_KEY_CHARS_MAX = 128;
export const TAG_VALUE_CHARS_MAX = 256;
const TAGGING_BODY_BYTES_MAX = 64 * 1024;

export type Tag = { readonly key: string; readonly value: string };

export function validateTags(tags: readonly Tag[]): Tag[] {
  if (tags.length > TAGS_MAX) throw new S3Error('InvalidTag', `Object tags cannot be greater than ${TAGS_MAX}`);
  const seen = new Set<string>();
  for (const tag of tags) {
    const keyChars = [...tag.key].length;
    if (keyChars === 0 || keyChars > TAG_KEY_CHARS_MAX) throw new S3Error('InvalidTag', `The TagKey you have provided is invalid (1 to ${TAG_KEY_CHARS_MAX} characters)`);
    if ([...tag.value].length > TAG_VALUE_CHARS_MAX) throw new S3Error('InvalidTag', `The TagValue you have provided is invalid (at most ${TAG_VALUE_CHARS_MAX} characters)`);
    if (tag.key.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    if (seen.has(tag.key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(tag.key);
  }
  return [...tags];
}

/** `x-amz-tagging: k1=v1&k2=v2` (URL query encoding). */
export function parseTaggingHeader(header: string): Tag[] {
  const tags: Tag[] = [];
  if (header.trim() === '') return tags;
  for (const pair of header.split('&')) {
    const equals = pair.indexOf('=');
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        throw new S3Error('InvalidArgument', 'The header x-amz-tagging is not properly URL-encoded', { ArgumentName: 'x-amz-tagging' });
      }
    };
    tags.push(equals === -1 ? { key: decode(pair), value: '' } : { key: decode(pair.slice(0, equals)), value: decode(pair.slice(equals + 1)) });
  }
  return validateTags(tags);
}

async function taggedObject(services: S3Services, s3: BucketRequest) {
  // Tags are part of the object's stored metadata (its extended attributes): reading them needs
  // READ_NAMED_ATTRS through core, changing them WRITE_NAMED_ATTRS.
  const found = await findObject(services, s3, { withXattrs: true });
  if (found.attributes.type !== 'file') throw new S3Error('NoSuchKey', undefined, { Key: s3.key ?? '' });
  return { found, metadata: objectMetadata(found.attributes, found.xattrs) };
}

export async function getObjectTagging(services: S3Services, s3: BucketRequest): Promise<void> {
  const { metadata } = await taggedObject(services, s3);
  const tags = (metadata.tags ?? []).map((tag) => element('Tag', [element('Key', tag.key), element('Value', tag.value)]));
  sendXml(s3.response, 200, 'Tagging', element('TagSet', tags));
}

async function replaceTags(services: S3Services, s3: BucketRequest, tags: readonly Tag[]): Promise<void> {
  const { found, metadata } = await taggedObject(services, s3);
  const { tags: _old, ...rest } = metadata;
  const next: ObjectMetadata = { ...rest, ...(tags.length === 0 ? {} : { tags }) };
  noteAuditedObject(s3.response, { fileId: found.attributes.id, before: { tags: metadata.tags ?? [] }, after: { tags } });
  await services.fs.setXattrs(s3.ctx, found.handle, objectXattrs(next));
}

export async function putObjectTagging(services: S3Services, s3: BucketRequest): Promise<void> {
  const root = parseXml((await readSmallBody(s3, TAGGING_BODY_BYTES_MAX)).toString('utf8'));
  if (root.name !== 'Tagging') throw new S3Error('MalformedXML');
  const tagSet = root.children.find((child) => child.name === 'TagSet');
  if (tagSet === undefined) throw new S3Error('MalformedXML', 'Tagging needs a TagSet');
  const tags = tagSet.children.map((tag) => {
    if (tag.name !== 'Tag') throw new S3Error('MalformedXML', 'a TagSet holds Tag elements only');
    const key = tag.children.find((child) => child.name === 'Key')?.text;
    const value = tag.children.find((child) => child.name === 'Value')?.text ?? '';
    if (key === undefined) throw new S3Error('MalformedXML', 'every Tag needs a Key');
    return { key, value };
  });
  await replaceTags(services, s3, validateTags(tags));
  sendEmpty(s3.response, 200);
}

export async function deleteObjectTagging(services: S3Services, s3: BucketRequest): Promise<void> {
  await replaceTags(services, s3, []);
  sendEmpty(s3.response, 204);
}
