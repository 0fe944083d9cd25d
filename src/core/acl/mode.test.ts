import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isFsError } from '../errors.js';
import { AceFlag, Right, type Ace } from './acl.js';
import { accessCheck } from './evaluate.js';
import { aclFromMode, applyMode, modeFromAcl } from './mode.js';
import { validateAcl } from './validate.js';
import { DAVE_UID, EVERYONE, GROUP, OWNER, OWNERSHIP, PRINCIPALS, aclOf, allow, deny } from './fixtures.test-support.js';

const R = Right.READ_DATA | Right.READ_NAMED_ATTRS;
const W = Right.WRITE_DATA | Right.APPEND_DATA | Right.WRITE_NAMED_ATTRS;
const X = Right.EXECUTE;
const dave = { kind: 'user', uid: DAVE_UID } as const;
const auditors = { kind: 'group-id', gid: 300 } as const;

describe('aclFromMode', () => {
  it('builds owner allow/deny, group allow/deny, everyone allow', () => {
    assert.deepEqual(aclFromMode(0o640, false), aclOf(allow(OWNER, R | W), deny(OWNER, X), allow(GROUP, R), deny(GROUP, W | X)));
  });

  it('puts DELETE_CHILD in w on directories only', () => {
    assert.deepEqual(aclFromMode(0o207, true), aclOf(allow(OWNER, W | Right.DELETE_CHILD), deny(OWNER, R | X), deny(GROUP, R | W | X | Right.DELETE_CHILD), allow(EVERYONE, R | W | X | Right.DELETE_CHILD)));
  });

  it('leaves out entries with empty masks (0o777 has no denies)', () => {
    assert.deepEqual(aclFromMode(0o777, false), aclOf(allow(OWNER, R | W | X), allow(GROUP, R | W | X), allow(EVERYONE, R | W | X)));
  });

  it('ignores setuid, setgid and sticky', () => {
    assert.deepEqual(aclFromMode(0o7755, true), aclFromMode(0o755, true));
  });

  it('refuses a mode outside 0..0o7777 with InvalidArgument', () => {
    for (const mode of [-1, 0o10000, 1.5, Number.NaN]) {
      assert.throws(() => aclFromMode(mode, false), (error: unknown) => isFsError(error, 'InvalidArgument'));
    }
  });
});

describe('modeFromAcl', () => {
  it('round-trips all 512 modes for files and directories', () => {
    for (const isDirectory of [false, true]) {
      for (let mode = 0; mode <= 0o777; mode += 1) {
        assert.equal(modeFromAcl(aclFromMode(mode, isDirectory), isDirectory), mode, `mode ${mode.toString(8)} dir=${isDirectory}`);
      }
    }
  });

  it('does not show named entries', () => {
    assert.equal(modeFromAcl(aclOf(allow(dave, R | W | X), allow(auditors, R)), false), 0);
  });

  it('shows a bit when any of its rights is granted (an upper bound)', () => {
    assert.equal(modeFromAcl(aclOf(allow(EVERYONE, Right.WRITE_DATA)), false), 0o222);
  });

  it('lets a group deny hide everyone rights from the group class only', () => {
    assert.equal(modeFromAcl(aclOf(deny(GROUP, W), allow(EVERYONE, R | W)), false), 0o646);
  });

  it('ignores inherit-only entries', () => {
    assert.equal(modeFromAcl(aclOf(allow(EVERYONE, R, AceFlag.INHERIT_ONLY | AceFlag.FILE_INHERIT)), false), 0);
  });
});

