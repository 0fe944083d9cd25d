import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import Type from 'typebox';
import { systemContext, type OpContext } from '../../../core/context.js';
import { FsError } from '../../../core/errors.js';
import { PATH_BYTES_MAX, type FileSystem, type NodeHandle, type QuotaStatus } from '../../../core/file-system.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';
import { BytesSchema, nextPageUrl, parseBytes, type HandleLookup } from './files-common.js';

/**
 * Directory quotas (Qumulo's `/v1/files/quotas`): a hard limit on the bytes below a directory.
 * Setting one is an administrative act that core allows only to a superuser context; these
 * routes have checked QUOTA_READ / QUOTA_WRITE, so they call core as the system. (File routes, in
 * contrast, always run as the caller.) Limits and usage are decimal strings, as in Qumulo.
 */
export interface QuotaRouteDependencies {
  readonly fs: FileSystem;
  readonly logger: Logger;
  readonly handleOf: HandleLookup;
}

/** Core's listQuotas page limit. */
const QUOTAS_LIMIT_MAX = 1_000;
const CURSOR_CHARACTERS_MAX = 32;
const IdSchema = Type.String({ pattern: '^[0-9]{1,16}$', description: 'the directory\'s file id' });

const QuotaIdParams = Type.Object({ id: IdSchema }, { additionalProperties: false });
const QuotasQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ minLength: 1, maxLength: CURSOR_CHARACTERS_MAX })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: QUOTAS_LIMIT_MAX, default: QUOTAS_LIMIT_MAX })),
  },
  { additionalProperties: false },
);
const CreateQuotaBody = Type.Object(
  {
    id: Type.Optional(IdSchema),
    path: Type.Optional(Type.String({ minLength: 1, maxLength: PATH_BYTES_MAX })),
    limit: BytesSchema,
  },
  { additionalProperties: false },
);
const UpdateQuotaBody = Type.Object({ id: Type.Optional(IdSchema), limit: BytesSchema }, { additionalProperties: false });

const QuotaSchema = Type.Object({
  id: Type.String({ description: "the directory's file id" }),
  path: Type.Optional(Type.String({ description: 'when the directory was named by path' })),
  limit: Type.String({ description: 'bytes, decimal' }),
});
const QuotaStatusSchema = Type.Object({ ...QuotaSchema.properties, capacity_used: Type.String({ description: 'bytes used below the directory, decimal' }) });
const PagingSchema = Type.Object({ next: Type.Optional(Type.String({ description: 'the URL of the next page' })) });

function adminContext(deps: QuotaRouteDependencies, request: FastifyRequest): OpContext {
  return { ...systemContext(deps.logger.child({ request_id: request.id }), request.id), clientAddress: request.ip, protocol: 'api' };
}

function encodeQuota(quota: { directoryId: number; limitBytes: number }, path?: string): Record<string, unknown> {
  return { id: String(quota.directoryId), ...(path === undefined ? {} : { path }), limit: String(quota.limitBytes) };
}

function encodeStatus(status: QuotaStatus): Record<string, unknown> {
  return { ...encodeQuota(status), capacity_used: String(status.usedBytes) };
}

function parseId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new ApiError(400, 'http_bad_request_error', 'a file id is a positive integer');
  return id;
}

async function directoryOf(deps: QuotaRouteDependencies, ctx: OpContext, target: { id?: string; path?: string }): Promise<NodeHandle> {
  if ((target.id === undefined) === (target.path === undefined)) throw new ApiError(400, 'http_bad_request_error', 'name the directory by id or by path, not both');
  if (target.path !== undefined) {
    if (!target.path.startsWith('/')) throw new ApiError(400, 'http_bad_request_error', 'path is absolute');
    return (await deps.fs.resolvePath(ctx, target.path, { followFinalSymlink: true })).handle;
  }
  const handle = await deps.handleOf(ctx, parseId(target.id as string));
  await deps.fs.getattr(ctx, handle);
  return handle;
}

async function existingQuota(deps: QuotaRouteDependencies, ctx: OpContext, id: string): Promise<{ handle: NodeHandle; status: QuotaStatus }> {
  const handle = await directoryOf(deps, ctx, { id });
  const status = await deps.fs.getQuota(ctx, handle);
  if (status === undefined) throw new FsError('NotFound', `directory ${id} has no quota`);
  return { handle, status };
}

