import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { as } from '../testing/api-harness.test-support.js';
import { fileRoutes } from './files.js';
import { NOBODY, openFileTestWorld, READER, refOf, STRANGER, USER, type FileTestWorld } from './files.test-support.js';

interface AttributesBody {
  id: string;
  name?: string;
  path?: string;
  type: string;
  size: string;
  mode: string;
  owner: string;
  owner_uid: number;
  group_gid: number;
  modification_time: string;
  access_time: string;
}

describe('file routes: entries, attributes, delete, refs', () => {
  let world: FileTestWorld;
  before(async () => {
    world = await openFileTestWorld((deps) => fileRoutes({ ...deps, uploadBytesMax: 1024 * 1024 }));
  });
  after(async () => world.close());

  async function create(parent: string, body: Record<string, unknown>, caller = USER) {
    return world.app.inject({ method: 'POST', url: `/v1/files/${refOf(parent)}/entries`, headers: as(caller), payload: body });
  }

  it('POST entries creates a file, a directory and a symlink owned by the caller, answering 201 attributes', async () => {
    const file = await create('/home/user', { name: 'a.txt', action: 'CREATE_FILE', mode: '0640' });
    assert.equal(file.statusCode, 201, file.body);
    const attributes = file.json() as AttributesBody;
    assert.equal(attributes.name, 'a.txt');
    assert.equal(attributes.path, '/home/user/a.txt');
    assert.equal(attributes.type, 'FS_FILE_TYPE_FILE');
    assert.equal(attributes.mode, '0640');
    assert.equal(attributes.owner_uid, 1000);
    assert.equal(attributes.size, '0');
    assert.match(attributes.modification_time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
    const dir = await create('/home/user', { name: 'sub', action: 'CREATE_DIRECTORY' });
    assert.equal(dir.statusCode, 201);
    assert.equal((dir.json() as AttributesBody).type, 'FS_FILE_TYPE_DIRECTORY');
    const link = await create('/home/user', { name: 'link', action: 'CREATE_SYMLINK', target: 'a.txt' });
    assert.equal(link.statusCode, 201);
    assert.equal((link.json() as AttributesBody).type, 'FS_FILE_TYPE_SYMLINK');
    const again = await create('/home/user', { name: 'a.txt', action: 'CREATE_FILE' });
    assert.equal(again.statusCode, 409);
    assert.equal((again.json() as { error_class: string }).error_class, 'fs_entry_exists_error');
  });

  it('POST entries refuses malformed bodies with 400', async () => {
    for (const body of [
      { name: 'x', action: 'CREATE_PIPE' },
      { name: 'x', action: 'CREATE_SYMLINK' },
      { name: 'x', action: 'CREATE_FILE', target: 'y' },
      { name: 'x', action: 'CREATE_FILE', mode: '0999' },
      { action: 'CREATE_FILE' },
      { name: 'a/b', action: 'CREATE_FILE' },
    ]) {
      const response = await create('/home/user', body);
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
    }
  });

  it('GET entries pages through a directory with paging.next', async () => {
    await create('/home/user', { name: 'many', action: 'CREATE_DIRECTORY' });
    for (let index = 0; index < 5; index++) await create('/home/user/many', { name: `f${index}`, action: 'CREATE_FILE' });
    const names: string[] = [];
    let url: string | undefined = `/v1/files/${refOf('/home/user/many')}/entries?limit=2`;
    let pages = 0;
    while (url !== undefined) {
      const response: { statusCode: number; body: string; json: () => unknown } = await world.app.inject({ method: 'GET', url, headers: as(READER) });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as { files: AttributesBody[]; paging: { next?: string } };
      assert.ok(body.files.length <= 2);
      for (const file of body.files) {
        assert.equal(file.type, 'FS_FILE_TYPE_FILE');
        assert.equal(file.path, `/home/user/many/${file.name ?? ''}`);
        assert.equal(file.owner, '1000');
        names.push(file.name ?? '');
      }
      url = body.paging.next;
      pages++;
    }
    assert.deepEqual(names.sort(), ['f0', 'f1', 'f2', 'f3', 'f4']);
    assert.ok(pages >= 3);
  });

  it('GET entries refuses a limit over 10000, a bad cursor and a file', async () => {
    const ref = refOf('/home/user');
    assert.equal((await world.app.inject({ method: 'GET', url: `/v1/files/${ref}/entries?limit=10001`, headers: as(USER) })).statusCode, 400);
    assert.equal((await world.app.inject({ method: 'GET', url: `/v1/files/${ref}/entries?limit=0`, headers: as(USER) })).statusCode, 400);
    assert.equal((await world.app.inject({ method: 'GET', url: `/v1/files/${ref}/entries?after=%00garbage`, headers: as(USER) })).statusCode, 400);
    await create('/home/user', { name: 'plain', action: 'CREATE_FILE' });
    const onFile = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/plain')}/entries`, headers: as(USER) });
    assert.equal(onFile.statusCode, 409);
    assert.equal((onFile.json() as { error_class: string }).error_class, 'fs_not_a_directory_error');
  });

  it('a file id works as a ref, and a deleted id answers 404', async () => {
    const created = (await create('/home/user', { name: 'by-id', action: 'CREATE_FILE' })).json() as AttributesBody;
    const byId = await world.app.inject({ method: 'GET', url: `/v1/files/${created.id}/info/attributes`, headers: as(USER) });
    assert.equal(byId.statusCode, 200);
    assert.equal((byId.json() as AttributesBody).id, created.id);
    const deleted = await world.app.inject({ method: 'DELETE', url: `/v1/files/${created.id}`, headers: as(USER) });
    assert.equal(deleted.statusCode, 204);
    const gone = await world.app.inject({ method: 'GET', url: `/v1/files/${created.id}/info/attributes`, headers: as(USER) });
    assert.equal(gone.statusCode, 404);
    // An id no node ever had: 404 too.
    const stale = await world.app.inject({ method: 'GET', url: '/v1/files/999999/info/attributes', headers: as(USER) });
    assert.equal(stale.statusCode, 404);
  });

  it('path refs: %2F encoding, `..` stays below the root, NUL and relative refs are refused', async () => {
    const encoded = await world.app.inject({ method: 'GET', url: '/v1/files/%2Fhome%2Fuser/info/attributes', headers: as(USER) });
    assert.equal(encoded.statusCode, 200);
    assert.equal((encoded.json() as AttributesBody).owner_uid, 1000);
    const climbing = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/../../../home/user/../user')}/info/attributes`, headers: as(USER) });
    assert.equal(climbing.statusCode, 200);
    assert.equal((climbing.json() as AttributesBody).id, (encoded.json() as AttributesBody).id);
    const aboveRoot = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/../..')}/entries`, headers: as(USER) });
    assert.equal(aboveRoot.statusCode, 200);
    assert.ok((aboveRoot.json() as { files: AttributesBody[] }).files.some((file) => file.name === 'home'), 'the root is listed');
    for (const url of ['/v1/files/%2Fhome%00x/info/attributes', '/v1/files/home/info/attributes', '/v1/files/%E0%A4%A/info/attributes', '/v1/files/12abc/info/attributes']) {
      const response = await world.app.inject({ method: 'GET', url, headers: as(USER) });
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
    }
    const longName = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(`/home/${'n'.repeat(300)}`)}/info/attributes`, headers: as(USER) });
    assert.equal(longName.statusCode, 400);
    const longPath = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf(`/${'d/'.repeat(2100)}`)}/info/attributes`, headers: as(USER) });
    assert.equal(longPath.statusCode, 400);
    const missing = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/nope')}/info/attributes`, headers: as(USER) });
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as { error_class: string }).error_class, 'fs_no_such_entry_error');
  });

  it('PATCH attributes changes mode, size and times; the owner may, a stranger may not', async () => {
    await create('/home/user', { name: 'patched', action: 'CREATE_FILE' });
    const url = `/v1/files/${refOf('/home/user/patched')}/info/attributes`;
    const response = await world.app.inject({
      method: 'PATCH',
      url,
      headers: as(USER),
      payload: { mode: '0600', size: '10', modification_time: '2020-01-02T03:04:05.123456789Z', access_time: '2021-01-01T00:00:00Z' },
    });
    assert.equal(response.statusCode, 200, response.body);
    const attributes = response.json() as AttributesBody;
    assert.equal(attributes.mode, '0600');
    assert.equal(attributes.size, '10');
    assert.equal(attributes.modification_time, '2020-01-02T03:04:05.123456789Z');
    assert.equal(attributes.access_time, '2021-01-01T00:00:00.000000000Z');
    const read = await world.app.inject({ method: 'GET', url, headers: as(READER) });
    assert.deepEqual(read.json(), { ...attributes, path: '/home/user/patched' });
    const refused = await world.app.inject({ method: 'PATCH', url, headers: as(STRANGER), payload: { mode: '0777' } });
    assert.equal(refused.statusCode, 403);
    assert.equal((refused.json() as { error_class: string }).error_class, 'fs_access_denied_error');
    const chown = await world.app.inject({ method: 'PATCH', url, headers: as(USER), payload: { owner_uid: 0 } });
    assert.equal(chown.statusCode, 403, 'a non-superuser cannot give a file away');
    for (const payload of [{}, { mode: 'rwx' }, { mode: '8' }, { mode: '17777' }, { size: -1 }, { size: 'ten' }, { modification_time: 'yesterday' }, { modification_time: '2020-13-45T00:00:00Z' }]) {
      const bad = await world.app.inject({ method: 'PATCH', url, headers: as(USER), payload });
      assert.equal(bad.statusCode, 400, `${JSON.stringify(payload)}: ${bad.body}`);
    }
  });

  it('DELETE removes a file, a symlink and an empty directory, refuses a non-empty one and the root', async () => {
    await create('/home/user', { name: 'doomed', action: 'CREATE_DIRECTORY' });
    await create('/home/user/doomed', { name: 'inner', action: 'CREATE_FILE' });
    await create('/home/user/doomed', { name: 'ln', action: 'CREATE_SYMLINK', target: '/nowhere' });
    const notEmpty = await world.app.inject({ method: 'DELETE', url: `/v1/files/${refOf('/home/user/doomed')}`, headers: as(USER) });
    assert.equal(notEmpty.statusCode, 409);
    assert.equal((notEmpty.json() as { error_class: string }).error_class, 'fs_directory_not_empty_error');
    const stranger = await world.app.inject({ method: 'DELETE', url: `/v1/files/${refOf('/home/user/doomed/inner')}`, headers: as(STRANGER) });
    assert.equal(stranger.statusCode, 403, 'FILE_WRITE does not bypass the ACL');
    for (const path of ['/home/user/doomed/inner', '/home/user/doomed/ln', '/home/user/doomed']) {
      const response = await world.app.inject({ method: 'DELETE', url: `/v1/files/${refOf(path)}`, headers: as(USER) });
      assert.equal(response.statusCode, 204, `${path}: ${response.body}`);
    }
    const gone = await world.app.inject({ method: 'GET', url: `/v1/files/${refOf('/home/user/doomed')}/info/attributes`, headers: as(USER) });
    assert.equal(gone.statusCode, 404);
    assert.equal((await world.app.inject({ method: 'DELETE', url: `/v1/files/${refOf('/')}`, headers: as(USER) })).statusCode, 400);
    assert.equal((await world.app.inject({ method: 'DELETE', url: '/v1/files/1', headers: as(USER) })).statusCode, 400);
  });

  it('a caller without a token gets 401 and without the privilege 403, on every route', async () => {
    const ref = refOf('/home/user');
    const routes: Array<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; writes: boolean }> = [
      { method: 'GET', url: `/v1/files/${ref}/data`, writes: false },
      { method: 'PUT', url: `/v1/files/${ref}/data`, writes: true },
      { method: 'GET', url: `/v1/files/${ref}/entries`, writes: false },
      { method: 'POST', url: `/v1/files/${ref}/entries`, writes: true },
      { method: 'GET', url: `/v1/files/${ref}/info/attributes`, writes: false },
      { method: 'PATCH', url: `/v1/files/${ref}/info/attributes`, writes: true },
      { method: 'GET', url: `/v1/files/${ref}/info/acl`, writes: false },
      { method: 'PUT', url: `/v1/files/${ref}/info/acl`, writes: true },
      { method: 'GET', url: `/v1/files/${ref}/info/explain-rights`, writes: false },
      { method: 'DELETE', url: `/v1/files/${ref}`, writes: true },
    ];
    for (const route of routes) {
      const anonymous = await world.app.inject({ method: route.method, url: route.url });
      assert.equal(anonymous.statusCode, 401, `${route.method} ${route.url}`);
      const nobody = await world.app.inject({ method: route.method, url: route.url, headers: as(NOBODY) });
      assert.equal(nobody.statusCode, 403, `${route.method} ${route.url}`);
      if (route.writes) {
        const reader = await world.app.inject({ method: route.method, url: route.url, headers: as(READER), payload: {} });
        assert.equal(reader.statusCode, 403, `${route.method} ${route.url} needs FILE_WRITE`);
        assert.equal((reader.json() as { error_class: string }).error_class, 'http_forbidden_error');
      }
    }
  });
});
