import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { networkRules } from '../settings/network-rules.js';
import { nfsExports } from '../settings/nfs-exports.js';
import { ftpSettings, nfsSettings, s3Settings, smbSettings } from '../settings/protocol-settings.js';
import { SettingsStore } from '../settings/settings-store.js';
import { smbShares } from '../settings/smb-shares.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { longestGapSeconds } from '../snapshots/schedule.js';
import { evaluatePosture, POSTURE_CHECK_IDS, type PostureInputs, type PostureReport } from './posture.js';
import { settingsPostureInputs } from './posture-inputs.js';

const NOW = new Date('2025-06-01T00:00:00Z');
const DAY_MS = 86_400_000;

function statuses(report: PostureReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((check) => [check.id, check.status]));
}

/** Every optional feature present and configured well. */
function configuredFeatures(): Omit<PostureInputs, keyof ReturnType<typeof settingsPostureInputs>> {
  return {
    roleHoldersBeyondAdmin: async () => 2,
    mfaRequired: async () => true,
    rootQuotaBytes: async () => 10 ** 12,
    enabledAuditSinks: async () => 1,
    auditDelivery: async () => ({ droppedEvents: 0, sinks: [{ id: 'tls-siem.example.com-6514', connected: true, backlogMessages: 3 }] }),
    ecdsaKeys: async () => 1,
    snapshotPolicies: async () => [{ sourcePath: '/', intervalSeconds: 86_400, retentionSeconds: 30 * 86_400, locked: true, enabled: true }],
    replicas: async () => 1,
    tlsCertificate: async () => ({ selfSigned: false, notAfter: new Date(NOW.getTime() + 90 * DAY_MS) }),
    directoryJoined: async () => true,
    now: () => NOW,
  };
}

