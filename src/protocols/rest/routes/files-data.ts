import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OpContext } from '../../../core/context.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { binaryAnswer, binaryBody } from '../schemas.js';
import { AttributesSchema, callerContext, DATA_PIECE_BYTES_MAX, encodeAttributes, RefParams, resolveRef, type FileRouteDependencies, type RefParamsValue } from './files-common.js';

/** An inclusive byte range of a file. */
export interface ByteRange {
  readonly first: number;
  readonly last: number;
}

/**
 * RFC 9110 §14.1.2: `bytes=a-b`, `bytes=a-` and `bytes=-n`, one range. Returns the range to send,
 * 'unsatisfiable' (416), or undefined when the header is absent or not one we serve (several
 * ranges, another unit, bad syntax): §14.2 lets a server ignore it and send the whole file.
 */
export function parseRange(header: string | undefined, sizeBytes: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim());
  if (match === null) return undefined;
  const [, firstText = '', lastText = ''] = match;
  if (firstText === '') {
    if (lastText === '') return undefined;
    const suffix = Number(lastText);
    if (suffix === 0 || sizeBytes === 0) return 'unsatisfiable';
    return { first: Math.max(0, sizeBytes - suffix), last: sizeBytes - 1 };
  }
  const first = Number(firstText);
  if (lastText !== '' && Number(lastText) < first) return undefined;
  if (first >= sizeBytes) return 'unsatisfiable';
  return { first, last: lastText === '' ? sizeBytes - 1 : Math.min(Number(lastText), sizeBytes - 1) };
}

/**
 * The bytes [offset, offset + length) read in pieces of at most DATA_PIECE_BYTES_MAX, so a large
 * download never holds the file in memory. The first piece is read before anything is sent, so
 * refusals (access, not a file) still answer with an error status instead of a cut-off body.
 */
async function openContentStream(fs: FileSystem, ctx: OpContext, handle: NodeHandle, offset: number, length: number): Promise<Readable> {
  const first = await fs.read(ctx, handle, { offset, length: Math.min(length, DATA_PIECE_BYTES_MAX) });
  async function* pieces(): AsyncGenerator<Uint8Array> {
    let position = offset + first.data.length;
    const end = offset + length;
    if (first.data.length > 0) yield first.data;
    let eof = first.eof;
    while (position < end && !eof) {
      const piece = await fs.read(ctx, handle, { offset: position, length: Math.min(end - position, DATA_PIECE_BYTES_MAX) });
      if (piece.data.length === 0) break;
      position += piece.data.length;
      eof = piece.eof;
      yield piece.data;
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}

async function readData(deps: FileRouteDependencies, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const ctx = callerContext(request, deps.logger);
  const { ref } = request.params as RefParamsValue;
  const { handle, attributes } = await resolveRef(deps, ctx, ref, { followFinalSymlink: true });
  const size = attributes.size;
  const range = attributes.type === 'file' ? parseRange(request.headers.range, size) : undefined;
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`);
    throw new ApiError(416, 'http_range_not_satisfiable_error', `the range is outside the file's ${size} bytes`);
  }
  const offset = range?.first ?? 0;
  const length = range === undefined ? size : range.last - range.first + 1;
  const stream = await openContentStream(deps.fs, ctx, handle, offset, length);
  reply.header('accept-ranges', 'bytes').header('content-length', String(length)).type('application/octet-stream');
  if (range !== undefined) reply.code(206).header('content-range', `bytes ${range.first}-${range.last}/${size}`);
  return reply.send(stream);
}

/**
 * Copies the body into the file in pieces of at most DATA_PIECE_BYTES_MAX, never holding more.
 * Enforces `uploadBytesMax` as it goes (a chunked body has no Content-Length to check first).
 */
async function writeBody(deps: FileRouteDependencies, ctx: OpContext, handle: NodeHandle, body: AsyncIterable<Buffer>): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0;
  const flush = async (): Promise<void> => {
    const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await deps.fs.write(ctx, handle, { offset, data });
    offset += data.length;
  };
  for await (const chunk of body) {
    if (offset + pendingBytes + chunk.length > deps.uploadBytesMax) {
      throw new ApiError(413, 'http_payload_too_large_error', `an upload is at most ${deps.uploadBytesMax} bytes`);
    }
    let rest = chunk;
    while (pendingBytes + rest.length >= DATA_PIECE_BYTES_MAX) {
      const take = DATA_PIECE_BYTES_MAX - pendingBytes;
      pending.push(rest.subarray(0, take));
      pendingBytes += take;
      rest = rest.subarray(take);
      await flush();
    }
    if (rest.length > 0) {
      pending.push(rest);
      pendingBytes += rest.length;
    }
  }
  if (pendingBytes > 0) await flush();
}

function bodyStream(request: FastifyRequest): AsyncIterable<Buffer> | undefined {
  const body: unknown = request.body;
  if (body instanceof Readable) return body;
  if (body === undefined || body === null) return undefined;
  throw new ApiError(415, 'http_unsupported_media_type_error', 'send the content as application/octet-stream');
}

/**
 * PUT replaces the content of an existing file: it is truncated to 0 bytes, then the body is
 * written from offset 0. Not atomic: a failed upload leaves the bytes written so far.
 */
async function replaceData(deps: FileRouteDependencies, request: FastifyRequest): Promise<unknown> {
  const ctx = callerContext(request, deps.logger);
  const { ref } = request.params as RefParamsValue;
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > deps.uploadBytesMax) throw new ApiError(413, 'http_payload_too_large_error', `an upload is at most ${deps.uploadBytesMax} bytes`);
  const body = bodyStream(request);
  const { handle } = await resolveRef(deps, ctx, ref, { followFinalSymlink: true });
  await deps.fs.setattr(ctx, handle, { size: 0 });
  if (body !== undefined) await writeBody(deps, ctx, handle, body);
  return encodeAttributes(await deps.fs.getattr(ctx, handle));
}

export function fileDataRoutes(deps: FileRouteDependencies): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/files/:ref/data',
      privilege: 'FILE_READ',
      summary: 'Read a file\'s content; one `Range: bytes=...` is honoured (206, or 416 when unsatisfiable).',
      schema: {
        params: RefParams,
        response: { 200: binaryAnswer('application/octet-stream', 'The whole content.'), 206: binaryAnswer('application/octet-stream', 'The range asked for (Content-Range).') },
      },
      handler: async (request, reply) => readData(deps, request, reply),
    },
    {
      method: 'PUT',
      url: '/v1/files/:ref/data',
      privilege: 'FILE_WRITE',
      summary: 'Replace the content of an existing file with the body (application/octet-stream); answers its attributes.',
      schema: { params: RefParams, body: binaryBody('application/octet-stream', 'The new content, streamed; at most the server\'s upload limit.'), response: { 200: AttributesSchema } },
      handler: async (request) => replaceData(deps, request),
    },
  ];
}
