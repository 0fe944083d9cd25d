import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { OpContext } from '../../../core/context.js';
import { FsError } from '../../../core/errors.js';
import { NAME_BYTES_MAX, SYMLINK_TARGET_BYTES_MAX, type NodeHandle, type NodeInfo, type SetAttributes } from '../../../core/file-system.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { fileAclRoutes } from './files-acl.js';
import { NoContent } from '../schemas.js';
import {
  AttributesSchema,
  BytesSchema,
  callerContext,
  encodeAttributes,
  ENTRIES_LIMIT_DEFAULT,
  ENTRIES_LIMIT_MAX,
  nextPageUrl,
  parseBytes,
  parseMode,
  parseRef,
  parseTimeNs,
  RefParams,
  resolveRef,
  splitParent,
  type FileRouteDependencies,
  type RefParamsValue,
} from './files-common.js';
import { fileDataRoutes } from './files-data.js';

export type { FileRouteDependencies, HandleLookup } from './files-common.js';

/**
 * The file API (`/v1/files/{ref}/...`, Qumulo's fs_* calls). Every call runs as the caller's own
 * file-system principal: the FILE_READ / FILE_WRITE privilege lets a caller use the API at all,
 * and the ACLs then decide, exactly as over any protocol.
 */

const CURSOR_CHARACTERS_MAX = 8192;
const ModeSchema = Type.String({ pattern: '^[0-7]{1,5}$', description: 'octal, like "0755"' });

const EntriesQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ minLength: 1, maxLength: CURSOR_CHARACTERS_MAX, description: 'paging.next of the previous page carries it' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: ENTRIES_LIMIT_MAX, default: ENTRIES_LIMIT_DEFAULT })),
  },
  { additionalProperties: false },
);

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: NAME_BYTES_MAX }),
    action: Type.Union([Type.Literal('CREATE_FILE'), Type.Literal('CREATE_DIRECTORY'), Type.Literal('CREATE_SYMLINK')]),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: SYMLINK_TARGET_BYTES_MAX })),
    mode: Type.Optional(ModeSchema),
  },
  { additionalProperties: false },
);

interface CreateBodyValue {
  readonly name: string;
  readonly action: 'CREATE_FILE' | 'CREATE_DIRECTORY' | 'CREATE_SYMLINK';
  readonly target?: string;
  readonly mode?: string;
}

const TimeSchema = Type.String({ maxLength: 40, description: 'RFC 3339 UTC, like 2024-05-01T12:00:00.5Z' });
const AttributesPatch = Type.Object(
  {
    mode: Type.Optional(ModeSchema),
    owner_uid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
    group_gid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
    size: Type.Optional(BytesSchema),
    modification_time: Type.Optional(TimeSchema),
    access_time: Type.Optional(TimeSchema),
  },
  { additionalProperties: false },
);

const EntriesAnswer = Type.Object({
  path: Type.Optional(Type.String({ description: 'when the directory was named by path' })),
  id: Type.String(),
  files: Type.Array(
    Type.Union([
      AttributesSchema,
      Type.Object({ name: Type.String(), id: Type.String(), file_number: Type.Integer() }, { description: 'an entry whose attributes could not be read (it went away meanwhile)' }),
    ]),
  ),
  paging: Type.Object({ next: Type.Optional(Type.String({ description: 'the URL of the next page' })) }),
});
const CreatedAnswer = Type.Object({ ...AttributesSchema.properties, symlink_target: Type.Optional(Type.String()) });

interface AttributesPatchValue {
  readonly mode?: string;
  readonly owner_uid?: number;
  readonly group_gid?: number;
  readonly size?: number | string;
  readonly modification_time?: string;
  readonly access_time?: string;
}

function refOf(request: FastifyRequest): string {
  return (request.params as RefParamsValue).ref;
}

function childPath(parent: string, name: string): string {
  return `${parent.replace(/\/+$/, '')}/${name}`;
}

