import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../src/core/clock.js';
import { LocalGroups } from '../src/identity/local-groups.js';
import { LocalUsers } from '../src/identity/local-users.js';
import { localUserGroups } from '../src/protocols/nfs/exports/caller-groups.js';
import { FakeResolver } from '../src/protocols/nfs/testing/fake-resolver.test-support.js';
import { exportOf, openNfsFixture, type NfsFixture } from '../src/protocols/nfs/testing/nfs-fixture.test-support.js';
import { NfsTestClient, type ClientCredential } from '../src/protocols/nfs/testing/nfs-test-client.test-support.js';
import { mountHandle, nfs, lookup } from '../src/protocols/nfs/testing/nfs3-wire.test-support.js';
import { Nfs3Status } from '../src/protocols/nfs/v3/nfs3-types.js';
import { MemoryMetadataStore } from '../src/storage/metadata/memory/memory-metadata-store.js';

/**
 * Who a call is, as an export decides it over the wire: manage_gids takes a user's groups from the
 * identity layer (AUTH_SYS carries 16), and hostname rules admit clients by forward-confirmed
 * reverse DNS (a fake resolver here: 127.0.0.1 is `client.nfs.test`).
 */
const GROUPS = Array.from({ length: 20 }, (_, index) => 5001 + index);
const MEMBER_UID = 3000;
const ONLY_GROUP_GID = GROUPS[19] ?? 0;

const dataExport = (fields: Record<string, unknown>) => ({
  id: '7',
  value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['127.0.0.1'], require_privileged_port: false }], ...fields }),
});

describe('NFS exports: manage_gids and hostname rules over the wire', () => {
  let fixture: NfsFixture;
  let client: NfsTestClient;
  const resolver = new FakeResolver({ '127.0.0.1': ['Client.NFS.test.'] }, { 'client.nfs.test': ['127.0.0.1'], 'liar.nfs.test': ['192.0.2.1'] });

  before(async () => {
    const metadata = new MemoryMetadataStore();
    const clock: Clock = { nowMs: () => 1_700_000_000_000, nowNs: () => 1_700_000_000_000_000_000n };
    const identity = { metadata, domainSid: 'S-1-5-21-1-2-3', clock };
    const users = new LocalUsers(identity);
    const groups = new LocalGroups(identity);
    const member = await users.createUser({ name: 'many', password: 'lantern-cobalt-9', uid: MEMBER_UID });
    for (const gid of GROUPS) await groups.addMember((await groups.createGroup({ name: `team${gid}`, gid })).id, member.id);
    fixture = await openNfsFixture({ exports: [dataExport({})], server: { userGroups: localUserGroups(users, groups), hostnameResolver: resolver } });
    const { fs, root } = fixture.core;
    // Readable by its group only: the 20th group, which no AUTH_SYS credential can carry.
    const file = await fs.create(root, fixture.dataDir, 'team.txt', { mode: 0o040, uid: 0, gid: ONLY_GROUP_GID });
    await fs.write(root, file.handle, { offset: 0, data: new TextEncoder().encode('for the team') });
    client = await NfsTestClient.open(fixture.port);
  });

  after(async () => {
    client.close();
    await fixture.close();
  });

  /** READ of team.txt as the member, sending the first 16 of its groups as a client would. */
  async function readAsMember(): Promise<number> {
    const credential: ClientCredential = { uid: MEMBER_UID, gid: 100, gids: GROUPS.slice(0, 16) };
    const mounted = await mountHandle(client, '/data', credential);
    assert.equal(mounted.status, 0);
    const found = await lookup(client, mounted.handle as Uint8Array, 'team.txt', credential);
    assert.equal(found.status, 0);
    const reply = await nfs(client, 6, (writer) => writer.opaque(found.handle as Uint8Array).uint64(0).uint32(100), credential);
    return reply.body.uint32();
  }

  it('a user in 20 groups reads a file only its 20th group may read with manage_gids on, and not with it off', async () => {
    fixture.setExports([dataExport({ manage_gids: false })]);
    assert.equal(await readAsMember(), Nfs3Status.ACCES);
    fixture.setExports([dataExport({ manage_gids: true })]);
    assert.equal(await readAsMember(), Nfs3Status.OK);
  });

  it('manage_gids gives a squashed caller only the anonymous gid', async () => {
    fixture.setExports([dataExport({ manage_gids: true, restrictions: [{ host_restrictions: ['127.0.0.1'], require_privileged_port: false, user_mapping: 'ALL', map_to_uid: MEMBER_UID, map_to_gid: 65534 }] })]);
    assert.equal(await readAsMember(), Nfs3Status.ACCES);
  });

  it('a hostname rule admits the client whose PTR name resolves back to its address, on MOUNT and on every call', async () => {
    fixture.setExports([dataExport({ restrictions: [{ host_restrictions: ['*.nfs.test'], require_privileged_port: false }] })]);
    const mounted = await mountHandle(client, '/data');
    assert.equal(mounted.status, 0);
    assert.equal((await lookup(client, mounted.handle as Uint8Array, 'team.txt')).status, 0);
    fixture.setExports([dataExport({ restrictions: [{ host_restrictions: ['liar.nfs.test', 'other.nfs.test'], require_privileged_port: false }] })]);
    assert.equal((await lookup(client, mounted.handle as Uint8Array, 'team.txt')).status, Nfs3Status.ACCES);
    assert.equal((await mountHandle(client, '/data')).status, 13);
    assert.equal(resolver.queries.filter((query) => query.startsWith('PTR')).length, 1, 'one lookup for the address, then the cache');
  });
});
