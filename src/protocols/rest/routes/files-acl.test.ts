import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { as } from '../testing/api-harness.test-support.js';
import { fileRoutes } from './files.js';
import { openFileTestWorld, READER, refOf, STRANGER, USER, type FileTestWorld } from './files.test-support.js';

interface AclBody {
  control: string[];
  aces: Array<{ type: string; flags: string[]; trustee: Record<string, unknown>; rights: string[] }>;
}

interface ExplainBody {
  principal: { uid: number; gids: number[] };
  granted_rights: string[];
  denied_rights: string[];
  rights: Array<{ right: string; granted: boolean; reason: string; ace_index?: number; ace?: AclBody['aces'][number] }>;
}

describe('file routes: ACL and explain-rights', () => {
  let world: FileTestWorld;
  const path = '/home/user/shared.txt';
  const url = `/v1/files/${refOf(path)}/info/acl`;
  before(async () => {
    world = await openFileTestWorld((deps) => fileRoutes({ ...deps, uploadBytesMax: 1024 }));
    await world.app.inject({ method: 'POST', url: `/v1/files/${refOf('/home/user')}/entries`, headers: as(USER), payload: { name: 'shared.txt', action: 'CREATE_FILE', mode: '0644' } });
  });
  after(async () => world.close());

  const acl: Omit<AclBody, 'control'> = {
    aces: [
      { type: 'DENIED', flags: [], trustee: { domain: 'USER', uid: 2001 }, rights: ['READ_DATA', 'WRITE_DATA'] },
      { type: 'ALLOWED', flags: [], trustee: { domain: 'OWNER' }, rights: ['READ_DATA', 'WRITE_DATA', 'APPEND_DATA', 'READ_ATTRIBUTES', 'READ_ACL', 'WRITE_ACL'] },
      { type: 'ALLOWED', flags: [], trustee: { domain: 'GROUP', gid: 200 }, rights: ['READ_DATA'] },
      { type: 'ALLOWED', flags: [], trustee: { domain: 'EVERYONE' }, rights: ['READ_DATA', 'READ_ATTRIBUTES'] },
    ],
  };

  it('GET answers the mode-derived ACL of a new file', async () => {
    const response = await world.app.inject({ method: 'GET', url, headers: as(READER) });
    assert.equal(response.statusCode, 200);
    const body = response.json() as AclBody;
    assert.deepEqual(body.control, ['PRESENT']);
    const owner = body.aces.find((ace) => ace.trustee.domain === 'OWNER' && ace.type === 'ALLOWED');
    assert.ok(owner?.rights.includes('WRITE_DATA'), JSON.stringify(body));
  });

  it('PUT sets the ACL as the owner and GET reads the same entries back', async () => {
    const response = await world.app.inject({ method: 'PUT', url, headers: as(USER), payload: acl });
    assert.equal(response.statusCode, 200, response.body);
    const read = await world.app.inject({ method: 'GET', url, headers: as(USER) });
    assert.deepEqual((read.json() as AclBody).aces, acl.aces);
  });

  it('the ACL is enforced for API callers: the denied stranger cannot read the data', async () => {
    const read = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(path)}/data`, headers: as(STRANGER) });
    assert.equal(read.statusCode, 403);
    assert.equal((read.json() as { error_class: string }).error_class, 'fs_access_denied_error');
  });

  it('a caller with FILE_WRITE but without WRITE_ACL on the file is refused 403 fs_access_denied_error', async () => {
    const response = await world.app.inject({ method: 'PUT', url, headers: as(STRANGER), payload: { aces: [{ type: 'ALLOWED', flags: [], trustee: { domain: 'EVERYONE' }, rights: ['READ_DATA', 'WRITE_DATA'] }] } });
    assert.equal(response.statusCode, 403);
    assert.equal((response.json() as { error_class: string }).error_class, 'fs_access_denied_error');
    const read = await world.app.inject({ method: 'GET', url, headers: as(USER) });
    assert.deepEqual((read.json() as AclBody).aces, acl.aces, 'unchanged');
  });

  it('malformed ACLs are refused with 400', async () => {
    for (const payload of [
      { aces: [{ type: 'MAYBE', flags: [], trustee: { domain: 'EVERYONE' }, rights: [] }] },
      { aces: [{ type: 'ALLOWED', flags: ['SOMETIMES'], trustee: { domain: 'EVERYONE' }, rights: [] }] },
      { aces: [{ type: 'ALLOWED', flags: [], trustee: { domain: 'EVERYONE' }, rights: ['FLY'] }] },
      { aces: [{ type: 'ALLOWED', flags: [], trustee: { domain: 'USER' }, rights: ['READ_DATA'] }] },
      { aces: [{ type: 'ALLOWED', flags: [], trustee: { domain: 'EVERYONE', uid: 5 }, rights: ['READ_DATA'] }] },
      { aces: [{ type: 'ALLOWED', flags: [], trustee: { domain: 'USER', sid: 'not-a-sid' }, rights: ['READ_DATA'] }] },
      { control: ['PRESENT'] },
    ]) {
      const response = await world.app.inject({ method: 'PUT', url, headers: as(USER), payload });
      assert.equal(response.statusCode, 400, `${JSON.stringify(payload)}: ${response.body}`);
    }
  });

  it('explain-rights names the deny entry that refuses a right, for a principal given by uid and gids', async () => {
    const response = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(path)}/info/explain-rights?uid=2001&gids=200`, headers: as(READER) });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as ExplainBody;
    assert.deepEqual(body.principal, { uid: 2001, gids: [200], superuser: false });
    const readData = body.rights.find((row) => row.right === 'READ_DATA');
    assert.deepEqual(readData, { right: 'READ_DATA', granted: false, reason: 'DENIED_BY_ACE', ace_index: 0, ace: acl.aces[0] });
    assert.ok(body.denied_rights.includes('WRITE_DATA'));
    assert.deepEqual(body.rights.find((row) => row.right === 'READ_ACL'), { right: 'READ_ACL', granted: true, reason: 'IMPLICIT_EVERYONE_RIGHT' });
    assert.deepEqual(body.rights.find((row) => row.right === 'DELETE'), { right: 'DELETE', granted: false, reason: 'NO_MATCHING_ACE' });
  });

  it('explain-rights defaults to the caller: the owner gets WRITE_ACL implicitly and READ_DATA by its entry', async () => {
    const response = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(path)}/info/explain-rights`, headers: as(USER) });
    const body = response.json() as ExplainBody;
    assert.equal(body.principal.uid, 1000);
    assert.deepEqual(body.rights.find((row) => row.right === 'WRITE_ACL'), { right: 'WRITE_ACL', granted: true, reason: 'IMPLICIT_OWNER_RIGHT' });
    assert.deepEqual(body.rights.find((row) => row.right === 'READ_DATA'), { right: 'READ_DATA', granted: true, reason: 'ALLOWED_BY_ACE', ace_index: 1, ace: acl.aces[1] });
    const bad = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(path)}/info/explain-rights?gids=1,x`, headers: as(USER) });
    assert.equal(bad.statusCode, 400);
    const onlyGids = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(path)}/info/explain-rights?gids=200`, headers: as(USER) });
    assert.equal(onlyGids.statusCode, 400);
  });
});