async function listEntries(deps: FileRouteDependencies, request: FastifyRequest): Promise<unknown> {
  const ctx = callerContext(request, deps.logger);
  const ref = refOf(request);
  const { after, limit = ENTRIES_LIMIT_DEFAULT } = request.query as { after?: string; limit?: number };
  const dir = await resolveRef(deps, ctx, ref, { followFinalSymlink: true });
  const page = await deps.fs.readdir(ctx, dir.handle, { limit, withAttributes: true, ...(after === undefined ? {} : { cursor: after }) });
  const basePath = parseRef(ref).kind === 'path' ? ref : undefined;
  const files = page.entries.map((entry) => {
    const path = basePath === undefined ? undefined : childPath(basePath, entry.name);
    if (entry.attributes !== undefined) return encodeAttributes(entry.attributes, { name: entry.name, ...(path === undefined ? {} : { path }) });
    // Without attributes (the node went away between the listing and its read) name what is known.
    return { name: entry.name, id: String(entry.handle.id), file_number: entry.handle.id };
  });
  return { ...(basePath === undefined ? {} : { path: basePath }), id: String(dir.handle.id), files, paging: nextPageUrl(request, page.cursor, limit) };
}

async function createEntry(deps: FileRouteDependencies, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const ctx = callerContext(request, deps.logger);
  const body = request.body as CreateBodyValue;
  const mode = body.mode === undefined ? undefined : parseMode(body.mode);
  if ((body.action === 'CREATE_SYMLINK') !== (body.target !== undefined)) {
    throw new ApiError(400, 'http_bad_request_error', 'target is given with CREATE_SYMLINK, and only then');
  }
  if (body.action === 'CREATE_SYMLINK' && mode !== undefined) throw new ApiError(400, 'http_bad_request_error', 'a symlink has no mode');
  const dir = await resolveRef(deps, ctx, refOf(request), { followFinalSymlink: true });
  let created: NodeInfo;
  if (body.action === 'CREATE_FILE') created = await deps.fs.create(ctx, dir.handle, body.name, { exclusive: true, ...(mode === undefined ? {} : { mode }) });
  else if (body.action === 'CREATE_DIRECTORY') created = await deps.fs.mkdir(ctx, dir.handle, body.name, mode === undefined ? {} : { mode });
  else created = await deps.fs.symlink(ctx, dir.handle, body.name, body.target as string);
  const ref = refOf(request);
  const path = parseRef(ref).kind === 'path' ? childPath(ref, body.name) : undefined;
  reply.code(201);
  return {
    ...encodeAttributes(created.attributes, { name: body.name, ...(path === undefined ? {} : { path }) }),
    ...(body.target === undefined ? {} : { symlink_target: body.target }),
  };
}

function decodeAttributesPatch(body: AttributesPatchValue): SetAttributes {
  const changes: SetAttributes = {
    ...(body.mode === undefined ? {} : { mode: parseMode(body.mode) }),
    ...(body.owner_uid === undefined ? {} : { uid: body.owner_uid }),
    ...(body.group_gid === undefined ? {} : { gid: body.group_gid }),
    ...(body.size === undefined ? {} : { size: parseBytes(body.size, 'size') }),
    ...(body.modification_time === undefined ? {} : { mtime: parseTimeNs(body.modification_time, 'modification_time') }),
    ...(body.access_time === undefined ? {} : { atime: parseTimeNs(body.access_time, 'access_time') }),
  };
  if (Object.keys(changes).length === 0) throw new ApiError(400, 'http_bad_request_error', 'name at least one attribute to change');
  return changes;
}

