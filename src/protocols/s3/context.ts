import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpContext } from '../../core/context.js';
import type { FileSystem } from '../../core/file-system.js';
import type { Bucket, BucketStore } from './buckets.js';
import type { MultipartStore } from './multipart.js';
import type { Md5Offload } from './md5-offload.js';
import type { VerifiedSignature, ParsedAuthorization } from './sigv4.js';

/** What one S3 operation gets: the decoded request, the caller's core context, the stores. */
export interface S3Request {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly ctx: OpContext;
  readonly method: string;
  readonly bucketName?: string;
  readonly key?: string;
  readonly query: ReadonlyMap<string, string>;
  /** The request's headers by lower-case name, repeats joined with `,` (sigv4.ts headerValues), read once per request. */
  readonly headerValues: ReadonlyMap<string, string>;
  readonly auth: ParsedAuthorization;
  readonly verified: VerifiedSignature;
  readonly ownerId: string;
  readonly ownerName: string;
  /** No signature: admitted by a bucket policy for "*", running as nobody through core. */
  readonly anonymous: boolean;
  /** Checks the bucket policy for one more action on a key (DeleteObjects, copy sources). */
  readonly authorize?: (action: string, key: string | undefined) => void;
}

export interface S3Services {
  readonly fs: FileSystem;
  readonly buckets: BucketStore;
  /** Where CreateBucket makes bucket directories (s3 settings base_path). */
  readonly basePath: () => Promise<string>;
  readonly objectBytesMax: number;
  readonly nowMs: () => number;
  readonly uploads: MultipartStore;
  /** Where the MD5 of large request bodies is computed (payload.ts). */
  readonly md5Offload?: Md5Offload;
}

export interface BucketRequest extends S3Request {
  readonly bucket: Bucket;
}
