import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileSystem } from '../../../core/file-system.js';
import { silentLogger } from '../../../core/testing/core-fixture.test-support.js';
import { compileRestrictions, parseNfsExport } from '../../../settings/nfs-exports.js';
import { FakeResolver } from '../testing/fake-resolver.test-support.js';
import { CallerGroups, type UserGroupsSource } from './caller-groups.js';
import { ClientNames } from './client-names.js';
import { admit, ExportTable, principalFor, type CallAdmission, type ServedExport } from './export-table.js';

function served(restrictions: unknown[], manageGids = false): ServedExport {
  const value = parseNfsExport({ export_path: '/e', fs_path: '/e', restrictions, manage_gids: manageGids });
  return { id: 1, path: '/e', fsPath: '/e', rules: compileRestrictions(value), manageGids: value.manage_gids };
}

/** An export table over no exports: admitCall takes the served export it is given. */
function tableWith(options: { resolver?: FakeResolver; userGroups?: UserGroupsSource; clock?: { now: number } } = {}): ExportTable {
  const nowMs = () => options.clock?.now ?? 0;
  return new ExportTable({
    source: { list: async () => [] },
    // Admission never touches the file system (only rootOf does).
    fileSystem: {} as FileSystem,
    logger: silentLogger,
    clientNames: new ClientNames({ resolver: options.resolver ?? new FakeResolver({}, {}), nowMs, logger: silentLogger, limits: { lookupTimeoutMs: 50 } }),
    callerGroups: new CallerGroups({ source: options.userGroups, nowMs }),
  });
}

function principalOf(admission: CallAdmission): unknown {
  assert.equal(admission.admitted, true, JSON.stringify(admission));
  return admission.admitted ? admission.principal : undefined;
}

const sys = (uid: number, gid = uid, gids: number[] = []) => ({ flavor: 'sys' as const, stamp: 0, machineName: 'm', uid, gid, gids });