/** The directory holding a node and the node's name there, for remove and rmdir. */
async function locateEntry(deps: FileRouteDependencies, ctx: OpContext, ref: string): Promise<{ parent: NodeHandle; name: string; node: NodeInfo }> {
  const parsed = parseRef(ref);
  if (parsed.kind === 'path') {
    const { parent, name } = splitParent(parsed.path);
    const parentInfo = await deps.fs.resolvePath(ctx, parent, { followFinalSymlink: true });
    return { parent: parentInfo.handle, name, node: await deps.fs.lookup(ctx, parentInfo.handle, name) };
  }
  const node = await resolveRef(deps, ctx, ref, { followFinalSymlink: false });
  if (node.handle.id === (await deps.fs.root(ctx)).id) throw new FsError('InvalidArgument', 'the root directory cannot be deleted');
  const parent = await deps.handleOf(ctx, node.attributes.parentId);
  // Core keeps no id -> name index the API can reach, so the parent is searched page by page.
  let cursor: string | undefined;
  do {
    const page = await deps.fs.readdir(ctx, parent, { limit: ENTRIES_LIMIT_MAX, ...(cursor === undefined ? {} : { cursor }) });
    const entry = page.entries.find((candidate) => candidate.handle.id === node.handle.id);
    if (entry !== undefined) return { parent, name: entry.name, node };
    cursor = page.cursor;
  } while (cursor !== undefined);
  throw new FsError('NotFound', `file ${node.handle.id} is not in its directory any more`);
}

async function deleteEntry(deps: FileRouteDependencies, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const ctx = callerContext(request, deps.logger);
  const { parent, name, node } = await locateEntry(deps, ctx, refOf(request));
  if (node.attributes.type === 'directory') await deps.fs.rmdir(ctx, parent, name);
  else await deps.fs.remove(ctx, parent, name);
  return reply.code(204).send();
}

export function fileRoutes(deps: FileRouteDependencies): ApiRoute[] {
  return [
    ...fileDataRoutes(deps),
    {
      method: 'GET',
      url: '/v1/files/:ref/entries',
      privilege: 'FILE_READ',
      summary: 'List a directory, a page at a time (paging.next is the URL of the next page).',
      schema: { params: RefParams, querystring: EntriesQuery, response: { 200: EntriesAnswer } },
      handler: async (request) => listEntries(deps, request),
    },
    {
      method: 'POST',
      url: '/v1/files/:ref/entries',
      privilege: 'FILE_WRITE',
      summary: 'Create a file, directory or symlink in a directory; answers 201 with its attributes.',
      schema: { params: RefParams, body: CreateBody, response: { 201: CreatedAnswer } },
      handler: async (request, reply) => createEntry(deps, request, reply),
    },
    {
      method: 'GET',
      url: '/v1/files/:ref/info/attributes',
      privilege: 'FILE_READ',
      summary: 'A file\'s attributes.',
      schema: { params: RefParams, response: { 200: AttributesSchema } },
      handler: async (request) => {
        const ctx = callerContext(request, deps.logger);
        const ref = refOf(request);
        const { attributes } = await resolveRef(deps, ctx, ref, { followFinalSymlink: false });
        return encodeAttributes(attributes, parseRef(ref).kind === 'path' ? { path: ref } : {});
      },
    },
    {
      method: 'PATCH',
      url: '/v1/files/:ref/info/attributes',
      privilege: 'FILE_WRITE',
      summary: 'Change some attributes (mode, owner, group, size, times); answers the attributes.',
      schema: { params: RefParams, body: AttributesPatch, response: { 200: AttributesSchema } },
      handler: async (request) => {
        const ctx = callerContext(request, deps.logger);
        const changes = decodeAttributesPatch(request.body as AttributesPatchValue);
        const { handle } = await resolveRef(deps, ctx, refOf(request), { followFinalSymlink: false });
        return encodeAttributes(await deps.fs.setattr(ctx, handle, changes));
      },
    },
    {
      method: 'DELETE',
      url: '/v1/files/:ref',
      privilege: 'FILE_WRITE',
      summary: 'Delete a file, symlink or empty directory; answers 204.',
      schema: { params: RefParams, response: { 204: NoContent } },
      handler: async (request, reply) => deleteEntry(deps, request, reply),
    },
    ...fileAclRoutes(deps),
  ];
}
