import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Privilege } from '../../../authz/privileges.js';
import { FsError } from '../../../core/errors.js';
import Type, { type TSchema } from 'typebox';
import { NfsExportSchema, nfsExports, presentNfsExport, type NfsExport } from '../../../settings/nfs-exports.js';
import { ftpSettings, nfsSettings, s3Settings, smbSettings } from '../../../settings/protocol-settings.js';
import type { CollectionDefinition, SettingsStore, SingletonDefinition, StoredRecord } from '../../../settings/settings-store.js';
import { presentSmbShare, smbShares, type SmbShare } from '../../../settings/smb-shares.js';
import type { ApiRoute } from '../route.js';
import { IdParamsSchema, setVersionTag, versionedChange } from './settings-http.js';

/**
 * The protocol configuration resources of CONTRACT.md: each protocol's settings (`enabled` and
 * its security options), NFS exports and SMB shares. Bodies are checked by the settings module
 * (strictly: an unknown field is a 400, nothing is coerced), not by fastify's schema, which would
 * silently drop unknown fields and coerce types. An fs_path is stored as given; whether it exists
 * is checked by the protocol that serves it. Answers with a schema (NFS exports) are documented in
 * the OpenAPI document and checked against it.
 */
export interface ProtocolRoutesDeps {
  readonly settings: SettingsStore;
}

function settingsRoutes<T>(deps: ProtocolRoutesDeps, area: 's3' | 'nfs' | 'smb' | 'ftp', definition: SingletonDefinition<T>): ApiRoute[] {
  const read = `${area.toUpperCase()}_READ` as Privilege;
  const write = `${area.toUpperCase()}_WRITE` as Privilege;
  const url = `/v1/${area}/settings`;
  return [
    {
      method: 'GET',
      url,
      privilege: read,
      summary: `The ${definition.title}; the ETag header carries their version.`,
      handler: async (_request, reply) => {
        const current = await deps.settings.get(definition);
        setVersionTag(reply, current.version);
        return current.value;
      },
    },
    {
      method: 'PUT',
      url,
      privilege: write,
      summary: `Change the ${definition.title}: the fields given change, the others keep their values. If-Match makes the change conditional.`,
      handler: async (request, reply) => {
        const next = await versionedChange(request, (options) => deps.settings.put(definition, request.body, options));
        setVersionTag(reply, next.version);
        return next.value;
      },
    },
  ];
}

interface CollectionSpec<T> {
  readonly definition: CollectionDefinition<T>;
  readonly url: string;
  readonly read: Privilege;
  readonly write: Privilege;
  readonly present: (record: StoredRecord<T>) => Record<string, unknown>;
  /** The shape `present` answers, for the OpenAPI document (answers are checked against it). */
  readonly answerSchema?: TSchema;
}

function collectionRoutes<T>(deps: ProtocolRoutesDeps, spec: CollectionSpec<T>): ApiRoute[] {
  const { definition, url, present, answerSchema } = spec;
  const one = answerSchema === undefined ? {} : { response: { 200: answerSchema } };
  const list = answerSchema === undefined ? {} : { response: { 200: Type.Object({ entries: Type.Array(answerSchema) }) } };
  const params = { params: IdParamsSchema };
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
  const answer = (reply: FastifyReply, record: StoredRecord<T>) => {
    setVersionTag(reply, record.version);
    return present(record);
  };
  return [
    {
      method: 'GET',
      url,
      privilege: spec.read,
      summary: `Every ${definition.title} (at most ${definition.recordsMax}).`,
      schema: list,
      handler: async () => ({ entries: (await deps.settings.list(definition)).map(present) }),
    },
    {
      method: 'POST',
      url,
      privilege: spec.write,
      summary: `Create an ${definition.title}; answers it with its id.`,
      schema: one,
      handler: async (request, reply) => answer(reply, await deps.settings.create(definition, request.body)),
    },
    {
      method: 'GET',
      url: `${url}/:id`,
      privilege: spec.read,
      summary: `One ${definition.title}; the ETag header carries its version.`,
      schema: { ...params, ...one },
      handler: async (request, reply) => {
        const record = await deps.settings.record(definition, idOf(request));
        if (record === undefined) throw new FsError('NotFound', `no ${definition.title} ${idOf(request)}`);
        return answer(reply, record);
      },
    },
    {
      method: 'PUT',
      url: `${url}/:id`,
      privilege: spec.write,
      summary: `Replace an ${definition.title} (the whole record; fields left out take their defaults). If-Match makes it conditional.`,
      schema: { ...params, ...one },
      handler: async (request, reply) =>
        answer(reply, await versionedChange(request, (options) => deps.settings.replace(definition, idOf(request), request.body, options))),
    },
    {
      method: 'DELETE',
      url: `${url}/:id`,
      privilege: spec.write,
      summary: `Delete an ${definition.title}.`,
      schema: params,
      handler: async (request, reply) => {
        await versionedChange(request, (options) => deps.settings.delete(definition, idOf(request), options));
        return reply.code(204).send();
      },
    },
  ];
}

export function protocolRoutes(deps: ProtocolRoutesDeps): ApiRoute[] {
  return [
    ...settingsRoutes(deps, 's3', s3Settings),
    ...settingsRoutes(deps, 'nfs', nfsSettings),
    ...collectionRoutes<NfsExport>(deps, { definition: nfsExports, url: '/v1/nfs/exports', read: 'NFS_READ', write: 'NFS_WRITE', present: presentNfsExport, answerSchema: NfsExportSchema }),
    ...settingsRoutes(deps, 'smb', smbSettings),
    ...collectionRoutes<SmbShare>(deps, { definition: smbShares, url: '/v1/smb/shares', read: 'SMB_READ', write: 'SMB_WRITE', present: presentSmbShare }),
    ...settingsRoutes(deps, 'ftp', ftpSettings),
  ];
}
