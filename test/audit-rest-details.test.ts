import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';

/**
 * REST audit details (issue 7 item 1): data events carry the file id, offset and size (a Range
 * read its range); metadata changes (attributes, ACL, quotas) and settings PUTs carry before and
 * after of the fields that changed; no secret appears in them.
 */
const ADMIN_PASSWORD = 'Audit-Details-Admin-Password-3';
const silent = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
const logger = createLogger({ level: 'silent' });

interface EventView {
  operation: string;
  status: string;
  file_id?: string;
  path?: string;
  details?: Record<string, any>;
}

describe('REST audit events carry offsets, sizes, file ids, and before and after', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-audit-rest-'));
  let server: Server | undefined;
  let port: number;
  let token: string;
  const api = (method: string, path: string, options: Parameters<typeof callApi>[3] = {}) => callApi(port, method, path, { token, ...options });
  const eventsWhere = async (query: string, count = 1): Promise<EventView[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await api('GET', `/v1/audit/events?limit=1000&${query}`);
      assert.equal(answer.status, 200, answer.body.toString());
      const events = answer.json().events as EventView[];
      if (events.length >= count || Date.now() > deadline) return events;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const file = encodeURIComponent('/details/data.bin');
  let fileId = '';

  before(async () => {
    server = await serve({ config: { ...testConfig(), dataDir: join(scratch, 'data'), apiPort: 0, logLevel: 'silent' }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdout: silent() });
    port = server.ports.api as number;
    const admin = await server.instance.users.findByName('admin');
    assert.ok(admin !== undefined);
    const fs = server.instance.fileSystem;
    const ctx = systemContext(logger);
    await fs.mkdir(ctx, await fs.root(ctx), 'details', { mode: 0o755, uid: admin.uid, gid: admin.primaryGid });
    const login = await callApi(port, 'POST', '/v1/session/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    token = login.json().bearer_token as string;
    const created = await api('POST', `/v1/files/${encodeURIComponent('/details')}/entries`, { body: { name: 'data.bin', action: 'CREATE_FILE' } });
    assert.equal(created.status, 201, created.body.toString());
    fileId = created.json().id as string;
  });
  after(async () => {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a write and a Range read carry the file id, the offset and the size', async () => {
    const written = await api('PUT', `/v1/files/${file}/data`, { rawBody: Buffer.alloc(10_000, 1), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(written.status, 200, written.body.toString());
    const ranged = await api('GET', `/v1/files/${file}/data`, { headers: { range: 'bytes=4096-6143' } });
    assert.equal(ranged.status, 206);
    const [write] = await eventsWhere('operation=fs_write_data&path_prefix=/details');
    assert.deepEqual([write?.file_id, write?.details?.offset, write?.details?.size], [fileId, 0, 10_000]);
    const [read] = await eventsWhere('operation=fs_read_data&path_prefix=/details');
    assert.deepEqual([read?.file_id, read?.path, read?.details?.offset, read?.details?.size], [fileId, '/details/data.bin', 4096, 2048]);
  });

  it('PATCH attributes and PUT ACL record the changed fields before and after', async () => {
    assert.equal((await api('PATCH', `/v1/files/${file}/info/attributes`, { body: { mode: '0600' } })).status, 200);
    const [chmod] = await eventsWhere('operation=fs_write_metadata&path_prefix=/details');
    assert.equal(chmod?.status, 'ok');
    assert.equal(chmod?.details?.before?.mode, '0644');
    assert.equal(chmod?.details?.after?.mode, '0600');
    assert.equal('owner_uid' in (chmod?.details?.after ?? {}), false, 'fields that did not change are left out');

    const acl = { aces: [{ type: 'ALLOWED', flags: [], trustee: { domain: 'OWNER' }, rights: ['READ_DATA', 'WRITE_DATA', 'READ_ATTRIBUTES', 'READ_ACL', 'WRITE_ACL'] }, { type: 'ALLOWED', flags: [], trustee: { domain: 'EVERYONE' }, rights: ['READ_DATA'] }] };
    const put = await api('PUT', `/v1/files/${file}/info/acl`, { body: acl });
    assert.equal(put.status, 200, put.body.toString());
    const events = await eventsWhere('operation=fs_write_metadata&path_prefix=/details', 2);
    const aclEvent = events[1];
    assert.ok(Array.isArray(aclEvent?.details?.before?.aces) && Array.isArray(aclEvent?.details?.after?.aces), JSON.stringify(aclEvent));
    assert.deepEqual(aclEvent?.details?.after?.aces.map((ace: { trustee: { domain: string } }) => ace.trustee.domain), ['OWNER', 'EVERYONE']);
    assert.notDeepEqual(aclEvent?.details?.before?.aces, aclEvent?.details?.after?.aces);
  });

  it('quota changes (fs_set_quota) record the limit before and after', async () => {
    const created = await api('POST', '/v1/files/quotas', { body: { path: '/details', limit: '1000000' } });
    assert.equal(created.status, 201, created.body.toString());
    const id = created.json().id as string;
    assert.equal((await api('PUT', `/v1/files/quotas/${id}`, { body: { limit: '2000000' } })).status, 200);
    assert.equal((await api('DELETE', `/v1/files/quotas/${id}`)).status, 204);
    const [create, update, remove] = await eventsWhere('operation=fs_set_quota', 3);
    assert.deepEqual([create?.details?.before, create?.details?.after?.limit], [null, '1000000']);
    assert.deepEqual([update?.details?.before, update?.details?.after], [{ limit: '1000000' }, { limit: '2000000' }]);
    assert.equal(remove?.details?.before?.limit, '2000000');
    assert.equal(remove?.details?.after, null);
  });

  it('a settings PUT records before and after; a user change never records a password', async () => {
    const settings = await api('PUT', '/v1/web-ui/settings', { body: { login_banner: { enabled: true, text: 'Authorised use only' }, inactivity_timeout_minutes: 30 } });
    assert.equal(settings.status, 200, settings.body.toString());
    const [event] = await eventsWhere('operation=web_ui_set_settings');
    assert.deepEqual(event?.details?.before, { login_banner: { enabled: false, text: '' }, inactivity_timeout_minutes: 15 });
    assert.deepEqual(event?.details?.after, { login_banner: { enabled: true, text: 'Authorised use only' }, inactivity_timeout_minutes: 30 });

    const user = await api('POST', '/v1/users', { body: { name: 'frank', password: 'Quartz-Meadow-Lantern-88' } });
    assert.equal(user.status, 201, user.body.toString());
    const id = user.json().id as string;
    assert.equal((await api('PUT', `/v1/users/${id}/password`, { body: { new_password: 'Second-Quartz-Lantern-99' } })).status < 300, true);
    assert.equal((await api('PATCH', `/v1/users/${id}`, { body: { full_name: 'Frank Audit' } })).status < 500, true);
    const all = await api('GET', '/v1/audit/events?limit=1000');
    assert.doesNotMatch(all.body.toString(), /Quartz-Meadow|Second-Quartz|Audit-Details-Admin/, 'no password anywhere in the trail');
  });
});
