import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import type { Clock } from '../../../core/clock.js';
import { LocalGroups } from '../../../identity/local-groups.js';
import { ADMIN_UID, LocalUsers } from '../../../identity/local-users.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY } from '../testing/api-harness.test-support.js';
import { groupRoutes } from './groups.js';
import { userRoutes } from './users.js';

const DOMAIN_SID = 'S-1-5-21-1111-2222-3333';
const clock: Clock = { nowMs: () => 1_700_000_000_000, nowNs: () => 1_700_000_000_000_000_000n };
const PASSWORD = 'lantern-cobalt-9';

describe('users routes', () => {
  let app: ApiApp;
  let users: LocalUsers;
  const deleted: string[] = [];
  const resets: string[] = [];
  const headers = as(TEST_ADMIN);
  const bodies: string[] = [];

  before(async () => {
    const metadata = new MemoryMetadataStore();
    users = new LocalUsers({ metadata, domainSid: DOMAIN_SID, clock });
    const groups = new LocalGroups({ metadata, domainSid: DOMAIN_SID, clock });
    await users.createUser({ name: 'admin', password: 'short-admin', uid: ADMIN_UID, allowShortPassword: true });
    await groups.createGroup({ name: 'staff', gid: 3000 });
    app = await openApiHarness([
      ...userRoutes({ users, groups, onUserDeleted: async (id) => void deleted.push(id), onPasswordReset: async (id) => void resets.push(id) }),
      ...groupRoutes({ users, groups }),
    ]);
  });
  after(async () => {
    await app.close();
    assert.ok(bodies.length > 50);
    for (const body of bodies) assert.doesNotMatch(body, /argon2|password_?hash/i, 'no answer carries a password hash');
  });

  /** Every answer is kept, to check at the end that none carries a password hash. */
  const inject = async (options: InjectOptions) => {
    const response = await app.inject(options);
    bodies.push(response.body);
    return response;
  };
  const post = (payload: unknown, caller = headers) => inject({ method: 'POST', url: '/v1/users', headers: caller, payload: payload as object });
  const errorClass = (response: { json: () => unknown }) => (response.json() as { error_class: string }).error_class;

  it('creates a user: 201 with {id, name, uid, sid, primary_gid}', async () => {
    const response = await post({ name: 'alice', password: PASSWORD });
    assert.equal(response.statusCode, 201);
    const body = response.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['created_at', 'id', 'name', 'primary_gid', 'sid', 'uid']);
    assert.equal(body.name, 'alice');
    assert.equal(body.uid, 2000);
    assert.equal(body.sid, `${DOMAIN_SID}-5000`);
    assert.equal(body.primary_gid, 100);
    const fetched = await inject({ method: 'GET', url: `/v1/users/${String(body.id)}`, headers });
    assert.deepEqual(fetched.json(), body);
    assert.deepEqual((await inject({ method: 'GET', url: '/v1/users/ALICE', headers })).json(), body, 'by name too');
  });

  it('takes uid and primary_group as a group name or gid', async () => {
    const byName = await post({ name: 'bob', password: PASSWORD, uid: 4000, primary_group: 'staff' });
    assert.equal(byName.statusCode, 201);
    assert.deepEqual([byName.json().uid, byName.json().primary_gid], [4000, 3000]);
    const byGid = await post({ name: 'bella', password: PASSWORD, primary_group: 3000 });
    assert.equal(byGid.json().primary_gid, 3000);
    const unknown = await post({ name: 'bert', password: PASSWORD, primary_group: 'nosuch' });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json().description, /no group named nosuch/);
  });

  it('a duplicate name or uid answers 409', async () => {
    await post({ name: 'carol', password: PASSWORD, uid: 4100 });
    const again = await post({ name: 'CAROL', password: PASSWORD });
    assert.equal(again.statusCode, 409);
    assert.equal(errorClass(again), 'fs_entry_exists_error');
    assert.equal((await post({ name: 'carl', password: PASSWORD, uid: 4100 })).statusCode, 409);
  });

  it('the password policy refuses with 400 password_policy_error, naming every reason', async () => {
    const response = await post({ name: 'dragon', password: 'dragon' });
    assert.equal(response.statusCode, 400);
    assert.equal(errorClass(response), 'password_policy_error');
    assert.match(response.json().description, /at least 12 characters.*user name.*commonly used/);
    assert.equal((await inject({ method: 'GET', url: '/v1/users/dragon', headers })).statusCode, 404);
  });

  it('malformed bodies answer 400: bad JSON, unknown fields, wrong types, oversize strings, bad names', async () => {
    const bad = await inject({ method: 'POST', url: '/v1/users', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name": ' });
    assert.equal(bad.statusCode, 400);
    for (const payload of [
      { name: 'erin', password: PASSWORD, role: 'admin' },
      { name: 'erin', password: PASSWORD, password_hash: 'x' },
      { name: 'erin' },
      { name: { first: 'erin' }, password: PASSWORD },
      { name: 'erin', password: PASSWORD, uid: 'abc' },
      { name: 'erin', password: PASSWORD, uid: 1.5 },
      { name: 'erin', password: PASSWORD, uid: 0 },
      { name: 'erin', password: PASSWORD, primary_group: true },
      { name: 'e'.repeat(33), password: PASSWORD },
      { name: 'erin', password: 'p'.repeat(1025) },
      { name: '1erin', password: PASSWORD },
    ]) {
      const response = await post(payload);
      assert.equal(response.statusCode, 400, JSON.stringify(payload).slice(0, 80));
      assert.ok(typeof response.json().error_class === 'string');
    }
    assert.equal((await inject({ method: 'GET', url: '/v1/users/erin', headers })).statusCode, 404);
  });

  it('401 without a caller, 403 without AUTH_READ / AUTH_WRITE', async () => {
    assert.equal((await inject({ method: 'GET', url: '/v1/users' })).statusCode, 401);
    assert.equal((await inject({ method: 'POST', url: '/v1/users', payload: { name: 'x', password: PASSWORD } })).statusCode, 401);
    const nobody = as(TEST_NOBODY);
    for (const [method, url] of [
      ['GET', '/v1/users'],
      ['POST', '/v1/users'],
      ['GET', '/v1/users/admin'],
      ['PATCH', '/v1/users/admin'],
      ['PUT', '/v1/users/admin/password'],
      ['DELETE', '/v1/users/admin'],
    ] as const) {
      const response = await inject({ method, url, headers: nobody, ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) });
      assert.equal(response.statusCode, 403, `${method} ${url}`);
    }
  });

  it('lists users a page at a time; paging.next is the URL of the next page', async () => {
    const first = await inject({ method: 'GET', url: '/v1/users?limit=2', headers });
    assert.equal(first.statusCode, 200);
    const page = first.json() as { entries: { name: string }[]; paging: { next?: string } };
    assert.deepEqual(page.entries.map((user) => user.name), ['admin', 'alice']);
    assert.ok(page.paging.next?.startsWith('/v1/users?'));
    const names = page.entries.map((user) => user.name);
    let next = page.paging.next;
    while (next !== undefined) {
      const more = (await inject({ method: 'GET', url: next, headers })).json() as typeof page;
      names.push(...more.entries.map((user) => user.name));
      next = more.paging.next;
    }
    assert.deepEqual(names, [...names].sort((left, right) => left.toLowerCase().localeCompare(right.toLowerCase())));
    assert.ok(names.includes('bob') && names.includes('carol'));
    assert.equal((await inject({ method: 'GET', url: '/v1/users?limit=0', headers })).statusCode, 400);
    assert.equal((await inject({ method: 'GET', url: '/v1/users?limit=5000', headers })).statusCode, 400);
    assert.equal((await inject({ method: 'GET', url: '/v1/users?after=a%2Fb', headers })).statusCode, 400);
  });

  it('PATCH renames and changes the primary group; the admin cannot be renamed', async () => {
    const frank = (await post({ name: 'frank', password: PASSWORD })).json() as { id: string };
    const renamed = await inject({ method: 'PATCH', url: `/v1/users/${frank.id}`, headers, payload: { name: 'franklin', primary_group: '3000' } });
    assert.equal(renamed.statusCode, 200);
    assert.deepEqual([renamed.json().name, renamed.json().primary_gid], ['franklin', 3000]);
    assert.equal((await inject({ method: 'PATCH', url: `/v1/users/${frank.id}`, headers, payload: { name: 'alice' } })).statusCode, 409);
    assert.equal((await inject({ method: 'PATCH', url: `/v1/users/${frank.id}`, headers, payload: { uid: 5 } })).statusCode, 400);
    const admin = await inject({ method: 'PATCH', url: '/v1/users/admin', headers, payload: { name: 'boss' } });
    assert.equal(admin.statusCode, 403);
    assert.equal(errorClass(admin), 'fs_read_only_error');
    assert.equal((await inject({ method: 'PATCH', url: '/v1/users/ghost', headers, payload: { name: 'x' } })).statusCode, 404);
  });

  it('PUT password resets it under the policy and calls the reset hook', async () => {
    const gina = (await post({ name: 'gina', password: PASSWORD })).json() as { id: string };
    const weak = await inject({ method: 'PUT', url: `/v1/users/${gina.id}/password`, headers, payload: { new_password: 'qwerty123' } });
    assert.equal(weak.statusCode, 400);
    assert.equal(errorClass(weak), 'password_policy_error');
    const reset = await inject({ method: 'PUT', url: `/v1/users/${gina.id}/password`, headers, payload: { new_password: 'meadow-quartz-7' } });
    assert.equal(reset.statusCode, 200);
    assert.equal((await users.verifyPassword('gina', 'meadow-quartz-7'))?.id, gina.id);
    assert.deepEqual(resets, [gina.id]);
    assert.equal((await inject({ method: 'PUT', url: `/v1/users/${gina.id}/password`, headers, payload: { password: 'meadow-quartz-7' } })).statusCode, 400);
    assert.equal((await inject({ method: 'PUT', url: '/v1/users/ghost/password', headers, payload: { new_password: 'meadow-quartz-7' } })).statusCode, 404);
  });

  it('DELETE removes the user and its memberships and calls the hook; the admin is undeletable', async () => {
    const hank = (await post({ name: 'hank', password: PASSWORD })).json() as { id: string };
    assert.equal((await inject({ method: 'POST', url: '/v1/groups/staff/members', headers, payload: { member_id: 'hank' } })).statusCode, 200);
    const removed = await inject({ method: 'DELETE', url: `/v1/users/${hank.id}`, headers });
    assert.equal(removed.statusCode, 204);
    assert.deepEqual(deleted, [hank.id]);
    assert.equal((await inject({ method: 'GET', url: `/v1/users/${hank.id}`, headers })).statusCode, 404);
    const members = (await inject({ method: 'GET', url: '/v1/groups/staff/members', headers })).json() as { entries: { name: string }[] };
    assert.ok(!members.entries.some((member) => member.name === 'hank'));
    assert.equal((await inject({ method: 'DELETE', url: `/v1/users/${hank.id}`, headers })).statusCode, 404);
    const admin = await inject({ method: 'DELETE', url: '/v1/users/admin', headers });
    assert.equal(admin.statusCode, 403);
    assert.match(admin.json().description, /admin user cannot be deleted/);
    assert.equal((await inject({ method: 'GET', url: '/v1/users/admin', headers })).statusCode, 200);
  });
});
