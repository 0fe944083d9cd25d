import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import Type from 'typebox';
import type { OpContext } from '../../../core/context.js';
import { FsError } from '../../../core/errors.js';
import { PATH_BYTES_MAX, type Attributes, type FileSystem, type NodeHandle, type NodeInfo, type NodeType } from '../../../core/file-system.js';
import { callerOf } from '../caller.js';
import { ApiError } from '../errors.js';

/**
 * The current handle (live generation) of a node id; FsError NotFound when no node has that id.
 * REST file ids are bare node ids, like Qumulo's; the FileSystem API is handle-based and has no
 * call for this yet, so the composition root supplies it (it needs a core `handleOf(ctx, id)`).
 */
export type HandleLookup = (ctx: OpContext, id: number) => Promise<NodeHandle>;

export interface FileRouteDependencies {
  readonly fs: FileSystem;
  readonly logger: Logger;
  /** The largest body `PUT /v1/files/{ref}/data` accepts; bigger uploads answer 413. */
  readonly uploadBytesMax: number;
  readonly handleOf: HandleLookup;
}

/** Reads and writes of file data go through core in pieces of at most this many bytes. */
export const DATA_PIECE_BYTES_MAX = 4 * 1024 * 1024;
export const ENTRIES_LIMIT_DEFAULT = 1_000;
export const ENTRIES_LIMIT_MAX = 10_000;
/** A percent-decoded ref: a path of PATH_BYTES_MAX bytes, plus a little room for a trailing `/`. */
const REF_CHARACTERS_MAX = PATH_BYTES_MAX + 1;
const ID_PATTERN = /^[0-9]{1,16}$/;

export const RefParams = Type.Object(
  { ref: Type.String({ minLength: 1, maxLength: REF_CHARACTERS_MAX, description: 'a file id, or a URL-encoded absolute path (%2Fdir%2Ffile)' }) },
  { additionalProperties: false },
);

export interface RefParamsValue {
  readonly ref: string;
}

/** The caller's file-system identity: ACLs apply to API file access as to any protocol. */
export function callerContext(request: FastifyRequest, logger: Logger): OpContext {
  return {
    principal: callerOf(request).principal,
    clientAddress: request.ip,
    protocol: 'api',
    requestId: request.id,
    logger: logger.child({ request_id: request.id }),
  };
}

export type ParsedRef = { readonly kind: 'id'; readonly id: number } | { readonly kind: 'path'; readonly path: string };

/** A ref is a decimal node id or an absolute path (fastify has already percent-decoded it). */
export function parseRef(ref: string): ParsedRef {
  if (ID_PATTERN.test(ref)) {
    const id = Number(ref);
    if (Number.isSafeInteger(id) && id > 0) return { kind: 'id', id };
  }
  if (ref.startsWith('/')) return { kind: 'path', path: ref };
  throw new ApiError(400, 'http_bad_request_error', 'a file ref is a file id or an absolute path (URL-encoded, %2F for /)');
}

/**
 * Resolves a ref to a node. Paths go through `fs.resolvePath`, the one path resolver (NUL,
 * over-long names, `..` confinement); ids through `handleOf`, and getattr then proves the handle
 * live. `followFinalSymlink` is for operations on content (data, listing); operations on the
 * entry itself (attributes, ACL, delete) name the symlink.
 */
export async function resolveRef(
  deps: Pick<FileRouteDependencies, 'fs' | 'handleOf'>,
  ctx: OpContext,
  ref: string,
  options: { followFinalSymlink: boolean },
): Promise<NodeInfo> {
  const parsed = parseRef(ref);
  if (parsed.kind === 'path') return deps.fs.resolvePath(ctx, parsed.path, { followFinalSymlink: options.followFinalSymlink });
  const handle = await deps.handleOf(ctx, parsed.id);
  const attributes = await deps.fs.getattr(ctx, handle);
  if (attributes.type !== 'symlink' || !options.followFinalSymlink) return { handle, attributes };
  const target = await deps.fs.readlink(ctx, handle);
  // A relative target is resolved from the link's directory, as the kernel does.
  const from = target.startsWith('/') ? undefined : await deps.handleOf(ctx, attributes.parentId);
  return deps.fs.resolvePath(ctx, target, { followFinalSymlink: true, ...(from === undefined ? {} : { from }) });
}

const FILE_TYPE_NAMES: Record<NodeType, string> = {
  file: 'FS_FILE_TYPE_FILE',
  directory: 'FS_FILE_TYPE_DIRECTORY',
  symlink: 'FS_FILE_TYPE_SYMLINK',
};

const NS_PER_SECOND = 1_000_000_000n;

