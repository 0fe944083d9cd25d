import Type from 'typebox';
import { PRIVILEGES } from '../../../authz/privileges.js';
import type { RoleMember, RoleStore } from '../../../authz/role-store.js';
import type { AccessToken, AccessTokens } from '../../../identity/access-tokens.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';

export interface AuthRouteDependencies {
  readonly roles: RoleStore;
  readonly accessTokens: AccessTokens;
  /** A user or group by name or id, for role membership and token owners. */
  readonly findUserByNameOrId: (nameOrId: string) => Promise<{ id: string; name: string } | undefined>;
  readonly findGroupByNameOrGid: (nameOrGid: string) => Promise<{ gid: number; name: string } | undefined>;
  readonly describeMember: (member: RoleMember) => Promise<string | undefined>;
}

const RoleName = Type.String({ minLength: 1, maxLength: 64 });
const RoleBody = Type.Object(
  { name: RoleName, description: Type.Optional(Type.String({ maxLength: 1024 })), privileges: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 200 }) },
  { additionalProperties: false },
);
const RolePatch = Type.Object(
  { description: Type.Optional(Type.String({ maxLength: 1024 })), privileges: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 200 })) },
  { additionalProperties: false },
);
const RoleParams = Type.Object({ name: RoleName }, { additionalProperties: false });
const MemberParams = Type.Object({ name: RoleName, member: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
const MemberBody = Type.Object({ member: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
const TokenBody = Type.Object(
  {
    user: Type.String({ minLength: 1, maxLength: 256, description: 'user name or id' }),
    expiration: Type.Optional(Type.String({ format: 'date-time' })),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
const TokenParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) }, { additionalProperties: false });
const PrivilegeSchema = Type.Object({ name: Type.String(), description: Type.String() });
const RoleSchema = Type.Object({
  name: Type.String(),
  description: Type.String(),
  privileges: Type.Array(Type.String()),
  builtIn: Type.Boolean({ description: 'Built-in roles cannot be changed or deleted; their members can.' }),
});
const MemberKind = Type.Union([Type.Literal('user'), Type.Literal('group')]);
const MemberSchema = Type.Object({
  kind: MemberKind,
  id: Type.String({ description: "A user's id, or a group's gid as a decimal string." }),
  name: Type.Union([Type.String(), Type.Null()], { description: 'null when the user or group is gone.' }),
});
const TokenSchema = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  description: Type.String(),
  created_at: Type.String({ description: 'RFC 3339' }),
  expiration: Type.Union([Type.String(), Type.Null()]),
  last_used_at: Type.Union([Type.String(), Type.Null()]),
});
const CreatedTokenSchema = Type.Object({ ...TokenSchema.properties, bearer_token: Type.String({ description: 'Shown only in this answer.' }) });
const TokenQuery = Type.Object({ user: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false });

function tokenView(token: AccessToken): Record<string, unknown> {
  return {
    id: token.id,
    user_id: token.userId,
    description: token.description,
    created_at: new Date(token.createdAtMs).toISOString(),
    expiration: token.expiresAtMs === undefined ? null : new Date(token.expiresAtMs).toISOString(),
    last_used_at: token.lastUsedAtMs === undefined ? null : new Date(token.lastUsedAtMs).toISOString(),
  };
}

async function resolveMember(deps: AuthRouteDependencies, text: string): Promise<RoleMember> {
  const user = await deps.findUserByNameOrId(text);
  if (user !== undefined) return { kind: 'user', id: user.id };
  const group = await deps.findGroupByNameOrGid(text);
  if (group !== undefined) return { kind: 'group', id: String(group.gid) };
  throw new ApiError(404, 'no_such_member_error', `no user or group named ${text}`);
}

/** RBAC (privileges, roles, role members) and access tokens. */
export function authRoutes(deps: AuthRouteDependencies): ApiRoute[] {
  const { roles, accessTokens } = deps;
  return [
    {
      method: 'GET', url: '/v1/auth/privileges', privilege: 'AUTH_READ', summary: 'The privilege catalogue.', schema: { response: { 200: Type.Array(PrivilegeSchema) } },
      handler: async () => Object.entries(PRIVILEGES).map(([name, description]) => ({ name, description })),
    },
    { method: 'GET', url: '/v1/auth/roles', privilege: 'AUTH_READ', summary: 'Every role.', schema: { response: { 200: Type.Array(RoleSchema) } }, handler: async () => roles.list() },
    {
      method: 'POST', url: '/v1/auth/roles', privilege: 'AUTH_WRITE', summary: 'Create a custom role.', schema: { body: RoleBody, response: { 201: RoleSchema } },
      handler: async (request, reply) => reply.code(201).send(await roles.create(request.body as { name: string; description?: string; privileges: string[] })),
    },
    {
      method: 'GET', url: '/v1/auth/roles/:name', privilege: 'AUTH_READ', summary: 'One role.', schema: { params: RoleParams, response: { 200: RoleSchema } },
      handler: async (request) => {
        const role = await roles.get((request.params as { name: string }).name);
        if (role === undefined) throw new ApiError(404, 'no_such_role_error', 'no such role');
        return role;
      },
    },
    {
      method: 'PATCH', url: '/v1/auth/roles/:name', privilege: 'AUTH_WRITE', summary: "Change a custom role's description or privileges.", schema: { params: RoleParams, body: RolePatch, response: { 200: RoleSchema } },
      handler: async (request) => roles.update((request.params as { name: string }).name, request.body as { description?: string; privileges?: string[] }),
    },
    {
      method: 'DELETE', url: '/v1/auth/roles/:name', privilege: 'AUTH_WRITE', summary: 'Delete a custom role.', schema: { params: RoleParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await roles.delete((request.params as { name: string }).name);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET', url: '/v1/auth/roles/:name/members', privilege: 'AUTH_READ', summary: 'The users and groups holding a role.', schema: { params: RoleParams, response: { 200: Type.Array(MemberSchema) } },
      handler: async (request) => {
        const members = await roles.members((request.params as { name: string }).name);
        return Promise.all(members.map(async (member) => ({ kind: member.kind, id: member.id, name: (await deps.describeMember(member)) ?? null })));
      },
    },
    {
      method: 'POST', url: '/v1/auth/roles/:name/members', privilege: 'AUTH_WRITE', summary: 'Give a role to a user or group (by name or id).', schema: { params: RoleParams, body: MemberBody, response: { 200: Type.Object({ kind: MemberKind, id: Type.String() }) } },
      handler: async (request) => {
        const member = await resolveMember(deps, (request.body as { member: string }).member);
        await roles.addMember((request.params as { name: string }).name, member);
        return { kind: member.kind, id: member.id };
      },
    },
    {
      method: 'DELETE', url: '/v1/auth/roles/:name/members/:member', privilege: 'AUTH_WRITE', summary: 'Take a role from a user or group.', schema: { params: MemberParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        const params = request.params as { name: string; member: string };
        await roles.removeMember(params.name, await resolveMember(deps, params.member));
        return reply.code(204).send();
      },
    },
    {
      method: 'GET', url: '/v1/auth/access-tokens', privilege: 'ACCESS_TOKENS_READ', summary: 'Access tokens (never their secrets), with last use.', schema: { querystring: TokenQuery, response: { 200: Type.Object({ entries: Type.Array(TokenSchema) }) } },
      handler: async (request) => {
        const filter = (request.query as { user?: string }).user;
        const user = filter === undefined ? undefined : await deps.findUserByNameOrId(filter);
        if (filter !== undefined && user === undefined) throw new ApiError(404, 'no_such_user_error', 'no such user');
        return { entries: (await accessTokens.list(user === undefined ? {} : { userId: user.id })).map(tokenView) };
      },
    },
    {
      method: 'POST', url: '/v1/auth/access-tokens', privilege: 'ACCESS_TOKENS_WRITE', summary: 'Create an access token for a user; its secret is shown once.', schema: { body: TokenBody, response: { 201: CreatedTokenSchema } },
      handler: async (request, reply) => {
        const body = request.body as { user: string; expiration?: string; description?: string };
        const user = await deps.findUserByNameOrId(body.user);
        if (user === undefined) throw new ApiError(404, 'no_such_user_error', 'no such user');
        const expiresAtMs = body.expiration === undefined ? undefined : Date.parse(body.expiration);
        if (expiresAtMs !== undefined && Number.isNaN(expiresAtMs)) throw new ApiError(400, 'http_bad_request_error', 'expiration is not a date');
        const created = await accessTokens.create({ userId: user.id, ...(expiresAtMs === undefined ? {} : { expiresAtMs }), ...(body.description === undefined ? {} : { description: body.description }) });
        return reply.code(201).send({ ...tokenView(created.token), bearer_token: created.bearer });
      },
    },
    {
      method: 'GET', url: '/v1/auth/access-tokens/:id', privilege: 'ACCESS_TOKENS_READ', summary: 'One access token.', schema: { params: TokenParams, response: { 200: TokenSchema } },
      handler: async (request) => {
        const token = await accessTokens.get((request.params as { id: string }).id);
        if (token === undefined) throw new ApiError(404, 'no_such_token_error', 'no such access token');
        return tokenView(token);
      },
    },
    {
      method: 'DELETE', url: '/v1/auth/access-tokens/:id', privilege: 'ACCESS_TOKENS_WRITE', summary: 'Revoke an access token, at once.', schema: { params: TokenParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await accessTokens.revoke((request.params as { id: string }).id);
        return reply.code(204).send();
      },
    },
  ];
}
