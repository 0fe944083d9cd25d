import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { SettingsStore } from '../../../settings/settings-store.js';
import { MemoryMetadataStore } from '../../../storage/metadata/memory/memory-metadata-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY, type TestCaller } from '../testing/api-harness.test-support.js';
import { protocolRoutes } from './protocols.js';

const NFS_READER: TestCaller = { name: 'nfs-reader', privileges: ['NFS_READ'] };
const anExport = { export_path: '/data', fs_path: '/srv/data', restrictions: [{ host_restrictions: ['10.0.0.0/24', 'client.example.com'], read_only: true, user_mapping: 'ALL', map_to_uid: 1000, map_to_gid: 1000 }] };

describe('protocol settings routes', () => {
  let app: ApiApp;
  const admin = as(TEST_ADMIN);

  before(async () => {
    app = await openApiHarness(protocolRoutes({ settings: new SettingsStore({ metadata: new MemoryMetadataStore() }) }), [TEST_ADMIN, TEST_NOBODY, NFS_READER]);
  });
  after(async () => app.close());

  it('every protocol is off on a fresh instance, with secure options on', async () => {
    const expected: Record<string, Record<string, unknown>> = {
      s3: { enabled: false, secure: true },
      nfs: { enabled: false },
      smb: { enabled: false, encryption_required: true, signing_required: true },
      ftp: { enabled: false, require_tls: true, allow_anonymous: false },
    };
    for (const [area, fields] of Object.entries(expected)) {
      const response = await app.inject({ method: 'GET', url: `/v1/${area}/settings`, headers: admin });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers.etag, '"0"');
      for (const [field, value] of Object.entries(fields)) assert.equal(response.json()[field], value, `${area}.${field}`);
    }
    for (const url of ['/v1/nfs/exports', '/v1/smb/shares']) {
      assert.deepEqual((await app.inject({ method: 'GET', url, headers: admin })).json(), { entries: [] });
    }
  });

  it('PUT /v1/s3/settings {enabled, secure?} answers the settings, and If-Match guards a change', async () => {
    const put = await app.inject({ method: 'PUT', url: '/v1/s3/settings', headers: admin, payload: { enabled: true } });
    assert.equal(put.statusCode, 200);
    assert.deepEqual(put.json(), { enabled: true, secure: true, base_path: '/', virtual_host_domains: [] });
    assert.equal(put.headers.etag, '"1"');
    const stale = await app.inject({ method: 'PUT', url: '/v1/s3/settings', headers: { ...admin, 'if-match': '"0"' }, payload: { enabled: false } });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().error_class, 'http_precondition_failed_error');
    const garbage = await app.inject({ method: 'PUT', url: '/v1/s3/settings', headers: { ...admin, 'if-match': 'nonsense' }, payload: { enabled: false } });
    assert.equal(garbage.statusCode, 412);
    const fresh = await app.inject({ method: 'PUT', url: '/v1/s3/settings', headers: { ...admin, 'if-match': '"1"' }, payload: { enabled: false } });
    assert.equal(fresh.statusCode, 200);
    assert.equal(fresh.json().enabled, false);
  });

  it('malformed settings answer 400 with the field named, never coerced', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['/v1/nfs/settings', { enabled: 'true' }, /enabled must be boolean/],
      ['/v1/smb/settings', { encryption_required: true, min_protocol: 'SMB2_02' }, /min_protocol SMB3_00/],
      ['/v1/ftp/settings', { enabled: true, anonymous: true }, /anonymous is not a known field/],
      ['/v1/s3/settings', [], /JSON object/],
    ];
    for (const [url, payload, pattern] of cases) {
      const response = await app.inject({ method: 'PUT', url, headers: admin, payload: payload as object });
      assert.equal(response.statusCode, 400, url);
      assert.equal(response.json().error_class, 'fs_invalid_argument_error');
      assert.match(response.json().description, pattern);
    }
    const notJson = await app.inject({ method: 'PUT', url: '/v1/ftp/settings', headers: { ...admin, 'content-type': 'application/json' }, payload: '{"enabled":' });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().error_class, 'http_bad_request_error');
    const noBody = await app.inject({ method: 'PUT', url: '/v1/ftp/settings', headers: admin });
    assert.equal(noBody.statusCode, 400);
  });

  it('NFS exports: create, read, replace, delete, with 404 and 409', async () => {
    const created = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: anExport });
    assert.equal(created.statusCode, 200);
    const body = created.json();
    assert.match(body.id, /^[0-9]+$/);
    assert.equal(body.export_path, '/data');
    assert.deepEqual(body.restrictions[0], { ...anExport.restrictions[0], require_privileged_port: true });
    assert.equal(body.admits_nobody, undefined);
    const duplicate = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: anExport });
    assert.equal(duplicate.statusCode, 409);
    assert.equal(duplicate.json().error_class, 'fs_entry_exists_error');
    const read = await app.inject({ method: 'GET', url: `/v1/nfs/exports/${body.id}`, headers: as(NFS_READER) });
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), body);
    const closed = await app.inject({ method: 'PUT', url: `/v1/nfs/exports/${body.id}`, headers: admin, payload: { ...anExport, restrictions: [] } });
    assert.equal(closed.statusCode, 200);
    assert.equal(closed.json().admits_nobody, true);
    assert.equal(closed.headers.etag, '"2"');
    for (const id of ['999', 'abc', '0']) {
      assert.equal((await app.inject({ method: 'GET', url: `/v1/nfs/exports/${id}`, headers: admin })).statusCode, 404);
      assert.equal((await app.inject({ method: 'PUT', url: `/v1/nfs/exports/${id}`, headers: admin, payload: anExport })).statusCode, 404);
      assert.equal((await app.inject({ method: 'DELETE', url: `/v1/nfs/exports/${id}`, headers: admin })).statusCode, 404);
    }
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/nfs/exports/${body.id}`, headers: admin });
    assert.equal(deleted.statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/nfs/exports/${body.id}`, headers: admin })).statusCode, 404);
  });

  it('NFS exports refuse bad host rules with 400', async () => {
    for (const host of ['10.0.0.0/99', 'bad_host', '::ffff:1.2.3.4/8', '']) {
      const response = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: { ...anExport, export_path: '/x', restrictions: [{ host_restrictions: [host] }] } });
      assert.equal(response.statusCode, 400, host);
      assert.match(response.json().description, /restrictions\[0\]\.host_restrictions\[0\]/);
    }
  });

  it('NFS exports refuse malformed hostnames and wildcards with 400 naming the field, and keep valid ones', async () => {
    const refused: Array<[string, RegExp]> = [
      ['a.*.example.org', /has a "\*" that is not one leading "\*\." before a hostname/],
      ['*', /"\*" that is not/],
      ['*.*.example.org', /"\*" that is not/],
      ['*.', /"\*" that is not/],
      ['host..example.org', /RFC 1123 hostname/],
      ['exa mple.org', /RFC 1123 hostname/],
      ['-client.example.org', /RFC 1123 hostname/],
      [`${'a'.repeat(64)}.example.org`, /RFC 1123 hostname/],
      ['client.example.123', /RFC 1123 hostname/],
    ];
    for (const [host, reason] of refused) {
      const response = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: { ...anExport, export_path: '/names', restrictions: [{ host_restrictions: ['10.0.0.1', host] }] } });
      assert.equal(response.statusCode, 400, host);
      assert.equal(response.json().error_class, 'fs_invalid_argument_error');
      assert.match(response.json().description, /^nfs_export\.restrictions\[0\]\.host_restrictions\[1\]: /, host);
      assert.match(response.json().description, reason, host);
    }
    const kept = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: { ...anExport, export_path: '/names', restrictions: [{ host_restrictions: ['*.Lab.Example.org', 'build.example.org.', 'localhost'] }] } });
    assert.equal(kept.statusCode, 200);
    assert.deepEqual(kept.json().restrictions[0].host_restrictions, ['*.Lab.Example.org', 'build.example.org.', 'localhost']);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/nfs/exports/${kept.json().id}`, headers: admin })).statusCode, 204);
  });

  it('NFS exports: manage_gids defaults to false, round-trips, must be a boolean, and is described in the OpenAPI document', async () => {
    const plain = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: { ...anExport, export_path: '/plain' } });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.json().manage_gids, false);
    const managed = await app.inject({ method: 'PUT', url: `/v1/nfs/exports/${plain.json().id}`, headers: admin, payload: { ...anExport, export_path: '/plain', manage_gids: true } });
    assert.equal(managed.statusCode, 200);
    assert.equal(managed.json().manage_gids, true);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/nfs/exports', headers: admin })).json().entries[0].manage_gids, true);
    const bad = await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: admin, payload: { ...anExport, export_path: '/bad', manage_gids: 'yes' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error_class, 'fs_invalid_argument_error');
    assert.match(bad.json().description, /nfs_export\.manage_gids/);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/nfs/exports/${plain.json().id}`, headers: admin })).statusCode, 204);
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { description?: string }> } }> }> }>> };
    const answer = document.paths['/v1/nfs/exports/{id}']?.get?.responses['200']?.content['application/json']?.schema.properties;
    assert.match(answer?.manage_gids?.description ?? '', /at most 16/);
    assert.match(JSON.stringify(answer?.restrictions), /forward-confirmed reverse DNS/);
  });

  it('SMB shares: CRUD, case-insensitive names, secure defaults', async () => {
    const created = await app.inject({
      method: 'POST', url: '/v1/smb/shares', headers: admin,
      payload: { share_name: 'Finance', fs_path: '/finance', description: 'books', permissions: [{ type: 'ALLOWED', trustee: { name: 'accountants' }, rights: ['READ', 'CHANGE'] }], network_permissions: [{ type: 'ALLOWED', address_ranges: ['10.1.0.0/16'], rights: ['FULL_CONTROL'] }] },
    });
    assert.equal(created.statusCode, 200);
    const share = created.json();
    assert.equal(share.require_encryption, true);
    assert.equal(share.access_based_enumeration, true);
    assert.equal(share.read_only, false);
    assert.equal(share.admits_nobody, undefined);
    const clash = await app.inject({ method: 'POST', url: '/v1/smb/shares', headers: admin, payload: { share_name: 'FINANCE', fs_path: '/other' } });
    assert.equal(clash.statusCode, 409);
    const bad = await app.inject({ method: 'POST', url: '/v1/smb/shares', headers: admin, payload: { share_name: 'a:b', fs_path: '/x' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error_class, 'fs_invalid_name_error');
    const replaced = await app.inject({ method: 'PUT', url: `/v1/smb/shares/${share.id}`, headers: admin, payload: { share_name: 'Finance', fs_path: '/finance' } });
    assert.equal(replaced.json().admits_nobody, true);
    const list = await app.inject({ method: 'GET', url: '/v1/smb/shares', headers: admin });
    assert.equal(list.json().entries.length, 1);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/smb/shares/${share.id}`, headers: admin })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/smb/shares/${share.id}`, headers: admin })).statusCode, 404);
  });

  it('refuses callers without a session (401) or without the privilege (403)', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/s3/settings' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/nfs/settings', payload: { enabled: true } })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/smb/shares', headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/nfs/exports', headers: as(NFS_READER) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/nfs/exports', headers: as(NFS_READER), payload: anExport })).statusCode, 403);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/nfs/settings', headers: as(NFS_READER), payload: { enabled: true } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/s3/settings', headers: as(NFS_READER) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/nfs/settings', headers: admin })).json().enabled, false, 'refused changes changed nothing');
  });
});