/** RFC 3339 in UTC with nanoseconds, as Qumulo writes times: `2024-05-01T12:00:00.123456789Z`. */
export function formatTimeNs(ns: bigint): string {
  let seconds = ns / NS_PER_SECOND;
  let fraction = ns % NS_PER_SECOND;
  if (fraction < 0n) {
    fraction += NS_PER_SECOND;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${fraction.toString().padStart(9, '0')}Z`;
}

const TIME_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

export function parseTimeNs(text: string, field: string): bigint {
  const match = TIME_PATTERN.exec(text);
  const ms = match === null ? Number.NaN : Date.parse(`${match[1] ?? ''}Z`);
  if (match === null || Number.isNaN(ms)) throw new ApiError(400, 'http_bad_request_error', `${field} is an RFC 3339 UTC time like 2024-05-01T12:00:00.5Z`);
  return BigInt(ms) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

export function parseMode(text: string): number {
  if (!/^[0-7]{1,5}$/.test(text)) throw new ApiError(400, 'http_bad_request_error', 'mode is an octal string like "0755"');
  const mode = Number.parseInt(text, 8);
  if (mode > 0o7777) throw new ApiError(400, 'http_bad_request_error', 'mode is at most 07777');
  return mode;
}

/** A byte count given as a JSON number or a decimal string (Qumulo writes sizes as strings). */
export function parseBytes(value: number | string, field: string): number {
  const bytes = typeof value === 'number' ? value : /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ApiError(400, 'http_bad_request_error', `${field} is a non-negative integer number of bytes`);
  return bytes;
}

/**
 * The string form comes first and has no pattern, and parseBytes checks it: the server's ajv
 * coerces types, and a number-first union would turn "1e3" into 1000.
 */
export const BytesSchema = Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 0 })]);

const Decimal = (description: string) => Type.String({ description: `${description}, decimal` });
const Time = Type.String({ description: 'RFC 3339 UTC with nanoseconds' });

/** What encodeAttributes answers. */
export const AttributesSchema = Type.Object({
  path: Type.Optional(Type.String({ description: 'when the file was named by path' })),
  name: Type.Optional(Type.String()),
  id: Decimal('the file id'),
  file_number: Type.Integer(),
  type: Type.String({ description: 'FS_FILE_TYPE_FILE, _DIRECTORY, _SYMLINK, ...' }),
  size: Decimal('bytes'),
  allocated_bytes: Decimal('bytes'),
  mode: Type.String({ description: 'octal, like "0755"' }),
  owner: Decimal('the owner uid'),
  group: Decimal('the group gid'),
  owner_uid: Type.Integer(),
  group_gid: Type.Integer(),
  owner_sid: Type.Optional(Type.String()),
  group_sid: Type.Optional(Type.String()),
  num_links: Type.Integer(),
  parent_id: Decimal('the parent directory id'),
  access_time: Time,
  modification_time: Time,
  change_time: Time,
  creation_time: Time,
  change_id: Decimal('changes whenever the file does'),
});

/** Attributes in Qumulo's shape (ids and sizes as decimal strings, mode as an octal string). */
export function encodeAttributes(attributes: Attributes, names: { name?: string; path?: string } = {}): Record<string, unknown> {
  return {
    ...(names.path === undefined ? {} : { path: names.path }),
    ...(names.name === undefined ? {} : { name: names.name }),
    id: String(attributes.id),
    file_number: attributes.id,
    type: FILE_TYPE_NAMES[attributes.type],
    size: String(attributes.size),
    allocated_bytes: String(attributes.allocatedBytes),
    mode: formatMode(attributes.mode),
    owner: String(attributes.uid),
    group: String(attributes.gid),
    owner_uid: attributes.uid,
    group_gid: attributes.gid,
    ...(attributes.ownerSid === undefined ? {} : { owner_sid: attributes.ownerSid }),
    ...(attributes.groupSid === undefined ? {} : { group_sid: attributes.groupSid }),
    num_links: attributes.nlink,
    parent_id: String(attributes.parentId),
    access_time: formatTimeNs(attributes.atimeNs),
    modification_time: formatTimeNs(attributes.mtimeNs),
    change_time: formatTimeNs(attributes.ctimeNs),
    creation_time: formatTimeNs(attributes.birthTimeNs),
    change_id: String(attributes.changeId),
  };
}

/** The URL of the next page (Qumulo's `paging.next`), or nothing on the last page. */
export function nextPageUrl(request: FastifyRequest, cursor: string | undefined, limit: number): { next?: string } {
  if (cursor === undefined) return {};
  const base = request.url.split('?')[0] ?? request.url;
  return { next: `${base}?${new URLSearchParams({ after: cursor, limit: String(limit) }).toString()}` };
}

/** Splits an absolute path into its parent path and final name, for operations that need both. */
export function splitParent(path: string): { parent: string; name: string } {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  const name = trimmed.slice(slash + 1);
  if (slash < 0 || name === '' || name === '.' || name === '..') {
    throw new FsError('InvalidArgument', 'the path must name an entry (not the root, `.` or `..`)');
  }
  return { parent: trimmed.slice(0, slash) === '' ? '/' : trimmed.slice(0, slash), name };
}
