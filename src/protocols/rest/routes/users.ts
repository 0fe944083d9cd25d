import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type Static, type TProperties } from 'typebox';
import { FsError } from '../../../core/errors.js';
import { GID_MAX, GROUP_NAME_CHARS_MAX, type LocalGroups } from '../../../identity/local-groups.js';
import { PASSWORD_BYTES_MAX, UID_MAX, USER_NAME_CHARS_MAX, USERS_PAGE_MAX, type LocalUser, type LocalUsers } from '../../../identity/local-users.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';

/**
 * Local users: `/v1/users` and `/v1/users/{id}` (`{id}` is a user id or name), and an
 * administrator's password reset. Answers never carry the password hash: each answer is built
 * field by field, and its response schema admits no other field (an answer with one would be a
 * logged 500, not a leak).
 *
 * Bodies refuse unknown fields through `propertyNames` as well as `additionalProperties: false`:
 * fastify's default ajv option `removeAdditional: true` silently strips unknown fields that only
 * `additionalProperties: false` forbids, and a typo'd field must not be ignored.
 */
export interface UserRouteDependencies {
  readonly users: LocalUsers;
  readonly groups: LocalGroups;
  /**
   * After a user is deleted (its group memberships went with it): drop what other modules hold
   * for it (role memberships via RoleStore.forgetMember, sessions, access tokens, MFA factors).
   */
  readonly onUserDeleted?: (userId: string) => Promise<void>;
  /** After an administrator resets a password: for example, end the user's sessions. */
  readonly onPasswordReset?: (userId: string) => Promise<void>;
}

export const PAGE_LIMIT_DEFAULT = 100;
/** Ids are UUIDs, names are user or group names: both fit this pattern. */
export const REF_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

/** An object schema that refuses unknown fields even under ajv's removeAdditional (see above). */
export function strictObject<T extends TProperties>(properties: T) {
  return Type.Object(properties, { additionalProperties: false, propertyNames: { enum: Object.keys(properties) } });
}

export const RefParams = Type.Object({ id: Type.String({ pattern: REF_PATTERN }) });

/**
 * `limit` is a decimal string rather than an integer so it validates the same whether or not
 * the server's ajv coerces query strings.
 */
export const PageQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: REF_PATTERN, description: 'paging.next of the previous page carries it' })),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `1 to ${USERS_PAGE_MAX}; default ${PAGE_LIMIT_DEFAULT}` })),
});

export const PagingSchema = Type.Object({ next: Type.Optional(Type.String()) });

const UserName = Type.String({ minLength: 1, maxLength: USER_NAME_CHARS_MAX });
const PrimaryGroup = Type.Union([Type.String({ minLength: 1, maxLength: GROUP_NAME_CHARS_MAX }), Type.Integer({ minimum: 0, maximum: GID_MAX })], {
  description: 'a group name or gid',
});
const Password = Type.String({ minLength: 1, maxLength: PASSWORD_BYTES_MAX });

const CreateUserBody = strictObject({
  name: UserName,
  password: Password,
  uid: Type.Optional(Type.Integer({ minimum: 1, maximum: UID_MAX })),
  primary_group: Type.Optional(PrimaryGroup),
});
const UpdateUserBody = strictObject({ name: Type.Optional(UserName), primary_group: Type.Optional(PrimaryGroup) });
const PasswordResetBody = strictObject({ new_password: Password });

export const UserSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  uid: Type.Integer(),
  sid: Type.String(),
  primary_gid: Type.Integer(),
  created_at: Type.String({ description: 'RFC 3339' }),
}, { additionalProperties: false });
const UserListSchema = Type.Object({ entries: Type.Array(UserSchema), paging: PagingSchema });

export type UserAnswer = Static<typeof UserSchema>;

export function presentUser(user: LocalUser): UserAnswer {
  return { id: user.id, name: user.name, uid: user.uid, sid: user.sid, primary_gid: user.primaryGid, created_at: new Date(user.createdAt).toISOString() };
}

export function pageOf(query: Static<typeof PageQuery>): { after?: string; limit: number } {
  const limit = query.limit === undefined ? PAGE_LIMIT_DEFAULT : Number(query.limit);
  if (limit < 1 || limit > USERS_PAGE_MAX) throw new FsError('InvalidArgument', `limit must be 1 to ${USERS_PAGE_MAX}`);
  return query.after === undefined ? { limit } : { after: query.after, limit };
}

