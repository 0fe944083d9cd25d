import type { OpContext } from '../../core/context.js';
import { FsError } from '../../core/errors.js';
import type { FileSystem, Attributes, NodeHandle } from '../../core/file-system.js';
import { Keyspace } from '../../storage/metadata/keyspaces.js';
import { ExactCache } from '../../storage/metadata/exact-cache.js';
import type { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { key, prefixEnd } from '../../storage/metadata/tuple.js';
import { S3Error } from './errors.js';

/**
 * Buckets: a name bound to a directory. The record keeps the directory's node id and generation
 * (the truth: a bucket follows its directory through renames) and the path it had when bound (for
 * display). Deleting a bucket record never deletes files: DeleteBucket over S3 removes the
 * directory only when it is empty, the management API only detaches.
 *
 * Records under Keyspace.settings sub-tag 0x40 (S3 owns 0x40-0x4f): [0x30, 0x40, name] -> JSON.
 */
const BUCKET = 0x40;
export const BUCKETS_MAX = 10_000;

export interface Bucket {
  readonly name: string;
  readonly path: string;
  readonly rootId: number;
  readonly rootGeneration: number;
  readonly createdAtMs: number;
  /** The uid of the user who created it (ListBuckets' Owner). */
  readonly ownerUid?: number;
  /** The bucket policy as the owner sent it (JSON text), validated on PutBucketPolicy. */
  readonly policy?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bucketKey = (name: string) => key().byte(Keyspace.settings).byte(BUCKET).string(name).build();
const bucketsPrefix = () => key().byte(Keyspace.settings).byte(BUCKET).build();

/** The shape every stored bucket name has: 3-63 of [a-z0-9.-] with alphanumeric ends (lookups take only these). */
const BUCKET_NAME_SHAPE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Prefixes and suffixes S3 reserves (S3 User Guide, "General purpose bucket naming rules"). */
const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_BUCKET_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/**
 * S3 bucket naming rules (general purpose buckets) for new buckets: 3-63 of [a-z0-9.-],
 * alphanumeric ends, no `..`, not an IP address, no reserved prefix or suffix; and, for names
 * used as a DNS label in virtual-hosted-style addressing, no `.-` or `-.`.
 */
export function isValidBucketName(name: string): boolean {
  return (
    BUCKET_NAME_SHAPE.test(name) &&
    !name.includes('..') &&
    !name.includes('.-') &&
    !name.includes('-.') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !RESERVED_BUCKET_PREFIXES.some((prefix) => name.startsWith(prefix)) &&
    !RESERVED_BUCKET_SUFFIXES.some((suffix) => name.endsWith(suffix))
  );
}

/**
 * Bucket records. Every S3 request reads one, so records are kept in memory (every bucket fits:
 * BUCKETS_MAX), exactly: each write below goes through `#cache.mutate` (ExactCache), so a removed
 * bucket or a changed policy takes effect at the next request. That needs one BucketStore per
 * metadata store: the composition root makes it (management.ts) and the S3 server shares it.
 */
export class BucketStore {
  readonly #cache = new ExactCache<string, Bucket>({ entriesMax: BUCKETS_MAX });

  constructor(private readonly options: { metadata: MetadataStore }) {}

  /** The record, frozen (it is shared with later callers). */
  async get(name: string): Promise<Bucket | undefined> {
    // The shape only: a bucket bound before a naming rule was added stays reachable.
    if (!BUCKET_NAME_SHAPE.test(name)) return undefined;
    return this.#cache.get(name, async () => {
      const value = await this.options.metadata.read((tx) => tx.get(bucketKey(name)));
      return value === undefined ? undefined : Object.freeze(JSON.parse(decoder.decode(value)) as Bucket);
    });
  }

  /** Buckets in name order. */
  async list(): Promise<Bucket[]> {
    const entries = await this.options.metadata.read((tx) => tx.scan({ start: bucketsPrefix(), end: prefixEnd(bucketsPrefix()), limit: BUCKETS_MAX }));
    return entries.map((entry) => JSON.parse(decoder.decode(entry.value)) as Bucket);
  }

  /** Exists when the name is taken. */
  async add(bucket: Bucket): Promise<void> {
    if (!isValidBucketName(bucket.name)) throw new FsError('InvalidArgument', `invalid bucket name ${bucket.name}: 3-63 lower-case letters, digits, dots and hyphens`);
    await this.#cache.mutate([bucket.name], () => this.options.metadata.write(async (tx) => {
      if ((await tx.get(bucketKey(bucket.name))) !== undefined) throw new FsError('Exists', `the bucket ${bucket.name} exists`);
      const count = await tx.scan({ start: bucketsPrefix(), end: prefixEnd(bucketsPrefix()), limit: BUCKETS_MAX });
      if (count.length >= BUCKETS_MAX) throw new FsError('NoSpace', `at most ${BUCKETS_MAX} buckets`);
      tx.put(bucketKey(bucket.name), encoder.encode(JSON.stringify(bucket)));
    }));
  }

  /** Sets (or with undefined removes) the bucket policy; NotFound when the bucket is gone. */
  async setPolicy(name: string, policy: string | undefined): Promise<void> {
    await this.#cache.mutate([name], () => this.options.metadata.write(async (tx) => {
      const value = await tx.get(bucketKey(name));
      if (value === undefined) throw new FsError('NotFound', `no bucket ${name}`);
      const { policy: _old, ...bucket } = JSON.parse(decoder.decode(value)) as Bucket;
      tx.put(bucketKey(name), encoder.encode(JSON.stringify(policy === undefined ? bucket : { ...bucket, policy })));
    }));
  }

  async remove(name: string): Promise<void> {
    await this.#cache.mutate([name], () => this.options.metadata.write(async (tx) => {
      if ((await tx.get(bucketKey(name))) === undefined) throw new FsError('NotFound', `no bucket ${name}`);
      tx.delete(bucketKey(name));
    }));
  }
}

