import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { SecurityKey, SecurityKeyStore } from '../../../snapshots/security-keys.js';
import type { ApiRoute } from '../route.js';

/**
 * The security key store (`/v1/security/keys`, Qumulo's `/v1/file-system/security/keys`): ECDSA
 * P-256 public keys that lock snapshots. Bodies are checked strictly by the store (an unknown
 * field is a 400). `{ref}` is a key id or name.
 */
export interface SecurityKeyRoutesDeps {
  readonly keys: SecurityKeyStore;
}

const RefParams = { params: Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64 }) }) };
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
      handler: async () => ({ entries: (await keys.list()).map(presentSecurityKey) }),
    },
    {
      method: 'POST',
      url: '/v1/security/keys',
      privilege: 'SECURITY_WRITE',
      summary: 'Register an ECDSA P-256 public key: {name, public_key (PEM), verification_signature (base64 DER ECDSA-SHA256 of the name), comment?}.',
      handler: async (request, reply) => reply.code(201).send(presentSecurityKey(await keys.create(request.body))),
    },
    {
      method: 'GET',
      url: '/v1/security/keys/:ref',
      privilege: 'SECURITY_READ',
      summary: 'One security key, by id or name.',
      schema: RefParams,
      handler: async (request) => presentSecurityKey(await keys.resolve(refOf(request))),
    },
    {
      method: 'PATCH',
      url: '/v1/security/keys/:ref',
      privilege: 'SECURITY_WRITE',
      summary: 'Rename, comment, disable or enable a key ({name?, comment?, disabled?}). A disabled key unlocks but locks nothing new.',
      schema: RefParams,
      handler: async (request) => presentSecurityKey(await keys.update(refOf(request), request.body)),
    },
    {
      method: 'DELETE',
      url: '/v1/security/keys/:ref',
      privilege: 'SECURITY_WRITE',
      summary: 'Delete a key that nothing uses (no locked snapshot, no policy).',
      schema: RefParams,
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
      schema: RefParams,
      handler: async (request) => {
        const body = request.body as { public_key?: unknown } | undefined;
        const publicKey = typeof body?.public_key === 'string' ? body.public_key : '';
        return { challenge: await keys.replacementMessage(refOf(request), publicKey) };
      },
    },
    {
      method: 'POST',
      url: '/v1/security/keys/:ref/replace',
      privilege: 'SECURITY_WRITE',
      summary: 'Rotate a key: {public_key, old_key_signature, new_key_signature}, both signing the key-replacement challenge. Id and name stay.',
      schema: RefParams,
      handler: async (request) => presentSecurityKey(await keys.replace(refOf(request), request.body)),
    },
  ];
}