/** The URL of the next page (Qumulo's `paging.next`), or nothing on the last page. */
export function pagingOf(request: FastifyRequest, next: string | undefined, limit: number): { next?: string } {
  if (next === undefined) return {};
  const base = request.url.split('?')[0] ?? request.url;
  return { next: `${base}?${new URLSearchParams({ after: next, limit: String(limit) }).toString()}` };
}

/** A user by id, else by name; NotFound otherwise. */
export async function resolveUser(users: LocalUsers, ref: string): Promise<LocalUser> {
  const user = (await users.get(ref)) ?? (await users.findByName(ref));
  if (user === undefined) throw new FsError('NotFound', `no user ${ref}`);
  return user;
}

/** A gid from a group name or gid (a number or a decimal string); the group must exist. */
async function resolvePrimaryGid(groups: LocalGroups, value: string | number): Promise<number> {
  const byGid = typeof value === 'number' || /^[0-9]+$/.test(value);
  const group = byGid ? await groups.findByGid(Number(value)) : await groups.findByName(value);
  if (group === undefined) throw new FsError('InvalidArgument', `no group ${byGid ? 'with gid ' : 'named '}${value}`);
  return group.gid;
}

export function userRoutes(deps: UserRouteDependencies): ApiRoute[] {
  const { users, groups } = deps;
  return [
    {
      method: 'GET',
      url: '/v1/users',
      privilege: 'AUTH_READ',
      summary: 'List local users by name, a page at a time (paging.next is the URL of the next page).',
      schema: { querystring: PageQuery, response: { 200: UserListSchema } },
      handler: async (request) => {
        const page = pageOf(request.query as Static<typeof PageQuery>);
        const found = await users.list(page);
        return { entries: found.users.map(presentUser), paging: pagingOf(request, found.next, page.limit) };
      },
    },
    {
      method: 'POST',
      url: '/v1/users',
      privilege: 'AUTH_WRITE',
      summary: 'Create a local user; the password policy applies. primary_group is a group name or gid (default: users, gid 100).',
      schema: { body: CreateUserBody, response: { 201: UserSchema } },
      handler: async (request, reply) => {
        const body = request.body as Static<typeof CreateUserBody>;
        const primaryGid = body.primary_group === undefined ? undefined : await resolvePrimaryGid(groups, body.primary_group);
        const user = await users.createUser({
          name: body.name,
          password: body.password,
          ...(body.uid === undefined ? {} : { uid: body.uid }),
          ...(primaryGid === undefined ? {} : { primaryGid }),
        });
        return reply.code(201).send(presentUser(user));
      },
    },
    {
      method: 'GET',
      url: '/v1/users/:id',
      privilege: 'AUTH_READ',
      summary: 'A local user, by id or name.',
      schema: { params: RefParams, response: { 200: UserSchema } },
      handler: async (request) => presentUser(await resolveUser(users, (request.params as Static<typeof RefParams>).id)),
    },
    {
      method: 'PATCH',
      url: '/v1/users/:id',
      privilege: 'AUTH_WRITE',
      summary: 'Rename a user or change its primary group (the built-in admin cannot be renamed).',
      schema: { params: RefParams, body: UpdateUserBody, response: { 200: UserSchema } },
      handler: async (request) => {
        const user = await resolveUser(users, (request.params as Static<typeof RefParams>).id);
        const body = request.body as Static<typeof UpdateUserBody>;
        const primaryGid = body.primary_group === undefined ? undefined : await resolvePrimaryGid(groups, body.primary_group);
        const updated = await users.update(user.id, {
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(primaryGid === undefined ? {} : { primaryGid }),
        });
        return presentUser(updated);
      },
    },
    {
      method: 'PUT',
      url: '/v1/users/:id/password',
      privilege: 'AUTH_WRITE',
      summary: "Set a user's password (an administrator's reset); the password policy applies.",
      schema: { params: RefParams, body: PasswordResetBody, response: { 200: UserSchema } },
      handler: async (request) => {
        const user = await resolveUser(users, (request.params as Static<typeof RefParams>).id);
        const updated = await users.setPassword(user.id, (request.body as Static<typeof PasswordResetBody>).new_password);
        await deps.onPasswordReset?.(user.id);
        return presentUser(updated);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/users/:id',
      privilege: 'AUTH_WRITE',
      summary: 'Delete a user and its group and role memberships (the built-in admin cannot be deleted).',
      schema: { params: RefParams, response: { 204: NoContent } },
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const user = await resolveUser(users, (request.params as Static<typeof RefParams>).id);
        await users.deleteUser(user.id);
        await deps.onUserDeleted?.(user.id);
        return reply.code(204).send();
      },
    },
  ];
}
