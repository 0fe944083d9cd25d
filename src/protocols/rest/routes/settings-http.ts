import Type from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FsError } from '../../../core/errors.js';
import type { WriteOptions } from '../../../settings/settings-store.js';
import { ApiError } from '../errors.js';

/**
 * HTTP side of versioned settings: every answer carries `ETag: "<version>"`; a change may send
 * `If-Match` with that tag and fails with 412 if another change got there first. `If-Match: *`
 * or no header applies the change whatever the version.
 */

const ENTITY_TAG = /^(?:W\/)?"([0-9]{1,15})"$/;

export function setVersionTag(reply: FastifyReply, version: number): void {
  reply.header('etag', `"${version}"`);
}

export function writeOptions(request: FastifyRequest): WriteOptions {
  const header = request.headers['if-match'];
  if (header === undefined || header.trim() === '*') return {};
  const match = ENTITY_TAG.exec(header.trim());
  // A tag this server never issued matches no version of the resource (RFC 9110 §13.1.1).
  if (match?.[1] === undefined) throw new ApiError(412, 'http_precondition_failed_error', `If-Match ${header} names no version of this resource; read it again for its ETag`);
  return { ifVersion: Number(match[1]) };
}

/** Runs a versioned change, mapping a lost race under If-Match to 412 Precondition Failed. */
export async function versionedChange<T>(request: FastifyRequest, change: (options: WriteOptions) => Promise<T>): Promise<T> {
  const options = writeOptions(request);
  try {
    return await change(options);
  } catch (error) {
    if (error instanceof FsError && error.code === 'Conflict' && options.ifVersion !== undefined) {
      throw new ApiError(412, 'http_precondition_failed_error', error.message);
    }
    throw error;
  }
}

export const IdParamsSchema = Type.Object({ id: Type.String({ maxLength: 20 }) });
