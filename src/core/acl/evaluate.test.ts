import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Principal } from '../context.js';
import { ALL_RIGHTS, AceFlag, Right, type Ace, type Acl, type Trustee } from './acl.js';
import { accessCheck, explainAccess, IMPLICIT_EVERYONE_RIGHTS } from './evaluate.js';
import { EVERYONE, OWNER, OWNERSHIP, PRINCIPALS, aclOf, allow, deny } from './fixtures.test-support.js';

describe('explainAccess', () => {
  it('names the entry and its index that decided each right', () => {
    const acl = aclOf(allow(OWNER, Right.READ_DATA), deny(EVERYONE, Right.WRITE_DATA), allow(EVERYONE, Right.WRITE_DATA));
    const explanation = explainAccess({ acl, owner: OWNERSHIP, principal: PRINCIPALS.carol, requested: Right.READ_DATA | Right.WRITE_DATA });
    assert.equal(explanation.allowed, false);
    assert.deepEqual(explanation.rights, [
      { right: 'READ_DATA', bit: Right.READ_DATA, granted: false, decidedBy: { kind: 'no-entry' } },
      { right: 'WRITE_DATA', bit: Right.WRITE_DATA, granted: false, decidedBy: { kind: 'entry', index: 1, entry: acl.entries[1] } },
    ]);
  });

  it('reports implicit owner and everyone rights and the superuser', () => {
    const acl = aclOf(deny(EVERYONE, ALL_RIGHTS));
    const owner = explainAccess({ acl, owner: OWNERSHIP, principal: PRINCIPALS.alice, requested: Right.WRITE_ACL | Right.READ_ATTRIBUTES });
    assert.deepEqual(
      owner.rights.map((row) => [row.right, row.granted, row.decidedBy.kind]),
      [
        ['READ_ATTRIBUTES', true, 'implicit-everyone-right'],
        ['WRITE_ACL', true, 'implicit-owner-right'],
      ],
    );
    const root = explainAccess({ acl, owner: OWNERSHIP, principal: PRINCIPALS.root, requested: Right.DELETE });
    assert.deepEqual(root.rights.map((row) => row.decidedBy.kind), ['superuser']);
  });

  it('explains every right when none is requested explicitly', () => {
    const explanation = explainAccess({ acl: aclOf(), owner: OWNERSHIP, principal: PRINCIPALS.carol });
    assert.equal(explanation.rights.length, Object.keys(Right).length);
    assert.equal(explanation.granted, IMPLICIT_EVERYONE_RIGHTS);
  });
});

describe('accessCheck', () => {
  it('crashes on a requested bit that is not a right (a programmer error)', () => {
    assert.throws(() => accessCheck({ acl: aclOf(), owner: OWNERSHIP, principal: PRINCIPALS.alice, requested: 0x200 }), /unknown rights/);
  });

  it('returns the granted subset of a partly refused request', () => {
    const acl = aclOf(allow(EVERYONE, Right.READ_DATA));
    const result = accessCheck({ acl, owner: OWNERSHIP, principal: PRINCIPALS.carol, requested: Right.READ_DATA | Right.WRITE_DATA });
    assert.deepEqual(result, { granted: Right.READ_DATA, allowed: false });
  });
});

/** A per-bit reference model of RFC 8881 §6.2.1, written independently of the mask loop. */
function referenceGranted(acl: Acl, principal: Principal, requested: number): number {
  if (principal.superuser === true) return requested;
  const owns = principal.uid === OWNERSHIP.uid || (principal.sid !== undefined && principal.sid === OWNERSHIP.ownerSid);
  const matches = (trustee: Trustee): boolean => {
    if (trustee.kind === 'everyone') return true;
    if (trustee.kind === 'owner') return owns;
    if (trustee.kind === 'group') return principal.gids.includes(OWNERSHIP.gid) || (principal.groupSids ?? []).includes(OWNERSHIP.groupSid ?? '-');
    if (trustee.kind === 'user') return trustee.uid === principal.uid || (trustee.sid !== undefined && trustee.sid === principal.sid);
    return (trustee.gid !== undefined && principal.gids.includes(trustee.gid)) || (trustee.sid !== undefined && (principal.groupSids ?? []).includes(trustee.sid));
  };
  let granted = 0;
  for (const bit of Object.values(Right)) {
    if ((requested & bit) === 0) continue;
    const implicit = IMPLICIT_EVERYONE_RIGHTS | (owns ? Right.READ_ACL | Right.WRITE_ACL | Right.WRITE_ATTRIBUTES : 0);
    const decider = acl.entries.find((ace) => (ace.flags & AceFlag.INHERIT_ONLY) === 0 && (ace.mask & bit) !== 0 && matches(ace.trustee));
    if ((implicit & bit) !== 0 || decider?.type === 'allow') granted |= bit;
  }
  return granted;
}

const rightsArbitrary = fc.subarray(Object.values(Right)).map((bits) => bits.reduce((mask, bit) => mask | bit, 0));
const trusteeArbitrary: fc.Arbitrary<Trustee> = fc.oneof(
  fc.constant({ kind: 'owner' } as const),
  fc.constant({ kind: 'group' } as const),
  fc.constant({ kind: 'everyone' } as const),
  fc.constantFrom(1000, 1001, 1002, 1004).map((uid) => ({ kind: 'user', uid }) as const),
  fc.constantFrom(PRINCIPALS.dave.sid, PRINCIPALS.bobBySid.sid).map((sid) => ({ kind: 'user', sid }) as const),
  fc.constantFrom(100, 300, 1002).map((gid) => ({ kind: 'group-id', gid }) as const),
  fc.constantFrom(...PRINCIPALS.erinBySid.groupSids, ...PRINCIPALS.bobBySid.groupSids).map((sid) => ({ kind: 'group-id', sid }) as const),
);
const aceArbitrary: fc.Arbitrary<Ace> = fc.record({
  type: fc.constantFrom('allow' as const, 'deny' as const),
  flags: fc.constantFrom(0, AceFlag.INHERIT_ONLY | AceFlag.FILE_INHERIT, AceFlag.INHERITED, AceFlag.DIRECTORY_INHERIT),
  trustee: trusteeArbitrary,
  mask: rightsArbitrary,
});

describe('accessCheck and explainAccess against a reference model', () => {
  it('agree with each other and with the per-bit model for random ACLs and principals', () => {
    fc.assert(
      fc.property(fc.array(aceArbitrary, { maxLength: 12 }), fc.constantFrom(...Object.values(PRINCIPALS)), rightsArbitrary, (entries, principal, requested) => {
        const acl = { entries };
        const fast = accessCheck({ acl, owner: OWNERSHIP, principal, requested });
        const explained = explainAccess({ acl, owner: OWNERSHIP, principal, requested });
        const expected = referenceGranted(acl, principal, requested);
        assert.equal(fast.granted, expected);
        assert.equal(explained.granted, expected);
        assert.equal(fast.allowed, expected === requested);
        assert.equal(explained.allowed, fast.allowed);
      }),
      { numRuns: 2_000 },
    );
  });
});
