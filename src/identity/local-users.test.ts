import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { isFsError } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { ADMIN_UID, LocalUsers, UID_ALLOCATED_MIN, userSid } from './local-users.js';

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
    await users.createUser({ name: 'fixed', password: 'password1', uid: UID_ALLOCATED_MIN + 1 });
    const first = await users.createUser({ name: 'first', password: 'password1' });
    const second = await users.createUser({ name: 'second', password: 'password1' });
    assert.deepEqual([first.uid, second.uid], [UID_ALLOCATED_MIN, UID_ALLOCATED_MIN + 2]);
  });

  it('an explicit uid is kept, and the admin uid is outside the allocated range', async () => {
    const users = makeUsers();
    const admin = await users.createUser({ name: 'admin', password: 'password1', uid: ADMIN_UID });
    assert.equal(admin.uid, 1000);
    assert.ok(ADMIN_UID < UID_ALLOCATED_MIN);
    assert.equal(admin.sid, userSid(DOMAIN_SID, 1000));
    assert.equal(admin.sid, `${DOMAIN_SID}-3000`);
  });

  it('a second user with the same name, in any case, fails with Exists', async () => {
    const users = makeUsers();
    await users.createUser({ name: 'bob', password: 'password1' });
    await assert.rejects(users.createUser({ name: 'bob', password: 'password2' }), fsErrorWith('Exists'));
    await assert.rejects(users.createUser({ name: 'BOB', password: 'password2' }), fsErrorWith('Exists'));
  });

  it('a second user with the same uid fails with Exists and leaves nothing behind', async () => {
    const users = makeUsers();
    await users.createUser({ name: 'carol', password: 'password1', uid: 3000 });
    await assert.rejects(users.createUser({ name: 'dave', password: 'password1', uid: 3000 }), fsErrorWith('Exists'));
    assert.equal(await users.findByName('dave'), undefined);
  });

  it('rejects bad names, uids and passwords', async () => {
    const users = makeUsers();
    for (const name of ['', '1abc', 'a b', 'a/b', 'x'.repeat(33), 'é']) {
      await assert.rejects(users.createUser({ name, password: 'password1' }), fsErrorWith('InvalidName'), name);
    }
    for (const uid of [0, -1, 1.5, 65534, 2 ** 31]) {
      await assert.rejects(users.createUser({ name: 'erin', password: 'password1', uid }), fsErrorWith('InvalidArgument'), String(uid));
    }
    await assert.rejects(users.createUser({ name: 'erin', password: 'short' }), fsErrorWith('InvalidArgument'));
    await assert.rejects(users.createUser({ name: 'erin', password: 'x'.repeat(1025) }), fsErrorWith('InvalidArgument'));
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
});