describe('applyMode', () => {
  it('replaces OWNER@/GROUP@/EVERYONE@ and masks named allows to the group class', () => {
    const before = aclOf(allow(OWNER, R | W | X), allow(dave, R | W | Right.DELETE | Right.WRITE_ACL), deny(auditors, W), allow(EVERYONE, R | W | X));
    const after = applyMode(before, 0o750, false);
    assert.deepEqual(after, aclOf(allow(OWNER, R | W | X), allow(dave, R), deny(auditors, W), allow(GROUP, R | X), deny(GROUP, W)));
    const daveWrites = accessCheck({ acl: after, owner: OWNERSHIP, principal: PRINCIPALS.dave, requested: Right.WRITE_DATA });
    assert.equal(daveWrites.allowed, false);
    const daveReads = accessCheck({ acl: after, owner: OWNERSHIP, principal: PRINCIPALS.dave, requested: Right.READ_DATA });
    assert.equal(daveReads.allowed, true);
  });

  it('drops named allows left with nothing and keeps the implicit rights in them', () => {
    const before = aclOf(allow(dave, W), allow(auditors, R | Right.READ_ATTRIBUTES | Right.SYNCHRONIZE));
    const after = applyMode(before, 0o700, false);
    assert.deepEqual(after, aclOf(allow(OWNER, R | W | X), allow(auditors, Right.READ_ATTRIBUTES | Right.SYNCHRONIZE), deny(GROUP, R | W | X)));
  });

  it('keeps inherit-only entries unchanged and splits inheritable ones', () => {
    const inheritOnly = allow(dave, R | W, AceFlag.INHERIT_ONLY | AceFlag.FILE_INHERIT);
    const inheritable = allow(EVERYONE, R | W, AceFlag.FILE_INHERIT | AceFlag.DIRECTORY_INHERIT);
    const inheritableNamed = allow(auditors, R | W, AceFlag.DIRECTORY_INHERIT);
    const after = applyMode(aclOf(inheritOnly, inheritable, inheritableNamed), 0o740, true);
    assert.deepEqual(after.entries, [
      allow(OWNER, R | W | X | Right.DELETE_CHILD),
      allow(auditors, R),
      allow(GROUP, R),
      deny(GROUP, W | X | Right.DELETE_CHILD),
      inheritOnly,
      allow(EVERYONE, R | W, AceFlag.FILE_INHERIT | AceFlag.DIRECTORY_INHERIT | AceFlag.INHERIT_ONLY),
      allow(auditors, R | W, AceFlag.DIRECTORY_INHERIT | AceFlag.INHERIT_ONLY),
    ]);
  });

  it('leaves an unchanged inheritable named entry whole', () => {
    const entry = allow(dave, R, AceFlag.FILE_INHERIT);
    assert.deepEqual(applyMode(aclOf(entry), 0o750, false).entries.filter((ace) => ace.trustee.kind === 'user'), [entry]);
  });

  it('locks the owner out with 0o077 even with a named entry for the owner', () => {
    const after = applyMode(aclOf(allow({ kind: 'user', uid: OWNERSHIP.uid }, R)), 0o077, false);
    assert.equal(accessCheck({ acl: after, owner: OWNERSHIP, principal: PRINCIPALS.alice, requested: Right.READ_DATA }).allowed, false);
  });

  it('shows exactly the new mode for any ACL, and its result validates (property)', () => {
    const trustee = fc.constantFrom<Ace['trustee']>(OWNER, GROUP, EVERYONE, dave, auditors);
    const ace = fc.record({
      type: fc.constantFrom('allow' as const, 'deny' as const),
      flags: fc.constantFrom(0, AceFlag.FILE_INHERIT, AceFlag.DIRECTORY_INHERIT | AceFlag.NO_PROPAGATE_INHERIT, AceFlag.INHERIT_ONLY | AceFlag.FILE_INHERIT, AceFlag.INHERITED),
      trustee,
      mask: fc.subarray(Object.values(Right)).map((bits) => bits.reduce((mask, bit) => mask | bit, 0)),
    });
    fc.assert(
      fc.property(fc.array(ace, { maxLength: 10 }), fc.integer({ min: 0, max: 0o7777 }), fc.boolean(), (entries, mode, isDirectory) => {
        const after = applyMode({ entries }, mode, isDirectory);
        assert.equal(modeFromAcl(after, isDirectory), mode & 0o777);
        validateAcl(after);
        const inheritOnlyBefore = entries.filter((entry) => (entry.flags & AceFlag.INHERIT_ONLY) !== 0);
        const inheritOnlyAfter = after.entries.filter((entry) => (entry.flags & AceFlag.INHERIT_ONLY) !== 0);
        for (const entry of inheritOnlyBefore) assert.ok(inheritOnlyAfter.includes(entry));
      }),
      { numRuns: 1_000 },
    );
  });
});
