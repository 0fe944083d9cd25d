import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Clock } from '../core/clock.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { IdentityCache } from './identity-cache.js';
import { LocalGroups } from './local-groups.js';
import { LocalUsers } from './local-users.js';

const DOMAIN_SID = 'S-1-5-21-1111-2222-3333';
const fixedClock: Clock = { nowMs: () => 1_700_000_000_000, nowNs: () => 1_700_000_000_000_000_000n };
const PASSWORD = 'lantern-cobalt-9';

/** Users and groups over one store and one cache, as main.ts builds them; reads are counted, and can be held after they read. */
function makeIdentity() {
  const metadata = new MemoryMetadataStore();
  const state: { reads: number; hold?: Promise<void> } = { reads: 0 };
  const store: MetadataStore = {
    read: async (fn) => {
      state.reads++;
      const result = await metadata.read(fn);
      if (state.hold !== undefined) await state.hold;
      return result;
    },
    write: (fn) => metadata.write(fn),
    close: () => metadata.close(),
  };
  const cache = new IdentityCache();
  const options = { metadata: store, domainSid: DOMAIN_SID, clock: fixedClock, cache };
  return { users: new LocalUsers(options), groups: new LocalGroups(options), state };
}

describe('identity cache', () => {
  it('a user record is read once, and every change to it shows at the next get', async () => {
    const { users, groups, state } = makeIdentity();
    const ada = await users.createUser({ name: 'ada', password: PASSWORD });
    await users.get(ada.id);
    const reads = state.reads;
    assert.equal((await users.get(ada.id))?.name, 'ada');
    assert.equal(state.reads, reads, 'served from memory');
    await users.update(ada.id, { name: 'adele' });
    assert.equal((await users.get(ada.id))?.name, 'adele');
    const staff = await groups.createGroup({ name: 'staff', gid: 4242 });
    await users.update(ada.id, { primaryGid: staff.gid });
    assert.equal((await users.get(ada.id))?.primaryGid, 4242);
    const hash = (await users.get(ada.id))?.passwordHash;
    await users.setPassword(ada.id, 'meadow-quartz-7');
    assert.notEqual((await users.get(ada.id))?.passwordHash, hash);
    await users.update(ada.id, { primaryGid: 100 });
    await users.deleteUser(ada.id);
    assert.equal(await users.get(ada.id), undefined);
  });

  it('a user\'s groups are read once, and every membership change shows at the next groupsOf', async () => {
    const { users, groups, state } = makeIdentity();
    const bo = await users.createUser({ name: 'bo', password: PASSWORD });
    const staff = await groups.createGroup({ name: 'staff', gid: 3000 });
    const ops = await groups.createGroup({ name: 'ops', gid: 3001 });
    assert.deepEqual(await groups.groupsOf(bo.id), []);
    await groups.addMember(staff.id, bo.id);
    assert.deepEqual(await groups.groupsOf(bo.id), [3000]);
    const reads = state.reads;
    const answer = await groups.groupsOf(bo.id);
    assert.equal(state.reads, reads, 'served from memory');
    answer.push(9999);
    assert.deepEqual(await groups.groupsOf(bo.id), [3000], 'the caller owns its array');
    await groups.addMember(ops.id, bo.id);
    assert.deepEqual(await groups.groupsOf(bo.id), [3000, 3001]);
    await groups.removeMember(staff.id, bo.id);
    assert.deepEqual(await groups.groupsOf(bo.id), [3001]);
    await groups.update(ops.id, { name: 'operations' });
    assert.deepEqual(await groups.groupsOf(bo.id), [3001]);
    await groups.deleteGroup(ops.id);
    assert.deepEqual(await groups.groupsOf(bo.id), []);
  });

  it('deleting a user drops its cached groups too (LocalUsers and LocalGroups share the cache)', async () => {
    const { users, groups } = makeIdentity();
    const cy = await users.createUser({ name: 'cy', password: PASSWORD });
    const staff = await groups.createGroup({ name: 'staff', gid: 3000 });
    await groups.addMember(staff.id, cy.id);
    assert.deepEqual(await groups.groupsOf(cy.id), [3000]);
    await users.deleteUser(cy.id);
    assert.deepEqual(await groups.groupsOf(cy.id), []);
  });

  it('a groupsOf that read before a membership change committed is not cached past it', async () => {
    const { users, groups, state } = makeIdentity();
    const di = await users.createUser({ name: 'di', password: PASSWORD });
    const staff = await groups.createGroup({ name: 'staff', gid: 3000 });
    await groups.addMember(staff.id, di.id);
    let release!: () => void;
    state.hold = new Promise((resolve) => (release = resolve));
    const racing = groups.groupsOf(di.id);
    await new Promise((resolve) => setImmediate(resolve));
    state.hold = undefined;
    await groups.removeMember(staff.id, di.id);
    release();
    assert.deepEqual(await racing, [3000]);
    assert.deepEqual(await groups.groupsOf(di.id), [], 'the next request sees the removal');
  });

  it('a get that read a user before its deletion committed is not cached past it', async () => {
    const { users, state } = makeIdentity();
    const ed = await users.createUser({ name: 'ed', password: PASSWORD });
    let release!: () => void;
    state.hold = new Promise((resolve) => (release = resolve));
    const racing = users.get(ed.id);
    await new Promise((resolve) => setImmediate(resolve));
    state.hold = undefined;
    await users.deleteUser(ed.id);
    release();
    assert.equal((await racing)?.id, ed.id);
    assert.equal(await users.get(ed.id), undefined, 'the next request sees the deletion');
  });
});
