import { createHash } from 'node:crypto';
import type { Attributes, Xattrs } from '../../core/file-system.js';

/**
 * Per-object S3 metadata (ETag, Content-Type and the other stored headers, x-amz-meta-*, tags)
 * lives in the file's extended attribute `content.s3` (JSON). Core removes `content.*` attributes
 * in the transaction of any change to the data, whichever protocol makes it, so a stored ETag is
 * always the MD5 of the bytes it sits beside; a file without one (written over NFS, SMB, REST, or
 * changed since) gets a derived ETag and no stored headers. The attribute is versioned with the
 * file (snapshots keep it) and goes with it.
 */
export const OBJECT_XATTR = 'content.s3';
export const USER_METADATA_BYTES_MAX = 2_048;

export interface ObjectMetadata {
  readonly etag: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly contentDisposition?: string;
  readonly contentLanguage?: string;
  readonly cacheControl?: string;
  readonly expires?: string;
  /** x-amz-meta-* without the prefix, names lower-case. */
  readonly userMetadata: Readonly<Record<string, string>>;
  /** Object tags, in the order given (at most 10). */
  readonly tags?: ReadonlyArray<{ readonly key: string; readonly value: string }>;
  /** Parts of a multipart object (x-amz-mp-parts-count). */
  readonly partsCount?: number;
  /**
   * The sizes of a multipart object's parts in order, run-length encoded as [bytes, count] pairs
   * (parts are usually all one size but the last), for GET and HEAD by partNumber.
   */
  readonly partSizes?: ReadonlyArray<readonly [number, number]>;
  /**
   * Full-object checksums the upload carried and that matched its bytes (`x-amz-checksum-crc32`
   * and the like -> base64), answered on GetObject and HeadObject with x-amz-checksum-mode ENABLED.
   */
  readonly checksums?: Readonly<Record<string, string>>;
}

/** [bytes, count] runs of part sizes. */
export function encodePartSizes(sizes: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const size of sizes) {
    const last = runs.at(-1);
    if (last !== undefined && last[0] === size) last[1]++;
    else runs.push([size, 1]);
  }
  return runs;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An ETag for content S3 did not write: stable for one content version, never an MD5. */
export function derivedEtag(attributes: Attributes): string {
  return createHash('sha256').update(`${attributes.id}:${attributes.generation}:${attributes.size}:${attributes.mtimeNs}`).digest('hex').slice(0, 32);
}

/** The extended attributes that store `metadata` on a file. */
export function objectXattrs(metadata: ObjectMetadata): Xattrs {
  return { [OBJECT_XATTR]: encoder.encode(JSON.stringify(metadata)) };
}

/** The metadata S3 stored with the file's current content, if any. */
export function storedObjectMetadata(xattrs: Xattrs | undefined): ObjectMetadata | undefined {
  const value = xattrs?.[OBJECT_XATTR];
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(decoder.decode(value)) as ObjectMetadata;
    return typeof parsed.etag === 'string' && typeof parsed.userMetadata === 'object' && parsed.userMetadata !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The stored metadata, or for content S3 did not write a derived ETag and nothing else. */
export function objectMetadata(attributes: Attributes, xattrs: Xattrs | undefined): ObjectMetadata {
  return storedObjectMetadata(xattrs) ?? { etag: derivedEtag(attributes), userMetadata: {} };
}
