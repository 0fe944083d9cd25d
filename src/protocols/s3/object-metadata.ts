import { createHash } from 'node:crypto';
import type { Attributes } from '../../core/file-system.js';
import { Keyspace } from '../../storage/metadata/keyspaces.js';
import type { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { key } from '../../storage/metadata/tuple.js';

/**
 * Per-object S3 metadata (ETag, Content-Type and the other stored headers, x-amz-meta-*) kept
 * beside the file, keyed by node id, until core has extended attributes (then it moves there).
 * A record is valid only for the content it describes: it carries the size and mtime the file had
 * when written, and a file changed since (over NFS, SMB, REST) gets a derived ETag and no stored
 * headers. S3 deletes the record with the object; a file deleted by another protocol leaves its
 * record behind until a node with that id is written over S3 again (the id is not reused with
 * the same generation, which the record also carries).
 *
 * Records under Keyspace.settings sub-tag 0x41: [0x30, 0x41, uint node id] -> JSON.
 */
const OBJECT_METADATA = 0x41;
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
}

interface StoredObjectMetadata extends ObjectMetadata {
  readonly generation: number;
  readonly size: number;
  readonly mtimeNs: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const recordKey = (id: number) => key().byte(Keyspace.settings).byte(OBJECT_METADATA).uint(id).build();

/** An ETag for content S3 did not write: stable for one content version, never an MD5. */
export function derivedEtag(attributes: Attributes): string {
  return createHash('sha256').update(`${attributes.id}:${attributes.generation}:${attributes.size}:${attributes.mtimeNs}`).digest('hex').slice(0, 32);
}

export class ObjectMetadataStore {
  constructor(private readonly options: { metadata: MetadataStore }) {}

  async put(attributes: Attributes, metadata: ObjectMetadata): Promise<void> {
    const stored: StoredObjectMetadata = { ...metadata, generation: attributes.generation, size: attributes.size, mtimeNs: String(attributes.mtimeNs) };
    await this.options.metadata.write(async (tx) => tx.put(recordKey(attributes.id), encoder.encode(JSON.stringify(stored))));
  }

  /** The stored metadata if it still describes the file's content; else a derived ETag only. */
  async get(attributes: Attributes): Promise<ObjectMetadata> {
    return (await this.stored(attributes)) ?? { etag: derivedEtag(attributes), userMetadata: {} };
  }

  /** The stored metadata if it still describes the file's content (S3 wrote it). */
  async stored(attributes: Attributes): Promise<ObjectMetadata | undefined> {
    const value = await this.options.metadata.read((tx) => tx.get(recordKey(attributes.id)));
    if (value !== undefined) {
      const stored = JSON.parse(decoder.decode(value)) as StoredObjectMetadata;
      if (stored.generation === attributes.generation && stored.size === attributes.size && stored.mtimeNs === String(attributes.mtimeNs)) {
        const { generation: _g, size: _s, mtimeNs: _m, ...metadata } = stored;
        return metadata;
      }
    }
    return undefined;
  }

  async delete(id: number): Promise<void> {
    await this.options.metadata.write(async (tx) => tx.delete(recordKey(id)));
  }
}
