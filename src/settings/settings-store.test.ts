import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FsError, type FsErrorCode } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { networkRules } from './network-rules.js';
import { nfsExports, NOBODY_ID } from './nfs-exports.js';
import { ftpSettings, nfsSettings, s3Settings, smbSettings } from './protocol-settings.js';
import { SettingsStore } from './settings-store.js';
import { smbShares } from './smb-shares.js';
import { WebUiSettings, webUiSettings } from './web-ui-settings.js';

function openStore(onListenerError?: (error: unknown) => void): SettingsStore {
  return new SettingsStore({ metadata: new MemoryMetadataStore(), ...(onListenerError === undefined ? {} : { onListenerError }) });
}

async function refusal(promise: Promise<unknown>, code: FsErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FsError, `expected FsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

const anExport = { export_path: '/data', fs_path: '/srv/data', restrictions: [{ host_restrictions: ['10.0.0.0/24'] }] };
const aShare = { share_name: 'Data', fs_path: '/srv/data' };

describe('settings store', () => {
  it('a fresh instance has every protocol off, secure options on, no exports or shares', async () => {
    const store = openStore();
    assert.deepEqual(await store.get(s3Settings), { value: { enabled: false, secure: true, base_path: '/', virtual_host_domains: [] }, version: 0 });
    assert.deepEqual((await store.get(nfsSettings)).value, { enabled: false, v3_enabled: true, v4_enabled: false, portmap_enabled: false, portmap_port: 111 });
    assert.deepEqual((await store.get(smbSettings)).value, { enabled: false, encryption_required: true, signing_required: true, min_protocol: 'SMB3_00', hide_shares_from_unauthorized_users: true });
    assert.deepEqual((await store.get(ftpSettings)).value, { enabled: false, require_tls: true, allow_anonymous: false });
    assert.deepEqual((await store.get(webUiSettings)).value, { login_banner: { enabled: false, text: '' }, inactivity_timeout_minutes: 15 });
    assert.deepEqual((await store.get(networkRules)).value.services.api, { allow: [] });
    assert.deepEqual(await store.list(nfsExports), []);
    assert.deepEqual(await store.list(smbShares), []);
  });

  it('a change keeps the fields it does not name, and counts versions', async () => {
    const store = openStore();
    assert.deepEqual(await store.put(s3Settings, { enabled: true }), { value: { enabled: true, secure: true, base_path: '/', virtual_host_domains: [] }, version: 1 });
    assert.deepEqual(await store.put(s3Settings, { secure: false }, { ifVersion: 1 }), { value: { enabled: true, secure: false, base_path: '/', virtual_host_domains: [] }, version: 2 });
    await refusal(store.put(s3Settings, { enabled: false }, { ifVersion: 1 }), 'Conflict', /changed since version 1 \(now 2\)/);
    assert.equal((await store.get(s3Settings)).value.enabled, true);
  });

  it('refuses each malformed setting, naming it, and changes nothing', async () => {
    const store = openStore();
    await refusal(store.put(s3Settings, 'yes'), 'InvalidArgument', /must be a JSON object/);
    await refusal(store.put(s3Settings, [true]), 'InvalidArgument', /must be a JSON object/);
    await refusal(store.put(s3Settings, { enabled: 'true' }), 'InvalidArgument', /s3_settings\.enabled must be boolean/);
    await refusal(store.put(s3Settings, { enabled: 1 }), 'InvalidArgument', /enabled must be boolean/);
    await refusal(store.put(s3Settings, { enabled: true, bogus: 1 }), 'InvalidArgument', /s3_settings\.bogus is not a known field/);
    await refusal(store.put(s3Settings, { base_path: 'relative' }), 'InvalidArgument', /base_path must be an absolute path/);
    await refusal(store.put(s3Settings, { virtual_host_domains: 's3.example.com' }), 'InvalidArgument', /virtual_host_domains must be array/);
    await refusal(store.put(s3Settings, { virtual_host_domains: ['s3.example.com', 'S3.Example.com'] }), 'InvalidArgument', /virtual_host_domains\[1\] "S3.Example.com" is not a lower-case DNS name/);
    for (const bad of ['s3.example.com:9000', 's3.example.com.', '-s3.example.com', 'a..b', 'under_score.example', `${'l'.repeat(64)}.example`]) {
      await refusal(store.put(s3Settings, { virtual_host_domains: [bad] }), 'InvalidArgument', /virtual_host_domains\[0\] .* is not a lower-case DNS name/);
    }
    await refusal(store.put(s3Settings, { virtual_host_domains: ['127.0.0.1'] }), 'InvalidArgument', /virtual_host_domains\[0\] "127.0.0.1" is an IP address/);
    await refusal(store.put(s3Settings, { virtual_host_domains: ['a.example', 'a.example'] }), 'InvalidArgument', /virtual_host_domains must not have duplicate items/);
    await refusal(store.put(s3Settings, { virtual_host_domains: Array.from({ length: 17 }, (_, index) => `s${index}.example`) }), 'InvalidArgument', /virtual_host_domains must not have more than 16 items/);
    await refusal(store.put(s3Settings, { virtual_host_domains: [`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.example`] }), 'InvalidArgument', /virtual_host_domains\.0 must not have more than 253 characters/);
    await refusal(store.put(nfsSettings, { enabled: true, v3_enabled: false, v4_enabled: false }), 'InvalidArgument', /needs v3_enabled/);
    await refusal(store.put(nfsSettings, { enabled: true, v3_enabled: false, v4_enabled: true }), 'InvalidArgument', /NFSv4.1 is not served/);
    await refusal(store.put(nfsSettings, { v4_enabled: true }), 'InvalidArgument', /NFSv4.1 is not served/);
    await refusal(store.put(smbSettings, { min_protocol: 'SMB1' }), 'InvalidArgument', /min_protocol must be one of "SMB2_02"/);
    await refusal(store.put(smbSettings, { min_protocol: 'SMB2_10' }), 'InvalidArgument', /encryption_required needs min_protocol SMB3_00/);
    await refusal(store.put(ftpSettings, { require_tls: null }), 'InvalidArgument', /require_tls must be boolean/);
    await refusal(store.put(webUiSettings, { inactivity_timeout_minutes: 0 }), 'InvalidArgument', /inactivity_timeout_minutes must be >= 1/);
    await refusal(store.put(webUiSettings, { inactivity_timeout_minutes: 1441 }), 'InvalidArgument', /must be <= 1440/);
    await refusal(store.put(webUiSettings, { inactivity_timeout_minutes: 1.5 }), 'InvalidArgument', /must be integer/);
    await refusal(store.put(webUiSettings, { login_banner: { enabled: true, text: 'x'.repeat(10_001) } }), 'InvalidArgument', /login_banner\.text/);
    await refusal(store.put(webUiSettings, { login_banner: { enabled: true, text: '  ' } }), 'InvalidArgument', /enabled banner needs a text/);
    await refusal(store.put(networkRules, { services: { api: { allow: ['10.0.0.0/33'] } } }), 'InvalidArgument', /services\.api\.allow\[0\]/);
    await refusal(store.put(networkRules, { services: { telnet: { allow: [] } } }), 'InvalidArgument', /services\.telnet is not a known field/);
    assert.equal((await store.get(s3Settings)).version, 0);
    assert.equal((await store.get(smbSettings)).version, 0);
  });

  it('completes an export with root squash and privileged ports, and refuses bad ones', async () => {
    const store = openStore();
    const created = await store.create(nfsExports, anExport);
    assert.equal(created.id, '1');
    assert.deepEqual(created.value.restrictions[0], {
      host_restrictions: ['10.0.0.0/24'], read_only: false, require_privileged_port: true, user_mapping: 'ROOT', map_to_uid: NOBODY_ID, map_to_gid: NOBODY_ID,
    });
    await refusal(store.create(nfsExports, { ...anExport, fs_path: '/srv/other' }), 'Exists', /export_path \/data is already used by NFS export 1/);
    await refusal(store.create(nfsExports, { ...anExport, export_path: '/data/' }), 'Exists', /already used/);
    await refusal(store.create(nfsExports, { ...anExport, export_path: 'data' }), 'InvalidArgument', /export_path must be an absolute path/);
    await refusal(store.create(nfsExports, { ...anExport, fs_path: '/srv/../etc' }), 'InvalidArgument', /fs_path must not have "." or ".." segments/);
    await refusal(store.create(nfsExports, { ...anExport, fs_path: '/srv/\0x' }), 'InvalidArgument', /must not contain NUL/);
    await refusal(store.create(nfsExports, { ...anExport, fs_path: `/${'a'.repeat(4_096)}` }), 'NameTooLong', /longer than 4096 bytes/);
    await refusal(store.create(nfsExports, { ...anExport, export_path: '/b', restrictions: [{ host_restrictions: [] }] }), 'InvalidArgument', /host_restrictions/);
    await refusal(store.create(nfsExports, { ...anExport, export_path: '/b', restrictions: [{ host_restrictions: ['10.0.0.0/40'] }] }), 'InvalidArgument', /restrictions\[0\]\.host_restrictions\[0\]/);
    await refusal(store.create(nfsExports, { ...anExport, export_path: '/b', restrictions: [{ host_restrictions: ['h'], user_mapping: 'NONE', map_to_uid: 5 }] }), 'InvalidArgument', /need user_mapping ROOT or ALL/);
    await refusal(store.create(nfsExports, { ...anExport, export_path: '/b', restrictions: [{ host_restrictions: ['h'], user_mapping: 'SQUASH' }] }), 'InvalidArgument', /user_mapping must be one of/);
    await refusal(store.create(nfsExports, { export_path: '/b', fs_path: '/b' }), 'InvalidArgument', /restrictions/);
    assert.equal((await store.list(nfsExports)).length, 1);
  });

  it('replaces and deletes records by id, with NotFound for unknown ids', async () => {
    const store = openStore();
    const first = await store.create(smbShares, aShare);
    const second = await store.create(smbShares, { ...aShare, share_name: 'Other' });
    await refusal(store.replace(smbShares, second.id, { ...aShare, share_name: 'DATA' }), 'Exists', /case-insensitive/);
    const renamed = await store.replace(smbShares, first.id, { ...aShare, share_name: 'DATA', read_only: true });
    assert.equal(renamed.version, 2);
    assert.equal(renamed.value.read_only, true);
    await refusal(store.replace(smbShares, first.id, aShare, { ifVersion: 1 }), 'Conflict', /changed since version 1/);
    await refusal(store.replace(smbShares, '99', aShare), 'NotFound', /no SMB share 99/);
    await refusal(store.delete(smbShares, 'abc'), 'NotFound', /no SMB share abc/);
    await store.delete(smbShares, first.id);
    assert.equal(await store.record(smbShares, first.id), undefined);
    const third = await store.create(smbShares, aShare);
    assert.equal(third.id, '3', 'ids are never reused');
  });

  it('validates share names by the SMB rules', async () => {
    const store = openStore();
    for (const name of ['a/b', 'a\\b', 'a:b', 'a*b', 'a?b', 'a"b', 'a<b', 'a>b', 'a|b', 'tab\there', ' lead', 'trail ', 'IPC$', 'ipc$']) {
      await refusal(store.create(smbShares, { ...aShare, share_name: name }), 'InvalidName', /share_name/);
    }
    await refusal(store.create(smbShares, { ...aShare, share_name: 'x'.repeat(81) }), 'NameTooLong', /longer than 80/);
    await refusal(store.create(smbShares, { ...aShare, permissions: [{ type: 'ALLOWED', trustee: {}, rights: ['READ'] }] }), 'InvalidArgument', /trustee/);
    await refusal(store.create(smbShares, { ...aShare, permissions: [{ type: 'ALLOWED', trustee: { name: 'a', uid: 1 }, rights: ['READ'] }] }), 'InvalidArgument', /trustee/);
    await refusal(store.create(smbShares, { ...aShare, permissions: [{ type: 'ALLOWED', trustee: { sid: 'S-1-x' }, rights: ['READ'] }] }), 'InvalidArgument', /sid/);
    await refusal(store.create(smbShares, { ...aShare, permissions: [{ type: 'ALLOWED', trustee: { uid: 1 }, rights: ['WRITE'] }] }), 'InvalidArgument', /rights/);
    await refusal(store.create(smbShares, { ...aShare, network_permissions: [{ type: 'ALLOWED', address_ranges: ['host.example'], rights: ['READ'] }] }), 'InvalidArgument', /address_ranges\[0\]/);
    const hidden = await store.create(smbShares, { ...aShare, share_name: 'Backup$', permissions: [{ type: 'ALLOWED', trustee: { sid: 'S-1-5-21-1-2-3-1001' }, rights: ['FULL_CONTROL'] }] });
    assert.equal(hidden.value.require_encryption, true);
    assert.equal(hidden.value.access_based_enumeration, true);
  });

  it('tells listeners about each change after it commits, in order', async () => {
    const errors: unknown[] = [];
    const store = openStore((error) => errors.push(error));
    const seen: string[] = [];
    const stop = store.onChange(s3Settings, async (value, previous) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(`${previous.enabled}->${value.enabled}`);
    });
    store.onChange(s3Settings, () => {
      throw new Error('listener bug');
    });
    store.onCollectionChange(nfsExports, (event) => {
      seen.push(`${event.kind} ${event.id}`);
    });
    await Promise.all([store.put(s3Settings, { enabled: true }), store.put(s3Settings, { enabled: false })]);
    assert.deepEqual(seen, ['false->true', 'true->false']);
    assert.equal(errors.length, 2, 'a throwing listener is reported, and does not undo the change');
    await refusal(store.put(s3Settings, { enabled: 'no' }), 'InvalidArgument', /enabled/);
    assert.equal(seen.length, 2, 'a refused change notifies nobody');
    stop();
    await store.put(s3Settings, { enabled: true });
    assert.equal(seen.length, 2);
    const created = await store.create(nfsExports, anExport);
    await store.replace(nfsExports, created.id, anExport);
    await store.delete(nfsExports, created.id);
    assert.deepEqual(seen.slice(2), ['created 1', 'replaced 1', 'deleted 1']);
  });

  it('web UI settings answer the banner and whether login must acknowledge it', async () => {
    const webUi = new WebUiSettings(openStore());
    assert.equal(await webUi.bannerRequired(), false);
    assert.deepEqual(await webUi.loginBanner(), { enabled: false, text: '' });
    await webUi.put({ login_banner: { enabled: true, text: 'Authorised use only.' } });
    assert.equal(await webUi.bannerRequired(), true);
    assert.deepEqual(await webUi.loginBanner(), { enabled: true, text: 'Authorised use only.' });
    assert.equal((await webUi.get()).value.inactivity_timeout_minutes, 15);
  });
});
