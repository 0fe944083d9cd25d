import Type, { type Static } from 'typebox';
import type { ApiRoute } from '../route.js';
import { strictObject } from './users.js';

/**
 * `/v1/encryption/status` and `/v1/encryption/rotate-keys`: what protects data at rest, and key
 * rotation. Only identifiers are shown (the KEK's fingerprint id, key versions), never a key.
 */
export interface EncryptionRoutesDeps {
  /** How the metadata database is encrypted (Instance.metadataEncryption). */
  readonly metadataEncryption: string;
  /** The instance's keyring (src/keys/keyring.ts). */
  readonly keyring: {
    readonly providerId: string;
    currentDataKey(): { readonly version: number };
    dataKeyVersions(): number[];
    rotateDataKey(): Promise<number>;
  };
  /** The KEK in force and its rotation (src/keys/local-kek-rotation.ts for the local key file). */
  readonly kek: {
    readonly provider: { readonly passphraseProtected: boolean };
    rotate(): Promise<string>;
  };
}

const RotateBody = strictObject({
  scope: Type.Optional(Type.Union([Type.Literal('DATA_KEY'), Type.Literal('KEK')], {
    description: 'DATA_KEY (default): new chunks are sealed with a new data key; existing chunks keep theirs and stay readable. KEK: a new key-encryption key rewraps every key; no data is rewritten.',
  })),
});

const StatusSchema = Type.Object({
  enabled: Type.Boolean(),
  algorithm: Type.String(),
  key_provider: Type.String(),
  kek_id: Type.String({ description: "The key-encryption key's fingerprint id, never the key." }),
  key_wrapping: Type.String(),
  passphrase_protected: Type.Boolean(),
  data_key_version: Type.Integer(),
  data_key_versions: Type.Integer({ description: 'How many data key versions exist (older chunks keep theirs).' }),
  metadata_encryption: Type.String(),
});
const RotatedSchema = Type.Object({ rotated: Type.Union([Type.Literal('DATA_KEY'), Type.Literal('KEK')]), ...StatusSchema.properties });

function status(deps: EncryptionRoutesDeps) {
  const versions = deps.keyring.dataKeyVersions();
  return {
    enabled: true,
    algorithm: 'AES-256-GCM',
    key_provider: 'local-key-file',
    kek_id: deps.keyring.providerId,
    key_wrapping: 'AES-256-GCM',
    passphrase_protected: deps.kek.provider.passphraseProtected,
    data_key_version: deps.keyring.currentDataKey().version,
    data_key_versions: versions.length,
    metadata_encryption: deps.metadataEncryption,
  };
}

export function encryptionRoutes(deps: EncryptionRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/encryption/status',
      privilege: 'ENCRYPTION_READ',
      summary: 'Encryption at rest: the chunk cipher, the key provider and the id of its key-encryption key, whether a passphrase protects it, and the data key versions.',
      schema: { response: { 200: StatusSchema } },
      handler: async () => status(deps),
    },
    {
      method: 'POST',
      url: '/v1/encryption/rotate-keys',
      privilege: 'ENCRYPTION_WRITE',
      summary: 'Rotate the data key (body {} or {scope: DATA_KEY}) or the key-encryption key (scope KEK). Answers the status after the rotation and the scope rotated.',
      schema: { body: RotateBody, response: { 200: RotatedSchema } },
      handler: async (request) => {
        const scope = (request.body as Static<typeof RotateBody> | undefined)?.scope ?? 'DATA_KEY';
        if (scope === 'KEK') await deps.kek.rotate();
        else await deps.keyring.rotateDataKey();
        request.log.info({ scope, kekId: deps.keyring.providerId, dataKeyVersion: deps.keyring.currentDataKey().version }, 'encryption keys rotated');
        return { rotated: scope, ...status(deps) };
      },
    },
  ];
}
