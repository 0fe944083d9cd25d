import Type, { type Static, type TSchema } from 'typebox';
import type { FastifyRequest } from 'fastify';
import { checkSchema } from '../../../settings/settings-store.js';
import { PUBLIC_KEY_CHARS_MAX, SecurityKeyCreateSchema, SecurityKeyPatchSchema, SecurityKeyReplaceSchema, type SecurityKey, type SecurityKeyStore } from '../../../snapshots/security-keys.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';

/**
 * The security key store (`/v1/security/keys`, Qumulo's `/v1/file-system/security/keys`): ECDSA
 * P-256 public keys that lock snapshots. Bodies are checked strictly against their schemas (an
 * unknown field is a 400), the store's own, so its error names the field. `{ref}` is a key id or
 * name.
 */
export interface SecurityKeyRoutesDeps {
  readonly keys: SecurityKeyStore;
}

const RefParams = { params: Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64 }) }) };
const KeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  comment: Type.String(),
  public_key: Type.String({ description: 'PEM SPKI' }),
  fingerprint_sha256: Type.String(),
  disabled: Type.Boolean({ description: 'A disabled key unlocks but locks nothing new.' }),
  version: Type.Integer({ description: 'Increases when the key is replaced.' }),
  created: Type.String({ description: 'RFC 3339' }),
});
const ChallengeBody = Type.Object({ public_key: Type.String({ minLength: 1, maxLength: PUBLIC_KEY_CHARS_MAX, description: 'The replacement public key (PEM).' }) }, { additionalProperties: false });
/** The store checks bodies against the same schemas: its error names the field. */
const explainWith = (schema: TSchema, what: string) => (request: FastifyRequest) => checkSchema(schema, request.body, what);
const refOf = (request: FastifyRequest) => (request.params as { ref: string }).ref;

export function presentSecurityKey(key: SecurityKey): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    comment: key.comment,
    public_key: key.public_key,
    fingerprint_sha256: key.fingerprint_sha256,
    disabled: key.disabled,
    version: key.version,
    created: new Date(key.created_ms).toISOString(),
  };
}

export function securityKeyRoutes(deps: SecurityKeyRoutesDeps): ApiRoute[] {
  const { keys } = deps;
  return [
    {
      method: 'GET',
      url: '/v1/security/keys',
      privilege: 'SECURITY_READ',
      summary: 'Every security key (public keys only).',
      schema: { response: { 200: Type.Object({ entries: Type.Array(KeySchema) }) } },
      handler: async () => ({ entries: (await keys.list()).map(presentSecurityKey) }),
    },
    {
      method: 'POST',
      url: '/v1/security/keys',
      privilege: 'SECURITY_WRITE',
      summary: 'Register an ECDSA P-256 public key: {name, public_key (PEM), verification_signature (base64 DER ECDSA-SHA256 of the name), comment?}.',
      schema: { body: SecurityKeyCreateSchema, response: { 201: KeySchema } },
      explainInvalidBody: explainWith(SecurityKeyCreateSchema, 'security_key'),
      handler: async (request, reply) => reply.code(201).send(presentSecurityKey(await keys.create(request.body))),
    },
    {
      method: 'GET',
      url: '/v1/security/keys/:ref',
      privilege: 'SECURITY_READ',
      summary: 'One security key, by id or name.',
      schema: { ...RefParams, response: { 200: KeySchema } },
      handler: async (request) => presentSecurityKey(await keys.resolve(refOf(request))),
    },
    {
      method: 'PATCH',
      url: '/v1/security/keys/:ref',
      privilege: 'SECURITY_WRITE',
      summary: 'Rename, comment, disable or enable a key ({name?, comment?, disabled?}). A disabled key unlocks but locks nothing new.',
      schema: { ...RefParams, body: SecurityKeyPatchSchema, response: { 200: KeySchema } },
      explainInvalidBody: explainWith(SecurityKeyPatchSchema, 'security_key'),
      handler: async (request) => presentSecurityKey(await keys.update(refOf(request), request.body)),
    },
    {
      method: 'DELETE',
      url: '/v1/security/keys/:ref',
      privilege: 'SECURITY_WRITE',
      summary: 'Delete a key that nothing uses (no locked snapshot, no policy).',
      schema: { ...RefParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await keys.delete(refOf(request));
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: '/v1/security/keys/:ref/key-replacement-challenge',
      privilege: 'SECURITY_READ',
      summary: 'The message both keys sign to replace this key by {public_key}: answers {challenge}.',
      schema: { ...RefParams, body: ChallengeBody, response: { 200: Type.Object({ challenge: Type.String() }) } },
      handler: async (request) => ({ challenge: await keys.replacementMessage(refOf(request), (request.body as Static<typeof ChallengeBody>).public_key) }),
    },
    {
      method: 'POST',
      url: '/v1/security/keys/:ref/replace',
      privilege: 'SECURITY_WRITE',
      summary: 'Rotate a key: {public_key, old_key_signature, new_key_signature}, both signing the key-replacement challenge. Id and name stay.',
      schema: { ...RefParams, body: SecurityKeyReplaceSchema, response: { 200: KeySchema } },
      explainInvalidBody: explainWith(SecurityKeyReplaceSchema, 'security_key_replacement'),
      handler: async (request) => presentSecurityKey(await keys.replace(refOf(request), request.body)),
    },
  ];
}
