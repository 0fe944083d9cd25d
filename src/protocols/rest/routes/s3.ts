import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { OpContext } from '../../../core/context.js';
import { systemContext } from '../../../core/context.js';
import { FsError } from '../../../core/errors.js';
import type { FileSystem } from '../../../core/file-system.js';
import type { S3AccessKey, S3AccessKeys } from '../../../identity/s3-access-keys.js';
import { ensureDirectory, isValidBucketName, type Bucket, type BucketStore } from '../../s3/buckets.js';
import { callerOf } from '../caller.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';
import type { Logger } from 'pino';

/**
 * S3 management: access keys (`/v1/s3/access-keys`, and the caller's own under
 * `/v1/session/s3-access-keys`) and buckets (`/v1/s3/buckets`). A secret appears only in the
 * answer that creates it. Deleting a bucket here detaches it and keeps its directory. The caller's
 * own keys need S3_SELF_WRITE, not merely a login: an S3 key is a data credential, and a user
 * with no role reaches nothing but who-am-i, change-password, logout and their second factor.
 */
export interface S3RoutesDeps {
  readonly accessKeys: S3AccessKeys;
  readonly buckets: BucketStore;
  readonly fs: FileSystem;
  readonly logger: Logger;
  readonly findUserByName: (name: string) => Promise<{ id: string; name: string; uid: number; primaryGid: number } | undefined>;
  readonly findUserById: (id: string) => Promise<{ id: string; name: string } | undefined>;
  /** s3 settings base_path: where new bucket directories go. */
  readonly basePath: () => Promise<string>;
  readonly nowMs: () => number;
}

const KeyBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), expiration: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });
const OwnKeyBody = Type.Object({ expiration: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });
const KeyParams = Type.Object({ id: Type.String({ maxLength: 32 }) });
const KeyQuery = Type.Object({ username: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const BucketBody = Type.Object(
  {
    name: Type.String({ minLength: 3, maxLength: 63 }),
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    owner: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A user name: a new bucket directory is owned by this user.' })),
  },
  { additionalProperties: false },
);
const BucketParams = Type.Object({ name: Type.String({ maxLength: 63 }) });
const KeySchema = Type.Object({
  access_key_id: Type.String(),
  user_id: Type.String(),
  username: Type.Union([Type.String(), Type.Null()], { description: 'null when the user is gone' }),
  created: Type.String({ description: 'RFC 3339' }),
  expiration: Type.Union([Type.String(), Type.Null()]),
  expired: Type.Boolean(),
});
const CreatedKeySchema = Type.Object({ ...KeySchema.properties, secret_access_key: Type.String({ description: 'Shown only in this answer.' }) });
const KeyListSchema = Type.Object({ entries: Type.Array(KeySchema) });
const BucketSchema = Type.Object({
  name: Type.String(),
  path: Type.String(),
  id: Type.String({ description: "the bucket directory's file id" }),
  created: Type.String({ description: 'RFC 3339' }),
});

function expiryOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new ApiError(400, 'http_bad_request_error', 'expiration must be an RFC 3339 date-time');
  return ms;
}

async function keyView(deps: S3RoutesDeps, key: S3AccessKey): Promise<Record<string, unknown>> {
  const user = await deps.findUserById(key.userId);
  return {
    access_key_id: key.id,
    user_id: key.userId,
    username: user?.name ?? null,
    created: new Date(key.createdAtMs).toISOString(),
    expiration: key.expiresAtMs === undefined ? null : new Date(key.expiresAtMs).toISOString(),
    expired: key.expiresAtMs !== undefined && key.expiresAtMs <= deps.nowMs(),
  };
}

const bucketView = (bucket: Bucket) => ({ name: bucket.name, path: bucket.path, id: String(bucket.rootId), created: new Date(bucket.createdAtMs).toISOString() });

function accessKeyRoutes(deps: S3RoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET', url: '/v1/s3/access-keys', privilege: 'S3_READ', summary: 'S3 access keys (never their secrets), optionally of one user.', schema: { querystring: KeyQuery, response: { 200: KeyListSchema } },
      handler: async (request) => {
        const { username } = request.query as { username?: string };
        const user = username === undefined ? undefined : await deps.findUserByName(username);
        if (username !== undefined && user === undefined) throw new ApiError(404, 'fs_no_such_entry_error', `no user ${username}`);
        const keys = await deps.accessKeys.list(user === undefined ? {} : { userId: user.id });
        return { entries: await Promise.all(keys.map((key) => keyView(deps, key))) };
      },
    },
    {
      method: 'POST', url: '/v1/s3/access-keys', privilege: 'S3_WRITE', summary: 'Create an S3 access key for a user (at most two active each); the secret is shown once.', schema: { body: KeyBody, response: { 201: CreatedKeySchema } },
      handler: async (request, reply) => {
        const body = request.body as { username: string; expiration?: string };
        const user = await deps.findUserByName(body.username);
        if (user === undefined) throw new ApiError(404, 'fs_no_such_entry_error', `no user ${body.username}`);
        const expiresAtMs = expiryOf(body.expiration);
        const created = await deps.accessKeys.create({ userId: user.id, ...(expiresAtMs === undefined ? {} : { expiresAtMs }) });
        return reply.code(201).send({ ...(await keyView(deps, created.accessKey)), secret_access_key: created.secret });
      },
    },
    {
      method: 'DELETE', url: '/v1/s3/access-keys/:id', privilege: 'S3_WRITE', summary: 'Revoke an S3 access key, effective at the next request.', schema: { params: KeyParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await deps.accessKeys.revoke((request.params as { id: string }).id);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET', url: '/v1/session/s3-access-keys', privilege: 'S3_SELF_WRITE', summary: 'The caller\'s own S3 access keys.', schema: { response: { 200: KeyListSchema } },
      handler: async (request) => ({ entries: await Promise.all((await deps.accessKeys.list({ userId: callerOf(request).userId })).map((key) => keyView(deps, key))) }),
    },
    {
      method: 'POST', url: '/v1/session/s3-access-keys', privilege: 'S3_SELF_WRITE', summary: 'Create an S3 access key for the caller; the secret is shown once.', schema: { body: OwnKeyBody, response: { 201: CreatedKeySchema } },
      handler: async (request, reply) => {
        const expiresAtMs = expiryOf((request.body as { expiration?: string } | undefined)?.expiration);
        const created = await deps.accessKeys.create({ userId: callerOf(request).userId, ...(expiresAtMs === undefined ? {} : { expiresAtMs }) });
        return reply.code(201).send({ ...(await keyView(deps, created.accessKey)), secret_access_key: created.secret });
      },
    },
    {
      method: 'DELETE', url: '/v1/session/s3-access-keys/:id', privilege: 'S3_SELF_WRITE', summary: 'Revoke one of the caller\'s own S3 access keys.', schema: { params: KeyParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await deps.accessKeys.revoke((request.params as { id: string }).id, { userId: callerOf(request).userId });
        return reply.code(204).send();
      },
    },
  ];
}

