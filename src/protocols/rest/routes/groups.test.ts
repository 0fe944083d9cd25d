import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import type { Clock } from '../../../core/clock.js';
import { LocalGroups } from '../../../identity/local-groups.js';
import { LocalUsers } from '../../../identity/local-users.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY } from '../testing/api-harness.test-support.js';
import { groupRoutes } from './groups.js';

const DOMAIN_SID = 'S-1-5-21-1111-2222-3333';
const clock: Clock = { nowMs: () => 1_700_000_000_000, nowNs: () => 1_700_000_000_000_000_000n };

describe('groups routes', () => {
  let app: ApiApp;
  let groups: LocalGroups;
  let users: LocalUsers;
  let alice: { id: string };
  const deletedGroups: number[] = [];
  const headers = as(TEST_ADMIN);
  const inject = (options: InjectOptions) => app.inject(options);
  const errorClass = (response: { json: () => unknown }) => (response.json() as { error_class: string }).error_class;

  before(async () => {
    const metadata = new MemoryMetadataStore();
    users = new LocalUsers({ metadata, domainSid: DOMAIN_SID, clock });
    groups = new LocalGroups({ metadata, domainSid: DOMAIN_SID, clock });
    alice = await users.createUser({ name: 'alice', password: 'lantern-cobalt-9' });
    await users.createUser({ name: 'bob', password: 'lantern-cobalt-9' });
    app = await openApiHarness(groupRoutes({ users, groups, onGroupDeleted: async (group) => void deletedGroups.push(group.gid) }));
  });
  after(() => app.close());

  it('creates a group: 201 with {id, name, gid, sid}; gids from 2000; names unique (409)', async () => {
    const created = await inject({ method: 'POST', url: '/v1/groups', headers, payload: { name: 'staff' } });
    assert.equal(created.statusCode, 201);
    const body = created.json() as Record<string, unknown>;
    assert.deepEqual([body.name, body.gid, body.sid, body.built_in, body.member_count], ['staff', 2000, `${DOMAIN_SID}-5001`, false, 0]);
    assert.deepEqual((await inject({ method: 'GET', url: `/v1/groups/${String(body.id)}`, headers })).json(), body);
    assert.deepEqual((await inject({ method: 'GET', url: '/v1/groups/STAFF', headers })).json(), body);
    const fixed = await inject({ method: 'POST', url: '/v1/groups', headers, payload: { name: 'ops', gid: 3000 } });
    assert.equal(fixed.json().gid, 3000);
    const duplicate = await inject({ method: 'POST', url: '/v1/groups', headers, payload: { name: 'Staff' } });
    assert.equal(duplicate.statusCode, 409);
    assert.equal(errorClass(duplicate), 'fs_entry_exists_error');
    assert.equal((await inject({ method: 'POST', url: '/v1/groups', headers, payload: { name: 'other', gid: 3000 } })).statusCode, 409);
  });

  it('malformed bodies answer 400', async () => {
    for (const payload of [{ name: 'x', members: [] }, { gid: 5 }, { name: 'x', gid: 'abc' }, { name: 'x', gid: 0 }, { name: 'g'.repeat(33) }, { name: ['a', 'b'] }, { name: '9lives' }]) {
      assert.equal((await inject({ method: 'POST', url: '/v1/groups', headers, payload })).statusCode, 400, JSON.stringify(payload));
    }
    const bad = await inject({ method: 'POST', url: '/v1/groups', headers: { ...headers, 'content-type': 'application/json' }, payload: '[' });
    assert.equal(bad.statusCode, 400);
    assert.equal((await inject({ method: 'PATCH', url: '/v1/groups/staff', headers, payload: { gid: 4000 } })).statusCode, 400, 'a gid never changes');
  });

  it('401 without a caller, 403 without the privilege', async () => {
    assert.equal((await inject({ method: 'GET', url: '/v1/groups' })).statusCode, 401);
    const nobody = as(TEST_NOBODY);
    for (const [method, url] of [
      ['GET', '/v1/groups'],
      ['POST', '/v1/groups'],
      ['GET', '/v1/groups/users'],
      ['PATCH', '/v1/groups/users'],
      ['DELETE', '/v1/groups/users'],
      ['GET', '/v1/groups/users/members'],
      ['POST', '/v1/groups/users/members'],
      ['DELETE', '/v1/groups/users/members/alice'],
    ] as const) {
      const response = await inject({ method, url, headers: nobody, ...(method === 'POST' || method === 'PATCH' ? { payload: {} } : {}) });
      assert.equal(response.statusCode, 403, `${method} ${url}`);
    }
  });

  it('lists groups with the built-in users group, a page at a time', async () => {
    const first = (await inject({ method: 'GET', url: '/v1/groups?limit=2', headers })).json() as { entries: { name: string; built_in: boolean }[]; paging: { next?: string } };
    assert.deepEqual(first.entries.map((group) => group.name), ['ops', 'staff']);
    assert.ok(first.paging.next);
    const second = (await inject({ method: 'GET', url: first.paging.next, headers })).json() as typeof first;
    assert.deepEqual(second.entries.map((group) => [group.name, group.built_in]), [['users', true]]);
    assert.deepEqual(second.paging, {});
  });

  it('members: add by name or id (idempotent), list, remove; 404 for unknown group, user or membership', async () => {
    assert.equal((await inject({ method: 'POST', url: '/v1/groups/staff/members', headers, payload: { member_id: 'alice' } })).statusCode, 200);
    const byId = await inject({ method: 'POST', url: '/v1/groups/staff/members', headers, payload: { member_id: alice.id } });
    assert.deepEqual(byId.json(), { id: alice.id, name: 'alice', uid: 2000 });
    await inject({ method: 'POST', url: '/v1/groups/staff/members', headers, payload: { member_id: 'bob' } });
    const listed = (await inject({ method: 'GET', url: '/v1/groups/staff/members', headers })).json() as { entries: { name: string }[] };
    assert.deepEqual(listed.entries.map((member) => member.name).sort(), ['alice', 'bob']);
    assert.equal((await inject({ method: 'GET', url: '/v1/groups/staff', headers })).json().member_count, 2);
    assert.deepEqual(await groups.groupsOf(alice.id), [2000]);
    assert.equal((await inject({ method: 'DELETE', url: '/v1/groups/staff/members/bob', headers })).statusCode, 204);
    assert.equal((await inject({ method: 'DELETE', url: '/v1/groups/staff/members/bob', headers })).statusCode, 404);
    assert.equal((await inject({ method: 'POST', url: '/v1/groups/staff/members', headers, payload: { member_id: 'ghost' } })).statusCode, 404);
    assert.equal((await inject({ method: 'POST', url: '/v1/groups/ghosts/members', headers, payload: { member_id: 'alice' } })).statusCode, 404);
    assert.equal((await inject({ method: 'GET', url: '/v1/groups/ghosts/members', headers })).statusCode, 404);
    assert.equal((await inject({ method: 'POST', url: '/v1/groups/staff/members', headers, payload: { member: 'alice' } })).statusCode, 400);
  });

  it('PATCH renames; the built-in group can be neither renamed nor deleted', async () => {
    const renamed = await inject({ method: 'PATCH', url: '/v1/groups/ops', headers, payload: { name: 'operations' } });
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.json().name, 'operations');
    assert.equal((await inject({ method: 'PATCH', url: '/v1/groups/operations', headers, payload: { name: 'staff' } })).statusCode, 409);
    assert.equal((await inject({ method: 'PATCH', url: '/v1/groups/users', headers, payload: { name: 'people' } })).statusCode, 403);
    assert.equal((await inject({ method: 'DELETE', url: '/v1/groups/users', headers })).statusCode, 403);
    assert.equal((await inject({ method: 'GET', url: '/v1/groups/nope', headers })).statusCode, 404);
  });

  it("DELETE refuses a user's primary group with 409, else removes the group and its memberships", async () => {
    assert.equal((await inject({ method: 'POST', url: '/v1/groups', headers, payload: { name: 'temp', gid: 3500 } })).statusCode, 201);
    const carol = await users.createUser({ name: 'carol', password: 'lantern-cobalt-9', primaryGid: 3500 });
    const refused = await inject({ method: 'DELETE', url: '/v1/groups/temp', headers });
    assert.equal(refused.statusCode, 409);
    assert.match(refused.json().description, /primary group of user carol/);
    await users.update(carol.id, { primaryGid: 100 });
    await inject({ method: 'POST', url: '/v1/groups/temp/members', headers, payload: { member_id: 'alice' } });
    const deleted = await inject({ method: 'DELETE', url: '/v1/groups/temp', headers });
    assert.equal(deleted.statusCode, 204);
    assert.deepEqual(deletedGroups, [3500]);
    assert.deepEqual(await groups.groupsOf(alice.id), [2000]);
    assert.equal((await inject({ method: 'DELETE', url: '/v1/groups/temp', headers })).statusCode, 404);
  });
});
