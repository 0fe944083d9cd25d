import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { isFsError } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { LocalGroups } from './local-groups.js';
import { ADMIN_UID, DEFAULT_PRIMARY_GID, LocalUsers, UID_ALLOCATED_MIN, userSid } from './local-users.js';
import { PasswordPolicyError } from './password-policy.js';

const DOMAIN_SID = 'S-1-5-21-1111-2222-3333';
const fixedClock: Clock = { nowMs: () => 1_700_000_000_000, nowNs: () => 1_700_000_000_000_000_000n };

function makeUsers(): LocalUsers {
  return new LocalUsers({ metadata: new MemoryMetadataStore(), domainSid: DOMAIN_SID, clock: fixedClock });
}

function fsErrorWith(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isFsError(error), `expected FsError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

describe('local users', () => {
  it('creates a user with an argon2id hash, an allocated uid and the algorithmic SID', async () => {
    const users = makeUsers();
    const alice = await users.createUser({ name: 'alice', password: 'correct horse' });
    assert.equal(alice.uid, UID_ALLOCATED_MIN);
    assert.equal(alice.sid, `${DOMAIN_SID}-${1000 + 2 * UID_ALLOCATED_MIN}`);
    assert.equal(alice.createdAt, 1_700_000_000_000);
    assert.match(alice.passwordHash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    assert.deepEqual(await users.findByName('alice'), alice);
    assert.deepEqual(await users.findByUid(alice.uid), alice);
  });

  it('allocates uids upwards, skipping uids chosen explicitly', async () => {
    const users = makeUsers();
    await users.createUser({ name: 'fixed', password: 'lantern-cobalt-9', uid: UID_ALLOCATED_MIN + 1 });
    const first = await users.createUser({ name: 'first', password: 'lantern-cobalt-9' });
    const second = await users.createUser({ name: 'second', password: 'lantern-cobalt-9' });
    assert.deepEqual([first.uid, second.uid], [UID_ALLOCATED_MIN, UID_ALLOCATED_MIN + 2]);
  });

  it('an explicit uid is kept, and the admin uid is outside the allocated range', async () => {
    const users = makeUsers();
    const admin = await users.createUser({ name: 'admin', password: 'lantern-cobalt-9', uid: ADMIN_UID });
    assert.equal(admin.uid, 1000);
    assert.ok(ADMIN_UID < UID_ALLOCATED_MIN);
    assert.equal(admin.sid, userSid(DOMAIN_SID, 1000));
    assert.equal(admin.sid, `${DOMAIN_SID}-3000`);
  });

  it('a second user with the same name, in any case, fails with Exists', async () => {
    const users = makeUsers();
    await users.createUser({ name: 'bob', password: 'lantern-cobalt-9' });
    await assert.rejects(users.createUser({ name: 'bob', password: 'meadow-quartz-7' }), fsErrorWith('Exists'));
    await assert.rejects(users.createUser({ name: 'BOB', password: 'meadow-quartz-7' }), fsErrorWith('Exists'));
  });

  it('a second user with the same uid fails with Exists and leaves nothing behind', async () => {
    const users = makeUsers();
    await users.createUser({ name: 'carol', password: 'lantern-cobalt-9', uid: 3000 });
    await assert.rejects(users.createUser({ name: 'dave', password: 'lantern-cobalt-9', uid: 3000 }), fsErrorWith('Exists'));
    assert.equal(await users.findByName('dave'), undefined);
  });

  it('rejects bad names, uids and passwords', async () => {
    const users = makeUsers();
    for (const name of ['', '1abc', 'a b', 'a/b', 'x'.repeat(33), 'é']) {
      await assert.rejects(users.createUser({ name, password: 'lantern-cobalt-9' }), fsErrorWith('InvalidName'), name);
    }
    for (const uid of [0, -1, 1.5, 65534, 2 ** 31]) {
      await assert.rejects(users.createUser({ name: 'erin', password: 'lantern-cobalt-9', uid }), fsErrorWith('InvalidArgument'), String(uid));
    }
    await assert.rejects(users.createUser({ name: 'erin', password: 'short' }), PasswordPolicyError);
    await assert.rejects(users.createUser({ name: 'erin', password: 'x'.repeat(1025) }), PasswordPolicyError);
    await assert.rejects(users.createUser({ name: 'erin', password: 'x'.repeat(1025), allowShortPassword: true }), fsErrorWith('InvalidArgument'));
    await assert.rejects(users.createUser({ name: 'erin', password: '', allowShortPassword: true }), fsErrorWith('InvalidArgument'));
    assert.ok(await users.createUser({ name: 'erin', password: 'short', allowShortPassword: true }));
  });

  it('verifyPassword accepts the right password only, and answers undefined for unknown users', async () => {
    const users = makeUsers();
    const frank = await users.createUser({ name: 'frank', password: 'right password' });
    assert.equal((await users.verifyPassword('frank', 'right password'))?.id, frank.id);
    assert.equal((await users.verifyPassword('Frank', 'right password'))?.id, frank.id);
    assert.equal(await users.verifyPassword('frank', 'wrong password'), undefined);
    assert.equal(await users.verifyPassword('frank', ''), undefined);
    assert.equal(await users.verifyPassword('nobody-here', 'right password'), undefined);
    assert.equal(await users.verifyPassword('', 'x'), undefined);
  });

  it('findByName of a missing or malformed name answers undefined', async () => {
    const users = makeUsers();
    assert.equal(await users.findByName('ghost'), undefined);
    assert.equal(await users.findByName('a/b'), undefined);
    assert.equal(await users.findByUid(12345), undefined);
  });

  it('lists users by case-insensitive name, a page at a time', async () => {
    const users = makeUsers();
    for (const name of ['carol', 'Alice', 'bob']) await users.createUser({ name, password: 'lantern-cobalt-9' });
    const first = await users.list({ limit: 2 });
    assert.deepEqual(first.users.map((user) => user.name), ['Alice', 'bob']);
    assert.equal(first.next, 'bob');
    const second = await users.list({ after: first.next as string, limit: 2 });
    assert.deepEqual(second.users.map((user) => user.name), ['carol']);
    assert.equal(second.next, undefined);
    await assert.rejects(users.list({ limit: 0 }), fsErrorWith('InvalidArgument'));
  });

  it('renames a user and frees the old name; a taken name fails with Exists', async () => {
    const users = makeUsers();
    const gina = await users.createUser({ name: 'gina', password: 'lantern-cobalt-9' });
    await users.createUser({ name: 'hank', password: 'lantern-cobalt-9' });
    const renamed = await users.update(gina.id, { name: 'georgina' });
    assert.equal(renamed.name, 'georgina');
    assert.equal(await users.findByName('gina'), undefined);
    assert.equal((await users.findByName('GEORGINA'))?.id, gina.id);
    await assert.rejects(users.update(gina.id, { name: 'Hank' }), fsErrorWith('Exists'));
    assert.equal((await users.update(gina.id, { name: 'Georgina' })).name, 'Georgina', 'a change of case is a rename to itself');
    await assert.rejects(users.update('no-such-id', { name: 'x' }), fsErrorWith('NotFound'));
  });

  it('a primary group must exist, except the built-in users group', async () => {
    const metadata = new MemoryMetadataStore();
    const users = new LocalUsers({ metadata, domainSid: DOMAIN_SID, clock: fixedClock });
    const groups = new LocalGroups({ metadata, domainSid: DOMAIN_SID, clock: fixedClock });
    await assert.rejects(users.createUser({ name: 'ivan', password: 'lantern-cobalt-9', primaryGid: 4242 }), fsErrorWith('InvalidArgument'));
    const ivan = await users.createUser({ name: 'ivan', password: 'lantern-cobalt-9' });
    assert.equal(ivan.primaryGid, DEFAULT_PRIMARY_GID);
    await groups.createGroup({ name: 'staff', gid: 4242 });
    assert.equal((await users.update(ivan.id, { primaryGid: 4242 })).primaryGid, 4242);
    await assert.rejects(users.update(ivan.id, { primaryGid: 4343 }), fsErrorWith('InvalidArgument'));
  });

  it('setPassword applies the policy and replaces the hash', async () => {
    const users = makeUsers();
    const judy = await users.createUser({ name: 'judy', password: 'lantern-cobalt-9' });
    await assert.rejects(users.setPassword(judy.id, 'password123'), PasswordPolicyError);
    await users.setPassword(judy.id, 'meadow-quartz-7');
    assert.equal(await users.verifyPassword('judy', 'lantern-cobalt-9'), undefined);
    assert.equal((await users.verifyPassword('judy', 'meadow-quartz-7'))?.id, judy.id);
    await assert.rejects(users.setPassword('no-such-id', 'meadow-quartz-7'), fsErrorWith('NotFound'));
  });

  it('the built-in admin can be neither renamed nor deleted', async () => {
    const users = makeUsers();
    const admin = await users.createUser({ name: 'admin', password: 'short', uid: ADMIN_UID, allowShortPassword: true });
    await assert.rejects(users.update(admin.id, { name: 'root2' }), fsErrorWith('ReadOnly'));
    await assert.rejects(users.deleteUser(admin.id), fsErrorWith('ReadOnly'));
    assert.ok(await users.findByName('admin'));
  });

  it('deleting a user frees its name and uid and drops its group memberships', async () => {
    const metadata = new MemoryMetadataStore();
    const users = new LocalUsers({ metadata, domainSid: DOMAIN_SID, clock: fixedClock });
    const groups = new LocalGroups({ metadata, domainSid: DOMAIN_SID, clock: fixedClock });
    const kim = await users.createUser({ name: 'kim', password: 'lantern-cobalt-9', uid: 5000 });
    const staff = await groups.createGroup({ name: 'staff' });
    await groups.addMember(staff.id, kim.id);
    assert.equal((await groups.get(staff.id))?.memberCount, 1);
    await users.deleteUser(kim.id);
    assert.equal(await users.get(kim.id), undefined);
    assert.equal(await users.findByName('kim'), undefined);
    assert.equal(await users.findByUid(5000), undefined);
    assert.deepEqual(await groups.groupsOf(kim.id), []);
    assert.deepEqual((await groups.members(staff.id, { limit: 10 })).members, []);
    assert.equal((await groups.get(staff.id))?.memberCount, 0);
    await assert.rejects(users.deleteUser(kim.id), fsErrorWith('NotFound'));
    assert.ok(await users.createUser({ name: 'kim', password: 'lantern-cobalt-9', uid: 5000 }), 'name and uid are free again');
  });
});