function bucketRoutes(deps: S3RoutesDeps): ApiRoute[] {
  const system = (request: FastifyRequest): OpContext => systemContext(deps.logger, String(request.id));
  return [
    {
      method: 'GET', url: '/v1/s3/buckets', privilege: 'S3_READ', summary: 'Buckets and their directories.', schema: { response: { 200: Type.Object({ entries: Type.Array(BucketSchema) }) } },
      handler: async () => ({ entries: (await deps.buckets.list()).map(bucketView) }),
    },
    {
      method: 'GET', url: '/v1/s3/buckets/:name', privilege: 'S3_READ', summary: 'One bucket.', schema: { params: BucketParams, response: { 200: BucketSchema } },
      handler: async (request) => {
        const bucket = await deps.buckets.get((request.params as { name: string }).name);
        if (bucket === undefined) throw new FsError('NotFound', 'no such bucket');
        return bucketView(bucket);
      },
    },
    {
      method: 'POST', url: '/v1/s3/buckets', privilege: 'S3_WRITE',
      summary: 'Create a bucket: without path, a new directory <base_path>/<name> (owned by `owner` if given); with path, attach that existing directory.',
      schema: { body: BucketBody, response: { 201: BucketSchema } },
      handler: async (request, reply) => {
        const body = request.body as { name: string; path?: string; owner?: string };
        if (!isValidBucketName(body.name)) throw new ApiError(400, 'http_bad_request_error', 'a bucket name is 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit');
        if (body.path !== undefined && !body.path.startsWith('/')) throw new ApiError(400, 'http_bad_request_error', 'path must be absolute');
        if ((await deps.buckets.get(body.name)) !== undefined) throw new FsError('Exists', `the bucket ${body.name} exists`);
        const ctx = system(request);
        const owner = body.owner === undefined ? undefined : await deps.findUserByName(body.owner);
        if (body.owner !== undefined && owner === undefined) throw new ApiError(404, 'fs_no_such_entry_error', `no user ${body.owner}`);
        let path: string;
        let handle;
        if (body.path === undefined) {
          path = `${(await deps.basePath()).replace(/\/+$/, '')}/${body.name}`;
          handle = (await ensureDirectory(deps.fs, ctx, path, { mustCreate: true, ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.primaryGid }) })).handle;
        } else {
          path = body.path;
          const found = await deps.fs.resolvePath(ctx, path);
          if (found.attributes.type !== 'directory') throw new FsError('NotADirectory', `${path} is not a directory`);
          handle = found.handle;
        }
        const attributes = await deps.fs.getattr(ctx, handle);
        const bucket: Bucket = { name: body.name, path, rootId: attributes.id, rootGeneration: attributes.generation, createdAtMs: deps.nowMs(), ...(owner === undefined ? {} : { ownerUid: owner.uid }) };
        await deps.buckets.add(bucket);
        return reply.code(201).send(bucketView(bucket));
      },
    },
    {
      method: 'DELETE', url: '/v1/s3/buckets/:name', privilege: 'S3_WRITE', summary: 'Detach a bucket; its directory and files stay.', schema: { params: BucketParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await deps.buckets.remove((request.params as { name: string }).name);
        return reply.code(204).send();
      },
    },
  ];
}

export function s3Routes(deps: S3RoutesDeps): ApiRoute[] {
  return [...accessKeyRoutes(deps), ...bucketRoutes(deps)];
}
