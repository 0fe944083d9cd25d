import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { isFsError } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { GID_ALLOCATED_MIN, LocalGroups, USERS_GROUP_GID, groupSid } from './local-groups.js';
import { LocalUsers } from './local-users.js';

const DOMAIN_SID = 'S-1-5-21-1111-2222-3333';
const fixedClock: Clock = { nowMs: () => 1_700_000_000_000, nowNs: () => 1_700_000_000_000_000_000n };
const PASSWORD = 'lantern-cobalt-9';

function makeStores(): { users: LocalUsers; groups: LocalGroups } {
  const metadata = new MemoryMetadataStore();
  return { users: new LocalUsers({ metadata, domainSid: DOMAIN_SID, clock: fixedClock }), groups: new LocalGroups({ metadata, domainSid: DOMAIN_SID, clock: fixedClock }) };
}

function fsErrorWith(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isFsError(error), `expected FsError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

describe('local groups', () => {
  it('the built-in users group (gid 100) exists from first use, with the odd algorithmic RID', async () => {
    const { groups } = makeStores();
    const users = await groups.findByGid(USERS_GROUP_GID);
    assert.ok(users);
    assert.equal(users.name, 'users');
    assert.equal(users.builtIn, true);
    assert.equal(users.sid, `${DOMAIN_SID}-1201`);
    assert.deepEqual(await groups.findByName('USERS'), users);
    assert.deepEqual((await groups.list({ limit: 10 })).groups, [users]);
  });

  it('allocates gids from 2000, skipping gids chosen explicitly, and keeps an explicit gid', async () => {
    const { groups } = makeStores();
    await groups.createGroup({ name: 'fixed', gid: GID_ALLOCATED_MIN + 1 });
    const first = await groups.createGroup({ name: 'first' });
    const second = await groups.createGroup({ name: 'second' });
    assert.deepEqual([first.gid, second.gid], [GID_ALLOCATED_MIN, GID_ALLOCATED_MIN + 2]);
    assert.equal(first.sid, groupSid(DOMAIN_SID, GID_ALLOCATED_MIN));
    assert.equal(first.sid, `${DOMAIN_SID}-${1001 + 2 * GID_ALLOCATED_MIN}`);
    assert.equal(first.createdAt, 1_700_000_000_000);
    assert.deepEqual(await groups.get(first.id), first);
  });

  it('names are unique case-insensitively and gids unique; bad names and gids are refused', async () => {
    const { groups } = makeStores();
    await groups.createGroup({ name: 'staff', gid: 3000 });
    await assert.rejects(groups.createGroup({ name: 'STAFF' }), fsErrorWith('Exists'));
    await assert.rejects(groups.createGroup({ name: 'Users' }), fsErrorWith('Exists'));
    await assert.rejects(groups.createGroup({ name: 'other', gid: 3000 }), fsErrorWith('Exists'));
    await assert.rejects(groups.createGroup({ name: 'other', gid: USERS_GROUP_GID }), fsErrorWith('Exists'));
    for (const name of ['', '1abc', 'a b', 'x'.repeat(33)]) await assert.rejects(groups.createGroup({ name }), fsErrorWith('InvalidName'), name);
    for (const gid of [0, -1, 1.5, 65534, 2 ** 31]) await assert.rejects(groups.createGroup({ name: 'other', gid }), fsErrorWith('InvalidArgument'), String(gid));
  });

  it('members: add (idempotent), list in pages, remove; groupsOf answers the gids', async () => {
    const { users, groups } = makeStores();
    const staff = await groups.createGroup({ name: 'staff', gid: 3000 });
    const ops = await groups.createGroup({ name: 'ops', gid: 2500 });
    const alice = await users.createUser({ name: 'alice', password: PASSWORD });
    const bob = await users.createUser({ name: 'bob', password: PASSWORD });
    assert.equal(await groups.addMember(staff.id, alice.id), true);
    assert.equal(await groups.addMember(staff.id, alice.id), false);
    await groups.addMember(staff.id, bob.id);
    await groups.addMember(ops.id, alice.id);
    assert.deepEqual(await groups.groupsOf(alice.id), [2500, 3000]);
    assert.deepEqual(await groups.groupsOf(bob.id), [3000]);
    assert.equal((await groups.get(staff.id))?.memberCount, 2);
    const first = await groups.members(staff.id, { limit: 1 });
    assert.equal(first.members.length, 1);
    assert.ok(first.next);
    const second = await groups.members(staff.id, { after: first.next, limit: 1 });
    assert.equal(second.next, undefined);
    assert.deepEqual([...first.members, ...second.members].map((member) => member.name).sort(), ['alice', 'bob']);
    assert.deepEqual(Object.keys(second.members[0] ?? {}).sort(), ['id', 'name', 'uid']);
    await groups.removeMember(staff.id, alice.id);
    assert.deepEqual(await groups.groupsOf(alice.id), [2500]);
    await assert.rejects(groups.removeMember(staff.id, alice.id), fsErrorWith('NotFound'));
    await assert.rejects(groups.addMember(staff.id, 'no-such-user'), fsErrorWith('NotFound'));
    await assert.rejects(groups.addMember('no-such-group', alice.id), fsErrorWith('NotFound'));
  });

  it('renames a group; the built-in group cannot be renamed', async () => {
    const { groups } = makeStores();
    const staff = await groups.createGroup({ name: 'staff' });
    await groups.createGroup({ name: 'ops' });
    assert.equal((await groups.update(staff.id, { name: 'crew' })).name, 'crew');
    assert.equal(await groups.findByName('staff'), undefined);
    await assert.rejects(groups.update(staff.id, { name: 'OPS' }), fsErrorWith('Exists'));
    const builtIn = await groups.findByGid(USERS_GROUP_GID);
    await assert.rejects(groups.update(builtIn?.id ?? '', { name: 'people' }), fsErrorWith('ReadOnly'));
  });

  it("delete refuses a user's primary group and the built-in group, and removes memberships", async () => {
    const { users, groups } = makeStores();
    const staff = await groups.createGroup({ name: 'staff', gid: 3000 });
    const carol = await users.createUser({ name: 'carol', password: PASSWORD, primaryGid: 3000 });
    const dave = await users.createUser({ name: 'dave', password: PASSWORD });
    await groups.addMember(staff.id, dave.id);
    await assert.rejects(groups.deleteGroup(staff.id), (error) => fsErrorWith('Conflict')(error) && /primary group of user carol/.test((error as Error).message));
    await users.update(carol.id, { primaryGid: USERS_GROUP_GID });
    await groups.deleteGroup(staff.id);
    assert.equal(await groups.get(staff.id), undefined);
    assert.equal(await groups.findByGid(3000), undefined);
    assert.deepEqual(await groups.groupsOf(dave.id), []);
    await assert.rejects(groups.deleteGroup(staff.id), fsErrorWith('NotFound'));
    const builtIn = await groups.findByGid(USERS_GROUP_GID);
    await assert.rejects(groups.deleteGroup(builtIn?.id ?? ''), fsErrorWith('ReadOnly'));
    assert.ok(await groups.createGroup({ name: 'staff', gid: 3000 }), 'name and gid are free again');
  });

  it('lists groups by name a page at a time', async () => {
    const { groups } = makeStores();
    for (const name of ['zeta', 'Alpha', 'mid']) await groups.createGroup({ name });
    const first = await groups.list({ limit: 2 });
    assert.deepEqual(first.groups.map((group) => group.name), ['Alpha', 'mid']);
    const second = await groups.list({ after: first.next as string, limit: 2 });
    assert.deepEqual(second.groups.map((group) => group.name), ['users', 'zeta']);
    assert.equal(second.next, undefined);
  });
});
