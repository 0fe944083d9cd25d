import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Privilege } from '../../../authz/privileges.js';
import { FsError } from '../../../core/errors.js';
import Type, { type TSchema } from 'typebox';
import { NfsExportInputSchema, NfsExportSchema, nfsExports, presentNfsExport, type NfsExport } from '../../../settings/nfs-exports.js';
import { FtpSettingsSchema, ftpSettings, NfsSettingsSchema, nfsSettings, S3SettingsSchema, s3Settings, SmbSettingsSchema, smbSettings } from '../../../settings/protocol-settings.js';
import type { CollectionDefinition, SettingsStore, StoredRecord } from '../../../settings/settings-store.js';
import { presentSmbShare, SmbShareInputSchema, smbShares, type SmbShare } from '../../../settings/smb-shares.js';
import type { ApiRoute } from '../route.js';
import { answerSchema, NoContent, withoutDefaults } from '../schemas.js';
import { IdParamsSchema, setVersionTag, singletonRoutes, versionedChange } from './settings-http.js';

/**
 * The protocol configuration resources of CONTRACT.md: each protocol's settings (`enabled` and
 * its security options), NFS exports and SMB shares. Bodies are checked against their schema
 * (strictly: an unknown field is a 400, nothing is coerced) and then by the settings module, whose
 * error (class and message naming the field) is the answer either way. An fs_path is stored as
 * given; whether it exists is checked by the protocol that serves it.
 */
export interface ProtocolRoutesDeps {
  readonly settings: SettingsStore;
}

interface CollectionSpec<T> {
  readonly definition: CollectionDefinition<T>;
  readonly url: string;
  readonly read: Privilege;
  readonly write: Privilege;
  readonly present: (record: StoredRecord<T>) => Record<string, unknown>;
  /** The body of a create or replace: the whole record; fields left out take their defaults. */
  readonly inputSchema: TSchema;
  /** The shape `present` answers, for the OpenAPI document (answers are checked against it). */
  readonly answerSchema: TSchema;
}

function collectionRoutes<T>(deps: ProtocolRoutesDeps, spec: CollectionSpec<T>): ApiRoute[] {
  const { definition, url, present } = spec;
  const one = { response: { 200: spec.answerSchema } };
  const list = { response: { 200: Type.Object({ entries: Type.Array(spec.answerSchema) }) } };
  const body = withoutDefaults(spec.inputSchema) as TSchema;
  const explainInvalidBody = (request: FastifyRequest) => void definition.parse(request.body);
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
      schema: { body, ...one },
      explainInvalidBody,
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
      schema: { ...params, body, ...one },
      explainInvalidBody,
      handler: async (request, reply) =>
        answer(reply, await versionedChange(request, (options) => deps.settings.replace(definition, idOf(request), request.body, options))),
    },
    {
      method: 'DELETE',
      url: `${url}/:id`,
      privilege: spec.write,
      summary: `Delete an ${definition.title}.`,
      schema: { ...params, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await versionedChange(request, (options) => deps.settings.delete(definition, idOf(request), options));
        return reply.code(204).send();
      },
    },
  ];
}

/** An SMB share as `presentSmbShare` answers it. */
const SmbShareSchema = answerSchema(
  Type.Object({
    id: Type.String(),
    ...Type.Required(SmbShareInputSchema).properties,
    admits_nobody: Type.Optional(Type.Boolean({ description: 'Present (true) when no permission grants anyone access.' })),
  }),
);

export function protocolRoutes(deps: ProtocolRoutesDeps): ApiRoute[] {
  const { settings } = deps;
  return [
    ...singletonRoutes({ settings, definition: s3Settings, url: '/v1/s3/settings', read: 'S3_READ', write: 'S3_WRITE', schema: S3SettingsSchema, what: 'The S3 settings' }),
    ...singletonRoutes({ settings, definition: nfsSettings, url: '/v1/nfs/settings', read: 'NFS_READ', write: 'NFS_WRITE', schema: NfsSettingsSchema, what: 'The NFS settings' }),
    ...collectionRoutes<NfsExport>(deps, { definition: nfsExports, url: '/v1/nfs/exports', read: 'NFS_READ', write: 'NFS_WRITE', present: presentNfsExport, inputSchema: NfsExportInputSchema, answerSchema: NfsExportSchema }),
    ...singletonRoutes({ settings, definition: smbSettings, url: '/v1/smb/settings', read: 'SMB_READ', write: 'SMB_WRITE', schema: SmbSettingsSchema, what: 'The SMB settings' }),
    ...collectionRoutes<SmbShare>(deps, { definition: smbShares, url: '/v1/smb/shares', read: 'SMB_READ', write: 'SMB_WRITE', present: presentSmbShare, inputSchema: SmbShareInputSchema, answerSchema: SmbShareSchema }),
    ...singletonRoutes({ settings, definition: ftpSettings, url: '/v1/ftp/settings', read: 'FTP_READ', write: 'FTP_WRITE', schema: FtpSettingsSchema, what: 'The FTP settings' }),
  ];
}
