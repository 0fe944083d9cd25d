import type { FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { FsError } from '../../../core/errors.js';
import { GID_MAX, GROUP_NAME_CHARS_MAX, type LocalGroup, type LocalGroups } from '../../../identity/local-groups.js';
import type { LocalUsers } from '../../../identity/local-users.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';
import { PageQuery, PagingSchema, REF_PATTERN, RefParams, pageOf, pagingOf, resolveUser, strictObject } from './users.js';

/**
 * Local groups and their members: `/v1/groups`, `/v1/groups/{id}` (`{id}` is a group id or
 * name) and `/v1/groups/{id}/members` (a member is given by user id or name). Membership here is
 * supplementary membership; a user's primary group is on the user.
 */
export interface GroupRouteDependencies {
  readonly users: LocalUsers;
  readonly groups: LocalGroups;
  /** After a group is deleted: drop its role memberships (RoleStore.forgetMember kind 'group', id the gid). */
  readonly onGroupDeleted?: (group: { id: string; gid: number }) => Promise<void>;
}

const GroupName = Type.String({ minLength: 1, maxLength: GROUP_NAME_CHARS_MAX });
const CreateGroupBody = strictObject({ name: GroupName, gid: Type.Optional(Type.Integer({ minimum: 1, maximum: GID_MAX })) });
const UpdateGroupBody = strictObject({ name: Type.Optional(GroupName) });
const AddMemberBody = strictObject({ member_id: Type.String({ pattern: REF_PATTERN, description: 'a user id or user name' }) });
const MemberParams = Type.Object({ id: Type.String({ pattern: REF_PATTERN }), member_id: Type.String({ pattern: REF_PATTERN }) });

const GroupSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  gid: Type.Integer(),
  sid: Type.String(),
  built_in: Type.Boolean(),
  member_count: Type.Integer(),
  created_at: Type.String({ description: 'RFC 3339' }),
});
const GroupListSchema = Type.Object({ entries: Type.Array(GroupSchema), paging: PagingSchema });
const MemberSchema = Type.Object({ id: Type.String(), name: Type.String(), uid: Type.Integer() });
const MemberListSchema = Type.Object({ entries: Type.Array(MemberSchema), paging: PagingSchema });

function presentGroup(group: LocalGroup): Static<typeof GroupSchema> {
  return {
    id: group.id,
    name: group.name,
    gid: group.gid,
    sid: group.sid,
    built_in: group.builtIn,
    member_count: group.memberCount,
    created_at: new Date(group.createdAt).toISOString(),
  };
}

async function resolveGroup(groups: LocalGroups, ref: string): Promise<LocalGroup> {
  const group = (await groups.get(ref)) ?? (await groups.findByName(ref));
  if (group === undefined) throw new FsError('NotFound', `no group ${ref}`);
  return group;
}

const refOf = (request: FastifyRequest) => (request.params as Static<typeof RefParams>).id;

export function groupRoutes(deps: GroupRouteDependencies): ApiRoute[] {
  const { users, groups } = deps;
  return [
    {
      method: 'GET',
      url: '/v1/groups',
      privilege: 'AUTH_READ',
      summary: 'List local groups by name, a page at a time (paging.next is the URL of the next page).',
      schema: { querystring: PageQuery, response: { 200: GroupListSchema } },
      handler: async (request) => {
        const page = pageOf(request.query as Static<typeof PageQuery>);
        const found = await groups.list(page);
        return { entries: found.groups.map(presentGroup), paging: pagingOf(request, found.next, page.limit) };
      },
    },
    {
      method: 'POST',
      url: '/v1/groups',
      privilege: 'AUTH_WRITE',
      summary: 'Create a local group; the gid is allocated from 2000 when not given.',
      schema: { body: CreateGroupBody, response: { 201: GroupSchema } },
      handler: async (request, reply) => {
        const body = request.body as Static<typeof CreateGroupBody>;
        const group = await groups.createGroup({ name: body.name, ...(body.gid === undefined ? {} : { gid: body.gid }) });
        return reply.code(201).send(presentGroup(group));
      },
    },
    {
      method: 'GET',
      url: '/v1/groups/:id',
      privilege: 'AUTH_READ',
      summary: 'A local group, by id or name.',
      schema: { params: RefParams, response: { 200: GroupSchema } },
      handler: async (request) => presentGroup(await resolveGroup(groups, refOf(request))),
    },
    {
      method: 'PATCH',
      url: '/v1/groups/:id',
      privilege: 'AUTH_WRITE',
      summary: 'Rename a group (the built-in group users cannot be renamed). A gid never changes: files carry it.',
      schema: { params: RefParams, body: UpdateGroupBody, response: { 200: GroupSchema } },
      handler: async (request) => {
        const group = await resolveGroup(groups, refOf(request));
        const body = request.body as Static<typeof UpdateGroupBody>;
        return presentGroup(await groups.update(group.id, body.name === undefined ? {} : { name: body.name }));
      },
    },
    {
      method: 'DELETE',
      url: '/v1/groups/:id',
      privilege: 'AUTH_WRITE',
      summary: "Delete a group and its memberships; refused while it is some user's primary group, and for the built-in group.",
      schema: { params: RefParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        const group = await groups.deleteGroup((await resolveGroup(groups, refOf(request))).id);
        await deps.onGroupDeleted?.({ id: group.id, gid: group.gid });
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/groups/:id/members',
      privilege: 'AUTH_READ',
      summary: "A group's members (supplementary membership), a page at a time.",
      schema: { params: RefParams, querystring: PageQuery, response: { 200: MemberListSchema } },
      handler: async (request) => {
        const group = await resolveGroup(groups, refOf(request));
        const page = pageOf(request.query as Static<typeof PageQuery>);
        const found = await groups.members(group.id, page);
        return { entries: found.members, paging: pagingOf(request, found.next, page.limit) };
      },
    },
    {
      method: 'POST',
      url: '/v1/groups/:id/members',
      privilege: 'AUTH_WRITE',
      summary: 'Add a user (by id or name) to a group; adding a member again changes nothing.',
      schema: { params: RefParams, body: AddMemberBody, response: { 200: MemberSchema } },
      handler: async (request) => {
        const group = await resolveGroup(groups, refOf(request));
        const user = await resolveUser(users, (request.body as Static<typeof AddMemberBody>).member_id);
        await groups.addMember(group.id, user.id);
        return { id: user.id, name: user.name, uid: user.uid };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/groups/:id/members/:member_id',
      privilege: 'AUTH_WRITE',
      summary: 'Remove a user (by id or name) from a group.',
      schema: { params: MemberParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        const params = request.params as Static<typeof MemberParams>;
        const group = await resolveGroup(groups, params.id);
        const user = await resolveUser(users, params.member_id);
        await groups.removeMember(group.id, user.id);
        return reply.code(204).send();
      },
    },
  ];
}