describe('security posture', () => {
  it('a locked policy on / that skips days is not a daily snapshot policy: a Monday-only one fails the check', async () => {
    const policyOn = (schedule: Parameters<typeof longestGapSeconds>[0]) => async () => [{ sourcePath: '/', intervalSeconds: longestGapSeconds(schedule), retentionSeconds: 30 * 86_400, locked: true, enabled: true }];
    const store = new SettingsStore({ metadata: new MemoryMetadataStore() });
    const check = async (schedule: Parameters<typeof longestGapSeconds>[0]) =>
      statuses(await evaluatePosture({ ...settingsPostureInputs(store), ...configuredFeatures(), snapshotPolicies: policyOn(schedule) }))['daily-locked-snapshot-policy'];
    assert.equal(await check({ daily: { at: '02:00' } }), 'pass');
    assert.equal(await check({ daily: { at: '02:00', days: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] } }), 'pass');
    assert.equal(await check({ daily: { at: '02:00', days: ['MON'] } }), 'fail');
    assert.equal(await check({ every: { hours: 1 }, days: ['MON'] }), 'fail');
    assert.equal(await check({ every: { hours: 4 }, days: ['MON', 'TUE', 'WED', 'THU', 'FRI'] }), 'fail');
    assert.equal(await check({ every: { hours: 1 }, window: { start: '09:00', end: '17:00' } }), 'pass');
  });

  it('every check has a stable kebab-case id, a title and a fix', async () => {
    const report = await evaluatePosture(settingsPostureInputs(new SettingsStore({ metadata: new MemoryMetadataStore() })));
    assert.deepEqual(report.checks.map((check) => check.id), POSTURE_CHECK_IDS);
    assert.equal(new Set(POSTURE_CHECK_IDS).size, POSTURE_CHECK_IDS.length);
    for (const check of report.checks) {
      assert.match(check.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      assert.ok(check.title.length > 0 && check.fix.length > 0 && check.detail.length > 0, check.id);
    }
    assert.equal(report.summary.total, report.checks.length);
    assert.equal(report.summary.pass + report.summary.fail + report.summary.not_applicable + report.summary.not_available, report.summary.total);
  });

  it('a fresh instance: open network, features not built yet say not_available, secure defaults pass', async () => {
    const report = await evaluatePosture(settingsPostureInputs(new SettingsStore({ metadata: new MemoryMetadataStore() })));
    assert.deepEqual(statuses(report), {
      'network-rules': 'fail',
      'directory-service': 'not_available',
      'default-shares-exports-removed': 'pass',
      'audit-to-siem': 'not_available',
      'audit-delivery': 'not_available',
      'root-quota': 'not_available',
      'rbac-beyond-admin': 'not_available',
      'mfa-required': 'not_available',
      'shares-require-encryption': 'not_applicable',
      'exports-require-kerberos': 'not_applicable',
      'nfsv3-restricted': 'not_applicable',
      'ftp-disabled-or-tls': 'pass',
      's3-disabled-or-secure': 'pass',
      'ecdsa-key-registered': 'not_available',
      'daily-locked-snapshot-policy': 'not_available',
      'replica-configured': 'not_available',
      'tls-certificate': 'not_available',
    });
    const audit = report.checks.find((check) => check.id === 'audit-to-siem');
    assert.match(audit?.detail ?? '', /not available in this version/);
  });

  it('a fresh instance with every feature present but unconfigured fails them', async () => {
    const inputs: PostureInputs = {
      ...settingsPostureInputs(new SettingsStore({ metadata: new MemoryMetadataStore() })),
      roleHoldersBeyondAdmin: async () => 0,
      mfaRequired: async () => false,
      rootQuotaBytes: async () => undefined,
      enabledAuditSinks: async () => 0,
      ecdsaKeys: async () => 0,
      snapshotPolicies: async () => [{ sourcePath: '/', intervalSeconds: 86_400, retentionSeconds: 7 * 86_400, locked: true, enabled: true }],
      replicas: async () => 0,
      tlsCertificate: async () => ({ selfSigned: true, notAfter: new Date(NOW.getTime() + 365 * DAY_MS) }),
      directoryJoined: async () => false,
      now: () => NOW,
    };
    const result = statuses(await evaluatePosture(inputs));
    for (const id of ['network-rules', 'audit-to-siem', 'root-quota', 'rbac-beyond-admin', 'mfa-required', 'ecdsa-key-registered', 'daily-locked-snapshot-policy', 'replica-configured', 'tls-certificate', 'directory-service']) {
      assert.equal(result[id], 'fail', id);
    }
  });

  it('a configured instance passes, and the insecure choices fail with a fix', async () => {
    const store = new SettingsStore({ metadata: new MemoryMetadataStore() });
    await store.put(networkRules, { services: { api: { allow: ['10.0.0.0/24'] }, nfs: { allow: ['10.0.1.0/24'] }, smb: { allow: ['10.0.2.0/24'] } } });
    await store.put(nfsSettings, { enabled: true });
    await store.put(smbSettings, { enabled: true });
    await store.create(nfsExports, { export_path: '/projects', fs_path: '/projects', restrictions: [{ host_restrictions: ['10.0.1.0/24', 'build.example.com'] }] });
    await store.create(smbShares, { share_name: 'Projects', fs_path: '/projects' });
    const inputs: PostureInputs = { ...settingsPostureInputs(store), ...configuredFeatures() };
    const good = statuses(await evaluatePosture(inputs));
    for (const id of POSTURE_CHECK_IDS) {
      if (id === 'exports-require-kerberos') assert.equal(good[id], 'not_available');
      else assert.equal(good[id], 'pass', id);
    }

    await store.put(s3Settings, { enabled: true, secure: false });
    await store.put(ftpSettings, { enabled: true, allow_anonymous: true });
    await store.put(smbSettings, { encryption_required: false });
    await store.create(smbShares, { share_name: 'Everything', fs_path: '/', require_encryption: false });
    await store.create(nfsExports, { export_path: '/all', fs_path: '/home', restrictions: [{ host_restrictions: ['10.0.0.0/16'] }] });
    const expiring = { ...configuredFeatures(), tlsCertificate: async () => ({ selfSigned: false, notAfter: new Date(NOW.getTime() + 10 * DAY_MS) }) };
    const report = await evaluatePosture({ ...settingsPostureInputs(store), ...expiring });
    const bad = statuses(report);
    for (const id of ['network-rules', 's3-disabled-or-secure', 'ftp-disabled-or-tls', 'shares-require-encryption', 'default-shares-exports-removed', 'nfsv3-restricted', 'tls-certificate']) {
      assert.equal(bad[id], 'fail', id);
    }
    const network = report.checks.find((check) => check.id === 'network-rules');
    assert.match(network?.detail ?? '', /s3, ftp/);
    assert.match(report.checks.find((check) => check.id === 'nfsv3-restricted')?.detail ?? '', /\/all/);
    assert.match(report.checks.find((check) => check.id === 'shares-require-encryption')?.fix ?? '', /encryption_required: true/);
  });

  it('a getter that fails makes its check fail with the reason, and the others still run', async () => {
    const inputs: PostureInputs = {
      ...settingsPostureInputs(new SettingsStore({ metadata: new MemoryMetadataStore() })),
      mfaRequired: async () => {
        throw new Error('session store unavailable');
      },
    };
    const report = await evaluatePosture(inputs);
    const mfa = report.checks.find((check) => check.id === 'mfa-required');
    assert.equal(mfa?.status, 'fail');
    assert.match(mfa?.detail ?? '', /session store unavailable/);
    assert.equal(report.checks.length, POSTURE_CHECK_IDS.length);
  });

  it('audit-delivery fails on dropped events and on a sink disconnected with a backlog for more than 15 minutes', async () => {
    const base = settingsPostureInputs(new SettingsStore({ metadata: new MemoryMetadataStore() }));
    const check = async (facts: Awaited<ReturnType<NonNullable<PostureInputs['auditDelivery']>>>) =>
      (await evaluatePosture({ ...base, auditDelivery: async () => facts })).checks.find((item) => item.id === 'audit-delivery');
    assert.equal((await check({ droppedEvents: 0, sinks: [] }))?.status, 'pass');
    const dropped = await check({ droppedEvents: 7, sinks: [] });
    assert.equal(dropped?.status, 'fail');
    assert.match(dropped?.detail ?? '', /7 audit event\(s\) were dropped/);
    // Disconnected briefly, or long but with nothing waiting: fine.
    assert.equal((await check({ droppedEvents: 0, sinks: [{ id: 's', connected: false, backlogMessages: 500, disconnectedForMs: 60_000 }] }))?.status, 'pass');
    assert.equal((await check({ droppedEvents: 0, sinks: [{ id: 's', connected: false, backlogMessages: 0, disconnectedForMs: 3_600_000 }] }))?.status, 'pass');
    const stuck = await check({ droppedEvents: 0, sinks: [{ id: 'tcp-siem-514', connected: false, backlogMessages: 500, disconnectedForMs: 16 * 60_000 }] });
    assert.equal(stuck?.status, 'fail');
    assert.match(stuck?.detail ?? '', /sink tcp-siem-514 has been disconnected for 16 minutes with 500 message\(s\) waiting/);
  });
});