describe('NFS export rules', () => {
  it('the first matching rule decides; no rule admits nobody', () => {
    const table = served([
      { host_restrictions: ['10.0.0.5'], read_only: true, require_privileged_port: false },
      { host_restrictions: ['10.0.0.0/8'], require_privileged_port: false },
    ]);
    const first = admit(table, { address: '10.0.0.5', port: 2000 });
    assert.equal(first.admitted && first.restriction.read_only, true);
    const second = admit(table, { address: '10.1.2.3', port: 2000 });
    assert.equal(second.admitted && second.restriction.read_only, false);
    assert.deepEqual(admit(table, { address: '192.0.2.1', port: 700 }), { admitted: false, reason: 'no-rule-matches' });
    assert.deepEqual(admit(served([]), { address: '10.0.0.5', port: 700 }), { admitted: false, reason: 'no-rule-matches' });
  });

  it('privileged ports are required by default', () => {
    const table = served([{ host_restrictions: ['127.0.0.1'] }]);
    assert.deepEqual(admit(table, { address: '127.0.0.1', port: 40000 }), { admitted: false, reason: 'unprivileged-port' });
    assert.equal(admit(table, { address: '127.0.0.1', port: 1023 }).admitted, true);
  });

  it('root is squashed by default, ALL squashes everyone, NONE trusts uid 0 as superuser, AUTH_NONE is nobody', () => {
    const [rootRule] = served([{ host_restrictions: ['127.0.0.1'] }]).rules;
    const [allRule] = served([{ host_restrictions: ['127.0.0.1'], user_mapping: 'ALL', map_to_uid: 500, map_to_gid: 501 }]).rules;
    const [noneRule] = served([{ host_restrictions: ['127.0.0.1'], user_mapping: 'NONE' }]).rules;
    assert.ok(rootRule && allRule && noneRule);
    assert.deepEqual(principalFor(rootRule.restriction, sys(0)), { uid: 65534, gids: [65534] });
    assert.deepEqual(principalFor(rootRule.restriction, sys(1000, 100, [5, 100])), { uid: 1000, gids: [100, 5] });
    assert.deepEqual(principalFor(allRule.restriction, sys(1000)), { uid: 500, gids: [501] });
    assert.deepEqual(principalFor(noneRule.restriction, sys(0)), { uid: 0, gids: [0], superuser: true });
    assert.deepEqual(principalFor(noneRule.restriction, { flavor: 'none' }), { uid: 65534, gids: [65534] });
    assert.equal(principalFor(rootRule.restriction, sys(0)).superuser, undefined);
  });

  it('a hostname rule matches a forward-confirmed name, case-insensitively, with a one-level wildcard', () => {
    const table = served([
      { host_restrictions: ['Build.Example.org'], require_privileged_port: false },
      { host_restrictions: ['*.lab.example.org'], read_only: true, require_privileged_port: false },
    ]);
    const client = { address: '192.0.2.10', port: 2000 };
    const exact = admit(table, client, ['build.example.org']);
    assert.equal(exact.admitted && exact.restriction.read_only, false);
    const wild = admit(table, client, ['node1.lab.example.org']);
    assert.equal(wild.admitted && wild.restriction.read_only, true);
    assert.equal(admit(table, client, ['a.node1.lab.example.org']).admitted, false, 'the wildcard is one level');
    assert.equal(admit(table, client, ['lab.example.org']).admitted, false);
    assert.equal(admit(table, client).admitted, false, 'no names, no hostname match');
  });

  it('admitCall looks names up only when a hostname rule comes before any address match, once per address', async () => {
    const resolver = new FakeResolver({ '192.0.2.10': ['build.example.org'], '10.0.0.9': ['other.example.org'] }, { 'build.example.org': ['192.0.2.10'], 'other.example.org': ['10.0.0.9'] });
    const table = tableWith({ resolver });
    const addressFirst = served([{ host_restrictions: ['10.0.0.0/8'], require_privileged_port: false }, { host_restrictions: ['build.example.org'], require_privileged_port: false }]);
    const sync = table.admitCall(addressFirst, { address: '10.0.0.9', port: 2000 }, sys(1000));
    assert.ok(!(sync instanceof Promise), 'address rules decide synchronously');
    assert.deepEqual(resolver.queries, []);

    const hostnameFirst = served([{ host_restrictions: ['build.example.org'], read_only: true, require_privileged_port: false }, { host_restrictions: ['192.0.2.0/24'], require_privileged_port: false }]);
    const first = await table.admitCall(hostnameFirst, { address: '192.0.2.10', port: 2000 }, sys(1000));
    assert.equal(first.admitted && first.restriction.read_only, true, 'the earlier hostname rule decides');
    for (let call = 0; call < 50; call++) {
      const again = table.admitCall(hostnameFirst, { address: '192.0.2.10', port: 2000 }, sys(1000));
      assert.ok(!(again instanceof Promise), 'a cached name decides synchronously');
    }
    const other = await table.admitCall(hostnameFirst, { address: '10.0.0.9', port: 2000 }, sys(1000));
    assert.deepEqual(other, { admitted: false, reason: 'no-rule-matches' });
    assert.deepEqual(resolver.queries, ['PTR 192.0.2.10', 'A build.example.org', 'PTR 10.0.0.9', 'A other.example.org']);
  });

  it('address answers remembered by one compiled export never decide for a changed export, nor for other addresses', () => {
    const table = tableWith();
    const decided = (exported: ServedExport, address: string) => {
      const admission = table.admitCall(exported, { address, port: 2000 }, sys(1000));
      assert.ok(!(admission instanceof Promise));
      return admission.admitted ? (admission.restriction.read_only ?? false) : 'refused';
    };
    const before = served([{ host_restrictions: ['10.0.0.0/8'], require_privileged_port: false }]);
    // Past the remembered-address bound, so the table also forgets and asks again.
    for (let host = 0; host < 5_000; host++) assert.equal(decided(before, `10.0.${host >> 8}.${host & 255}`), false);
    assert.equal(decided(before, '192.0.2.1'), 'refused');
    assert.equal(decided(before, '10.0.0.1'), false);
    // The same export after a change (the table compiles its rules anew on reload).
    const after = served([{ host_restrictions: ['192.0.2.0/24'], require_privileged_port: false }, { host_restrictions: ['10.0.0.0/8'], read_only: true, require_privileged_port: false }]);
    assert.equal(decided(after, '10.0.0.1'), true, 'the new rules decide, read-only now');
    assert.equal(decided(after, '192.0.2.1'), false);
    assert.equal(decided(before, '192.0.2.1'), 'refused');
  });

  it('a hostname rule does not match when the PTR name does not resolve back, or DNS does not answer in time', async () => {
    const resolver = new FakeResolver({ '198.51.100.7': ['build.example.org'] }, { 'build.example.org': ['192.0.2.10'] });
    resolver.hanging.add('198.51.100.8');
    const table = tableWith({ resolver });
    const rules = served([{ host_restrictions: ['build.example.org'], require_privileged_port: false }]);
    assert.deepEqual(await table.admitCall(rules, { address: '198.51.100.7', port: 2000 }, sys(1000)), { admitted: false, reason: 'no-rule-matches' });
    assert.deepEqual(await table.admitCall(rules, { address: '198.51.100.8', port: 2000 }, sys(1000)), { admitted: false, reason: 'no-rule-matches' });
  });

  it('manage_gids: a known uid gets its identity groups after the credential gid; unknown uids and exports without it keep the client list', async () => {
    const lookups: number[] = [];
    const userGroups: UserGroupsSource = {
      gidsOfUid: async (uid) => {
        lookups.push(uid);
        return uid === 3000 ? [100, ...Array.from({ length: 20 }, (_, index) => 5001 + index)] : undefined;
      },
    };
    const clock = { now: 0 };
    const table = tableWith({ userGroups, clock });
    const client = { address: '127.0.0.1', port: 700 };
    const rule = [{ host_restrictions: ['127.0.0.1'] }];
    const sent = sys(3000, 7, [5001, 5002]);
    const managed = principalOf(await table.admitCall(served(rule, true), client, sent)) as { gids: number[] };
    assert.deepEqual(managed.gids, [7, 100, ...Array.from({ length: 20 }, (_, index) => 5001 + index)]);
    assert.deepEqual(principalOf(await table.admitCall(served(rule, false), client, sent)), { uid: 3000, gids: [7, 5001, 5002] });
    assert.deepEqual(principalOf(await table.admitCall(served(rule, true), client, sys(4000, 7, [9]))), { uid: 4000, gids: [7, 9] });
    const cached = table.admitCall(served(rule, true), client, sent);
    assert.ok(!(cached instanceof Promise), 'cached groups decide synchronously');
    assert.deepEqual(lookups, [3000, 4000]);
    clock.now += 30_000;
    await table.admitCall(served(rule, true), client, sent);
    assert.deepEqual(lookups, [3000, 4000, 3000], 'groups are read again after 30 s');
  });

  it('manage_gids applies after squashing: squashed callers keep only the anonymous gid', async () => {
    let lookups = 0;
    const table = tableWith({ userGroups: { gidsOfUid: async () => (lookups++, [100, 5001]) } });
    const client = { address: '127.0.0.1', port: 700 };
    const squashAll = served([{ host_restrictions: ['127.0.0.1'], user_mapping: 'ALL', map_to_uid: 3000, map_to_gid: 501 }], true);
    assert.deepEqual(principalOf(await table.admitCall(squashAll, client, sys(3000, 7, [5001]))), { uid: 3000, gids: [501] });
    const rootSquash = served([{ host_restrictions: ['127.0.0.1'] }], true);
    assert.deepEqual(principalOf(await table.admitCall(rootSquash, client, sys(0, 0, [5001]))), { uid: 65534, gids: [65534] });
    assert.deepEqual(principalOf(await table.admitCall(rootSquash, client, { flavor: 'none' })), { uid: 65534, gids: [65534] });
    assert.equal(lookups, 0);
  });
});