/**
 * The live root directory of a bucket, checked with one read; NoSuchBucket when it was deleted
 * (or its id reused). Hot paths use withBucketRoot instead, which reads nothing up front.
 */
export async function bucketRoot(fs: FileSystem, ctx: OpContext, bucket: Bucket): Promise<NodeHandle> {
  const gone = () => new S3Error('NoSuchBucket', `The directory of bucket ${bucket.name} is gone`, { BucketName: bucket.name });
  let handle: NodeHandle;
  try {
    handle = await fs.handleOf(ctx, bucket.rootId);
  } catch (error) {
    if (error instanceof FsError && (error.code === 'NotFound' || error.code === 'Stale')) throw gone();
    throw error;
  }
  if (handle.generation !== bucket.rootGeneration) throw gone();
  return handle;
}

/**
 * Runs `use` with the bucket's recorded root handle, without the read bucketRoot makes. Core
 * checks a handle on its first use: a root that was deleted, or whose id was reused, fails with
 * Stale there, and only then is the root looked at (bucketRoot), so a bucket whose directory is
 * gone still answers NoSuchBucket, exactly as before. Any other error, and a Stale while the root
 * is alive (a node under it removed meanwhile), is `use`'s own. `use` must touch the root before
 * any side effect it would not want done for a vanished bucket.
 */
export async function withBucketRoot<T>(fs: FileSystem, ctx: OpContext, bucket: Bucket, use: (root: NodeHandle) => Promise<T>): Promise<T> {
  try {
    return await use({ id: bucket.rootId, generation: bucket.rootGeneration });
  } catch (error) {
    if (error instanceof FsError && error.code === 'Stale') await bucketRoot(fs, ctx, bucket);
    throw error;
  }
}

/** The attributes of the bucket's root directory as `ctx` may see them: one core call. */
export function bucketRootAttributes(fs: FileSystem, ctx: OpContext, bucket: Bucket): Promise<Attributes> {
  return withBucketRoot(fs, ctx, bucket, (root) => fs.getattr(ctx, root));
}

/**
 * Makes `path` (absolute) a directory, creating the missing components as `ctx`; answers it and
 * whether the last component was created.
 */
export async function ensureDirectory(fs: FileSystem, ctx: OpContext, path: string, options: { uid?: number; gid?: number; mustCreate: boolean }): Promise<{ handle: NodeHandle; created: boolean }> {
  let current = await fs.root(ctx);
  const names = path.split('/').filter((name) => name !== '');
  if (names.length === 0) {
    if (options.mustCreate) throw new FsError('Exists', 'the root directory exists');
    return { handle: current, created: false };
  }
  for (const [index, name] of names.entries()) {
    const last = index === names.length - 1;
    try {
      const made = await fs.mkdir(ctx, current, name, { mode: 0o755, ...(last && options.uid !== undefined ? { uid: options.uid } : {}), ...(last && options.gid !== undefined ? { gid: options.gid } : {}) });
      current = made.handle;
      if (last) return { handle: current, created: true };
    } catch (error) {
      if (!(error instanceof FsError) || error.code !== 'Exists') throw error;
      if (last && options.mustCreate) throw error;
      const found = await fs.lookup(ctx, current, name);
      if (found.attributes.type !== 'directory') throw new FsError('NotADirectory', `${names.slice(0, index + 1).join('/')} is not a directory`);
      current = found.handle;
    }
  }
  return { handle: current, created: false };
}
