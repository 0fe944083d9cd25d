import { strict as assert } from 'node:assert';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SettingsStore } from '../../../settings/settings-store.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import { guardConnections, NetworkAccess } from '../network-access.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY } from '../testing/api-harness.test-support.js';
import { networkRoutes } from './network.js';

/** GET /v1/version over real HTTPS from `localAddress`: the status, or the socket error's code. */
function fetchVersion(port: number, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const request = httpsRequest({ host: '127.0.0.1', port, path: '/v1/version', localAddress, rejectUnauthorized: false, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    request.end();
  });
}

describe('network access rules routes', () => {
  let app: ApiApp;
  let access: NetworkAccess;
  const admin = as(TEST_ADMIN);
  const warnings: unknown[] = [];

  before(async () => {
    const settings = new SettingsStore({ metadata: new MemoryMetadataStore() });
    access = await NetworkAccess.open(settings);
    app = await openApiHarness(networkRoutes({ settings }));
    guardConnections(app.server, 'api', access, { warn: (fields: unknown) => warnings.push(fields) });
    await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    access.close();
    await app.close();
  });

  it('a fresh instance allows any address to every service', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/network/access-rules', headers: admin });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { services: { api: { allow: [] }, s3: { allow: [] }, nfs: { allow: [] }, smb: { allow: [] }, ftp: { allow: [] } } });
  });

  it('refuses rules that would lock the caller out of the API, unless forced', async () => {
    // inject() connects from 127.0.0.1.
    const locked = await app.inject({ method: 'PUT', url: '/v1/network/access-rules', headers: admin, payload: { services: { api: { allow: ['10.0.0.0/8'] } } } });
    assert.equal(locked.statusCode, 409);
    assert.equal(locked.json().error_class, 'network_rules_lockout_error');
    assert.match(locked.json().description, /your own address 127\.0\.0\.1.*force: true/);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/network/access-rules', headers: admin })).json().services.api.allow, []);
    const forced = await app.inject({ method: 'PUT', url: '/v1/network/access-rules', headers: admin, payload: { services: { api: { allow: ['10.0.0.0/8'] } }, force: true } });
    assert.equal(forced.statusCode, 200);
    assert.deepEqual(forced.json().services.api.allow, ['10.0.0.0/8']);
    assert.equal(forced.json().force, undefined, 'force is not stored');
    const restored = await app.inject({ method: 'PUT', url: '/v1/network/access-rules', headers: admin, payload: { services: { api: { allow: ['127.0.0.1', '::1'] }, nfs: { allow: ['192.0.2.0/24'] } } } });
    assert.equal(restored.statusCode, 200);
    assert.deepEqual(restored.json().services.nfs.allow, ['192.0.2.0/24']);
  });

  it('the API listener drops refused addresses before TLS and serves allowed ones', async () => {
    const port = (app.server.address() as AddressInfo).port;
    assert.equal(await fetchVersion(port, '127.0.0.1'), 200);
    assert.equal(typeof (await fetchVersion(port, '127.0.0.2')), 'string', 'the connection from 127.0.0.2 is cut');
    assert.equal(warnings.length, 1);
    const widened = await app.inject({ method: 'PUT', url: '/v1/network/access-rules', headers: admin, payload: { services: { api: { allow: ['127.0.0.0/8'] } } } });
    assert.equal(widened.statusCode, 200);
    assert.equal(await fetchVersion(port, '127.0.0.2'), 200);
  });

  it('malformed rules answer 400; callers without the privilege 401 or 403', async () => {
    for (const payload of [{ services: { api: { allow: ['10.0.0.0/33'] } } }, { services: { api: { allow: ['host.example'] } } }, { services: { gopher: { allow: [] } } }, { services: { api: ['10.0.0.1'] } }, { rules: [] }, { services: {}, force: 'yes' }]) {
      const response = await app.inject({ method: 'PUT', url: '/v1/network/access-rules', headers: admin, payload });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
    }
    assert.equal((await app.inject({ method: 'GET', url: '/v1/network/access-rules' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/network/access-rules', headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/network/access-rules', headers: as(TEST_NOBODY), payload: { services: {} } })).statusCode, 403);
  });
});