async function listPage(deps: QuotaRouteDependencies, request: FastifyRequest, encode: (status: QuotaStatus) => Record<string, unknown>): Promise<unknown> {
  const { after, limit = QUOTAS_LIMIT_MAX } = request.query as { after?: string; limit?: number };
  const page = await deps.fs.listQuotas(adminContext(deps, request), { limit, ...(after === undefined ? {} : { cursor: after }) });
  return { quotas: page.quotas.map(encode), paging: nextPageUrl(request, page.cursor, limit) };
}

async function createQuota(deps: QuotaRouteDependencies, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const ctx = adminContext(deps, request);
  const body = request.body as { id?: string; path?: string; limit: number | string };
  const limitBytes = parseBytes(body.limit, 'limit');
  const handle = await directoryOf(deps, ctx, body);
  if ((await deps.fs.getQuota(ctx, handle)) !== undefined) throw new FsError('Exists', 'the directory already has a quota; PUT /v1/files/quotas/{id} changes it');
  await deps.fs.setQuota(ctx, handle, limitBytes);
  reply.code(201);
  return encodeQuota({ directoryId: handle.id, limitBytes }, body.path);
}

export function quotaRoutes(deps: QuotaRouteDependencies): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/files/quotas',
      privilege: 'QUOTA_READ',
      summary: 'List directory quotas, a page at a time.',
      schema: { querystring: QuotasQuery, response: { 200: Type.Object({ quotas: Type.Array(QuotaSchema), paging: PagingSchema }) } },
      handler: async (request) => listPage(deps, request, (status) => encodeQuota(status)),
    },
    {
      method: 'POST',
      url: '/v1/files/quotas',
      privilege: 'QUOTA_WRITE',
      summary: 'Set a quota on a directory named by id or path (limit in bytes); 409 if it has one.',
      schema: { body: CreateQuotaBody, response: { 201: QuotaSchema } },
      handler: async (request, reply) => createQuota(deps, request, reply),
    },
    {
      method: 'GET',
      url: '/v1/files/quotas/status',
      privilege: 'QUOTA_READ',
      summary: 'List directory quotas with the bytes used below each (capacity_used).',
      schema: { querystring: QuotasQuery, response: { 200: Type.Object({ quotas: Type.Array(QuotaStatusSchema), paging: PagingSchema }) } },
      handler: async (request) => listPage(deps, request, encodeStatus),
    },
    {
      method: 'GET',
      url: '/v1/files/quotas/:id',
      privilege: 'QUOTA_READ',
      summary: 'One directory\'s quota, with capacity_used.',
      schema: { params: QuotaIdParams, response: { 200: QuotaStatusSchema } },
      handler: async (request) => encodeStatus((await existingQuota(deps, adminContext(deps, request), (request.params as { id: string }).id)).status),
    },
    {
      method: 'PUT',
      url: '/v1/files/quotas/:id',
      privilege: 'QUOTA_WRITE',
      summary: 'Change a directory\'s quota limit.',
      schema: { params: QuotaIdParams, body: UpdateQuotaBody, response: { 200: QuotaSchema } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const body = request.body as { id?: string; limit: number | string };
        if (body.id !== undefined && body.id !== id) throw new ApiError(400, 'http_bad_request_error', 'the body\'s id differs from the URL\'s');
        const limitBytes = parseBytes(body.limit, 'limit');
        const ctx = adminContext(deps, request);
        const { handle } = await existingQuota(deps, ctx, id);
        await deps.fs.setQuota(ctx, handle, limitBytes);
        return encodeQuota({ directoryId: handle.id, limitBytes });
      },
    },
    {
      method: 'DELETE',
      url: '/v1/files/quotas/:id',
      privilege: 'QUOTA_WRITE',
      summary: 'Remove a directory\'s quota; answers 204.',
      schema: { params: QuotaIdParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        const ctx = adminContext(deps, request);
        const { handle } = await existingQuota(deps, ctx, (request.params as { id: string }).id);
        await deps.fs.setQuota(ctx, handle, null);
        return reply.code(204).send();
      },
    },
  ];
}
