import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { as } from '../testing/api-harness.test-support.js';
import { fileRoutes } from './files.js';
import { NOBODY, openFileTestWorld, READER, refOf, STRANGER, USER, type FileTestWorld } from './files.test-support.js';
import { quotaRoutes } from './quotas.js';

interface QuotaBody {
  id: string;
  path?: string;
  limit: string;
  capacity_used?: string;
}

describe('quota routes', () => {
  let world: FileTestWorld;
  let limitedId = '';
  before(async () => {
    world = await openFileTestWorld((deps) => [...fileRoutes({ ...deps, uploadBytesMax: 1024 * 1024 }), ...quotaRoutes(deps)]);
    for (const name of ['limited', 'other']) {
      const created = await world.app.inject({ method: 'POST', url: `/v1/files/${refOf('/home/user')}/entries`, headers: as(USER), payload: { name, action: 'CREATE_DIRECTORY' } });
      if (name === 'limited') limitedId = (created.json() as { id: string }).id;
    }
  });
  after(async () => world.close());

  it('POST by path sets a quota (limit as a number or a decimal string) though the caller is no superuser', async () => {
    const response = await world.app.inject({ method: 'POST', url: '/v1/files/quotas', headers: as(USER), payload: { path: '/home/user/limited', limit: '1000' } });
    assert.equal(response.statusCode, 201, response.body);
    assert.deepEqual(response.json(), { id: limitedId, path: '/home/user/limited', limit: '1000' });
    const byId = await world.app.inject({ method: 'POST', url: '/v1/files/quotas', headers: as(USER), payload: { id: '1', limit: 10 ** 12 } });
    assert.equal(byId.statusCode, 201, byId.body);
    const twice = await world.app.inject({ method: 'POST', url: '/v1/files/quotas', headers: as(USER), payload: { id: '1', limit: 5 } });
    assert.equal(twice.statusCode, 409);
  });

  it('a write past the quota answers 507 fs_quota_no_space_error', async () => {
    await world.app.inject({ method: 'POST', url: `/v1/files/${refOf('/home/user/limited')}/entries`, headers: as(USER), payload: { name: 'f', action: 'CREATE_FILE' } });
    const url = `/v1/files/${refOf('/home/user/limited/f')}/data`;
    const headers = { ...as(USER), 'content-type': 'application/octet-stream' };
    assert.equal((await world.app.inject({ method: 'PUT', url, headers, payload: Buffer.alloc(600) })).statusCode, 200);
    const over = await world.app.inject({ method: 'PUT', url, headers, payload: Buffer.alloc(1001) });
    assert.equal(over.statusCode, 507);
    assert.equal((over.json() as { error_class: string }).error_class, 'fs_quota_no_space_error');
    assert.equal((await world.app.inject({ method: 'PUT', url, headers, payload: Buffer.alloc(900) })).statusCode, 200);
  });

  it('GET lists quotas, status adds capacity_used, GET by id answers one', async () => {
    const list = await world.app.inject({ method: 'GET', url: '/v1/files/quotas', headers: as(READER) });
    assert.equal(list.statusCode, 200);
    const body = list.json() as { quotas: QuotaBody[]; paging: { next?: string } };
    assert.deepEqual(body.quotas.map((quota) => quota.id).sort(), ['1', limitedId].sort());
    const status = await world.app.inject({ method: 'GET', url: '/v1/files/quotas/status', headers: as(READER) });
    const limited = (status.json() as { quotas: QuotaBody[] }).quotas.find((quota) => quota.id === limitedId);
    assert.deepEqual(limited, { id: limitedId, limit: '1000', capacity_used: '900' });
    const one = await world.app.inject({ method: 'GET', url: `/v1/files/quotas/${limitedId}`, headers: as(READER) });
    assert.deepEqual(one.json(), limited);
    const paged = await world.app.inject({ method: 'GET', url: '/v1/files/quotas?limit=1', headers: as(READER) });
    const next = (paged.json() as { paging: { next?: string } }).paging.next;
    assert.ok(next !== undefined);
    const second = await world.app.inject({ method: 'GET', url: next, headers: as(READER) });
    assert.equal((second.json() as { quotas: QuotaBody[] }).quotas.length, 1);
  });

  it('PUT changes a limit and DELETE removes the quota', async () => {
    const changed = await world.app.inject({ method: 'PUT', url: `/v1/files/quotas/${limitedId}`, headers: as(USER), payload: { limit: 2000 } });
    assert.equal(changed.statusCode, 200);
    assert.deepEqual(changed.json(), { id: limitedId, limit: '2000' });
    assert.equal((await world.app.inject({ method: 'DELETE', url: '/v1/files/quotas/1', headers: as(USER) })).statusCode, 204);
    assert.equal((await world.app.inject({ method: 'GET', url: '/v1/files/quotas/1', headers: as(USER) })).statusCode, 404);
    assert.equal((await world.app.inject({ method: 'DELETE', url: '/v1/files/quotas/1', headers: as(USER) })).statusCode, 404);
    assert.equal((await world.app.inject({ method: 'PUT', url: '/v1/files/quotas/1', headers: as(USER), payload: { limit: 1 } })).statusCode, 404);
  });

  it('malformed input answers 400; a file or a missing directory answers 409 / 404', async () => {
    for (const payload of [{ limit: 5 }, { path: '/home/user/other', id: '1', limit: 5 }, { path: '/home/user/other', limit: -1 }, { path: '/home/user/other', limit: '1e3' }, { path: 'relative', limit: 1 }, { path: '/home/user/other' }]) {
      const response = await world.app.inject({ method: 'POST', url: '/v1/files/quotas', headers: as(USER), payload });
      assert.equal(response.statusCode, 400, `${JSON.stringify(payload)}: ${response.body}`);
    }
    assert.equal((await world.app.inject({ method: 'GET', url: '/v1/files/quotas/abc', headers: as(USER) })).statusCode, 400);
    assert.equal((await world.app.inject({ method: 'GET', url: '/v1/files/quotas?limit=1001', headers: as(USER) })).statusCode, 400);
    const onFile = await world.app.inject({ method: 'POST', url: '/v1/files/quotas', headers: as(USER), payload: { path: '/home/user/limited/f', limit: 5 } });
    assert.equal(onFile.statusCode, 409);
    const missing = await world.app.inject({ method: 'POST', url: '/v1/files/quotas', headers: as(USER), payload: { path: '/home/none', limit: 5 } });
    assert.equal(missing.statusCode, 404);
  });

  it('needs QUOTA_READ / QUOTA_WRITE: 401 without a caller, 403 without the privilege', async () => {
    const routes: Array<{ method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; writes: boolean }> = [
      { method: 'GET', url: '/v1/files/quotas', writes: false },
      { method: 'POST', url: '/v1/files/quotas', writes: true },
      { method: 'GET', url: '/v1/files/quotas/status', writes: false },
      { method: 'GET', url: `/v1/files/quotas/${limitedId}`, writes: false },
      { method: 'PUT', url: `/v1/files/quotas/${limitedId}`, writes: true },
      { method: 'DELETE', url: `/v1/files/quotas/${limitedId}`, writes: true },
    ];
    for (const route of routes) {
      assert.equal((await world.app.inject({ method: route.method, url: route.url })).statusCode, 401);
      assert.equal((await world.app.inject({ method: route.method, url: route.url, headers: as(NOBODY) })).statusCode, 403);
      // STRANGER has file privileges only.
      assert.equal((await world.app.inject({ method: route.method, url: route.url, headers: as(STRANGER) })).statusCode, 403);
      if (route.writes) assert.equal((await world.app.inject({ method: route.method, url: route.url, headers: as(READER), payload: { limit: 1 } })).statusCode, 403);
    }
  });
});
