import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRestrictions, parseNfsExport } from '../../../settings/nfs-exports.js';
import { admit, principalFor, type ServedExport } from './export-table.js';

function served(restrictions: unknown[]): ServedExport {
  const value = parseNfsExport({ export_path: '/e', fs_path: '/e', restrictions });
  return { id: 1, path: '/e', fsPath: '/e', rules: compileRestrictions(value) };
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
});
