import Type, { type TSchema } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Privilege } from '../../../authz/privileges.js';
import { FsError } from '../../../core/errors.js';
import type { SettingsStore, SingletonDefinition, WriteOptions } from '../../../settings/settings-store.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { answerSchema, settingsChangeBody } from '../schemas.js';

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

/**
 * Throws the error a settings module gives for a body that failed its schema (explainInvalidBody
 * of ApiRoute): the singleton's pure `parse` against the current value changes nothing.
 */
export async function explainSettingsBody<T>(settings: SettingsStore, definition: SingletonDefinition<T>, body: unknown): Promise<void> {
  definition.parse(body, (await settings.get(definition)).value);
}

export interface SingletonRoutesSpec<T> {
  readonly settings: SettingsStore;
  readonly definition: SingletonDefinition<T>;
  readonly url: string;
  readonly read: Privilege;
  readonly write: Privilege;
  /** The settings' full schema: the answer; the body is the same with every field optional. */
  readonly schema: TSchema;
  /** What the settings are, for the summaries: `The S3 settings`. */
  readonly what: string;
}

/**
 * GET and PUT of a settings singleton, with ETag / If-Match: the PUT names the fields it changes,
 * the others keep their values.
 */
export function singletonRoutes<T>(spec: SingletonRoutesSpec<T>): ApiRoute[] {
  const { settings, definition, url } = spec;
  const answer = answerSchema(spec.schema);
  return [
    {
      method: 'GET',
      url,
      privilege: spec.read,
      summary: `${spec.what}; the ETag header carries their version.`,
      schema: { response: { 200: answer } },
      handler: async (_request, reply) => {
        const current = await settings.get(definition);
        setVersionTag(reply, current.version);
        return current.value;
      },
    },
    {
      method: 'PUT',
      url,
      privilege: spec.write,
      summary: `Change ${spec.what.charAt(0).toLowerCase()}${spec.what.slice(1)}: the fields given change, the others keep their values. If-Match makes the change conditional.`,
      schema: { body: settingsChangeBody(spec.schema), response: { 200: answer } },
      explainInvalidBody: (request) => explainSettingsBody(settings, definition, request.body),
      handler: async (request, reply) => {
        const next = await versionedChange(request, (options) => settings.put(definition, request.body, options));
        setVersionTag(reply, next.version);
        return next.value;
      },
    },
  ];
}
