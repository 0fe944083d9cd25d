import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { openTestAudit, sampleEvent } from '../../../audit/audit.test-support.js';
import { recordKey } from '../../../audit/local-log.js';
import { SyslogSettings } from '../../../audit/syslog/syslog-config.js';
import { SettingsStore } from '../../../settings/settings-store.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY } from '../testing/api-harness.test-support.js';
import { auditRoutes } from './audit.js';
import { AuditRetentionSettings } from '../../../audit/retention-config.js';

describe('audit routes', () => {
  let app: ApiApp;
  let audit: Awaited<ReturnType<typeof openTestAudit>>;
  const admin = as(TEST_ADMIN);

  before(async () => {
    audit = await openTestAudit();
    const settings = new SettingsStore({ metadata: audit.metadata });
    const syslog = new SyslogSettings(settings);
    app = await openApiHarness(auditRoutes({ log: audit.log, syslog, retention: new AuditRetentionSettings(settings), auditor: audit.auditor, clock: audit.clock }));
    const t = audit.clock.ms;
    for (let index = 0; index < 5; index++) audit.auditor.emit(sampleEvent({ time: t + index, path: `/p/${index}`, protocol: index % 2 === 0 ? 'nfsv3' : 'smb' }));
    await audit.auditor.flush();
  });
  after(async () => app.close());

  it('queries events with filters and pages with the cursor', async () => {
    const first = await app.inject({ method: 'GET', url: '/v1/audit/events?limit=2', headers: admin });
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json().events.map((event: { path: string }) => event.path), ['/p/0', '/p/1']);
    const second = await app.inject({ method: 'GET', url: `/v1/audit/events?limit=2&after=${first.json().next}`, headers: admin });
    assert.deepEqual(second.json().events.map((event: { path: string }) => event.path), ['/p/2', '/p/3']);
    const smb = await app.inject({ method: 'GET', url: '/v1/audit/events?protocol=smb&path_prefix=/p/&user=alice&operation=fs_write_data&status=ok', headers: admin });
    assert.deepEqual(smb.json().events.map((event: { path: string }) => event.path), ['/p/1', '/p/3']);
    const window = await app.inject({ method: 'GET', url: `/v1/audit/events?from=${new Date(audit.clock.ms + 1).toISOString()}&to=${new Date(audit.clock.ms + 3).toISOString()}`, headers: admin });
    assert.deepEqual(window.json().events.map((event: { path: string }) => event.path), ['/p/1', '/p/2']);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/audit/events?protocol=gopher', headers: admin })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/audit/events?limit=100000', headers: admin })).statusCode, 400);
  });

  it('verify reports ok, then names the first bad record after tampering', async () => {
    const good = await app.inject({ method: 'GET', url: '/v1/audit/verify', headers: admin });
    assert.equal(good.json().ok, true);
    assert.match(good.json().public_key, /BEGIN PUBLIC KEY/);
    await audit.metadata.write(async (tx) => tx.delete(recordKey(2)));
    const bad = await app.inject({ method: 'GET', url: '/v1/audit/verify', headers: admin });
    assert.equal(bad.json().ok, false);
    assert.equal(bad.json().first_bad.seq, 2);
  });

  it('syslog config: PUT validates, never returns the client key, and the change is audited', async () => {
    const put = await app.inject({ method: 'PUT', url: '/v1/audit/syslog/config', headers: admin, payload: { sinks: [{ enabled: true, server_address: 'siem.example.com', server_port: 6514, transport: 'tcp', format: 'json' }] } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), { sinks: [{ enabled: true, server_address: 'siem.example.com', server_port: 6514, transport: 'tcp', format: 'json' }] });
    const get = await app.inject({ method: 'GET', url: '/v1/audit/syslog/config', headers: admin });
    assert.equal(get.headers.etag, '"1"');
    for (const sink of [{ enabled: true, server_address: 'x', server_port: 0, transport: 'tcp', format: 'csv' }, { enabled: true, server_address: 'x', server_port: 514, transport: 'quic', format: 'csv' }, { enabled: true, server_address: 'x', server_port: 514, transport: 'tcp', format: 'csv', ca_certificate: 'not pem' }, { enabled: true, server_address: 'x', server_port: 514, transport: 'tls', format: 'csv', client_key: 'nope' }]) {
      assert.equal((await app.inject({ method: 'PUT', url: '/v1/audit/syslog/config', headers: admin, payload: { sinks: [sink] } })).statusCode, 400, JSON.stringify(sink));
    }
    await audit.auditor.flush();
    const events = (await app.inject({ method: 'GET', url: '/v1/audit/events?operation=audit_set_syslog_config', headers: admin })).json().events;
    assert.equal(events.length, 5);
    assert.equal(events[0].status, 'ok');
    assert.equal(events[0].user.name, 'admin');
    assert.equal(events[0].details.after.sinks[0].server_address, 'siem.example.com');
    assert.equal(events[1].status, 'fs_invalid_argument_error');
  });

  it('retention: 90 days and 4 GiB by default; PUT validates both fields and keeps them', async () => {
    const initial = await app.inject({ method: 'GET', url: '/v1/audit/retention', headers: admin });
    assert.equal(initial.statusCode, 200);
    assert.deepEqual(initial.json(), { max_age_days: 90, max_size_bytes: 4 * 1024 ** 3 });
    const put = await app.inject({ method: 'PUT', url: '/v1/audit/retention', headers: admin, payload: { max_age_days: 30, max_size_bytes: 1024 ** 3 } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/audit/retention', headers: admin })).json(), { max_age_days: 30, max_size_bytes: 1024 ** 3 });
    for (const payload of [{ max_age_days: 0, max_size_bytes: 1024 ** 3 }, { max_age_days: 30, max_size_bytes: 1024 }, { max_age_days: 30 }, { max_age_days: 30, max_size_bytes: 1024 ** 3, records: 5 }, { max_age_days: 1.5, max_size_bytes: 1024 ** 3 }]) {
      assert.equal((await app.inject({ method: 'PUT', url: '/v1/audit/retention', headers: admin, payload })).statusCode, 400, JSON.stringify(payload));
    }
  });

  it('needs AUDIT_READ to read and AUDIT_WRITE to change (401, 403)', async () => {
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/audit/retention', headers: as(TEST_NOBODY), payload: { max_age_days: 1, max_size_bytes: 1024 ** 2 } })).statusCode, 403);
    for (const url of ['/v1/audit/events', '/v1/audit/verify', '/v1/audit/syslog/config', '/v1/audit/retention']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 401);
      assert.equal((await app.inject({ method: 'GET', url, headers: as(TEST_NOBODY) })).statusCode, 403);
    }
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/audit/syslog/config', headers: as(TEST_NOBODY), payload: { sinks: [] } })).statusCode, 403);
  });
});
