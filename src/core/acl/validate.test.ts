import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFsError } from '../errors.js';
import { ACL_ENTRIES_MAX, AceFlag, Right, type Ace, type Acl } from './acl.js';
import { canonicalOrder, isCanonical, isValidSid, validateAcl } from './validate.js';
import { DAVE_SID, EVERYONE, OWNER, aclOf, allow, deny } from './fixtures.test-support.js';

function refused(acl: Acl, pattern: RegExp): void {
  assert.throws(
    () => validateAcl(acl),
    (error: unknown) => isFsError(error, 'InvalidArgument') && pattern.test(error.message),
  );
}

/** Builds an entry the types would not allow, as a decoder of untrusted input might. */
function untyped(entry: Record<string, unknown>): Ace {
  return entry as unknown as Ace;
}

describe('validateAcl refuses', () => {
  it('more than ACL_ENTRIES_MAX entries', () => {
    refused({ entries: Array.from({ length: ACL_ENTRIES_MAX + 1 }, () => allow(EVERYONE, Right.READ_DATA)) }, /more than 1000/);
  });
  it('unknown mask bits', () => refused(aclOf(allow(EVERYONE, Right.READ_DATA | 0x200)), /entry 0: unknown rights 0x200/));
  it('a mask that is not an unsigned 32-bit integer', () => refused(aclOf(allow(EVERYONE, -1)), /mask/));
  it('unknown flags', () => refused(aclOf(allow(EVERYONE, Right.READ_DATA), allow(EVERYONE, Right.READ_DATA, 0x40)), /entry 1: unknown flags 0x40/));
  it('an unknown entry type', () => refused(aclOf(untyped({ type: 'audit', flags: 0, trustee: EVERYONE, mask: 0 })), /unknown type/));
  it('an unknown trustee kind', () => refused(aclOf(untyped({ type: 'allow', flags: 0, trustee: { kind: 'creator' }, mask: 0 })), /unknown trustee kind/));
  it('a missing trustee', () => refused(aclOf(untyped({ type: 'allow', flags: 0, mask: 0 })), /missing trustee/));
  it('a user with neither uid nor SID', () => refused(aclOf(allow({ kind: 'user' }, Right.READ_DATA)), /needs a uid or a SID/));
  it('a group with neither gid nor SID', () => refused(aclOf(allow({ kind: 'group-id' }, Right.READ_DATA)), /needs a gid or a SID/));
  it('a negative uid', () => refused(aclOf(allow({ kind: 'user', uid: -1 }, Right.READ_DATA)), /invalid uid/));
  it('a non-integer uid', () => refused(aclOf(allow({ kind: 'user', uid: 1.5 }, Right.READ_DATA)), /invalid uid/));
  it('a uid beyond 32 bits', () => refused(aclOf(allow({ kind: 'user', uid: 2 ** 32 }, Right.READ_DATA)), /invalid uid/));
  it('a negative gid', () => refused(aclOf(allow({ kind: 'group-id', gid: -5 }, Right.READ_DATA)), /invalid gid/));
  it('a malformed user SID', () => refused(aclOf(allow({ kind: 'user', sid: 'S-1-5-abc' }, Right.READ_DATA)), /invalid SID/));
  it('a malformed group SID', () => refused(aclOf(allow({ kind: 'group-id', sid: 'S-2-5-32-544' }, Right.READ_DATA)), /invalid SID/));
  it('entries that are not a list', () => refused(untyped({}) as unknown as Acl, /must be a list/));
});

describe('validateAcl accepts', () => {
  it('a full valid ACL and returns a copy without unknown fields', () => {
    const entry = { ...allow({ kind: 'user', uid: 0, sid: DAVE_SID, extra: 1 } as unknown as Ace['trustee'], Right.READ_DATA, AceFlag.INHERITED | AceFlag.FILE_INHERIT), comment: 'x' };
    const acl = aclOf(entry, deny(OWNER, Right.WRITE_DATA), allow({ kind: 'group-id', gid: 4294967295 }, 0));
    assert.deepEqual(validateAcl(acl), aclOf(allow({ kind: 'user', uid: 0, sid: DAVE_SID }, Right.READ_DATA, AceFlag.INHERITED | AceFlag.FILE_INHERIT), deny(OWNER, Right.WRITE_DATA), allow({ kind: 'group-id', gid: 4294967295 }, 0)));
  });
  it('exactly ACL_ENTRIES_MAX entries', () => {
    assert.equal(validateAcl({ entries: Array.from({ length: ACL_ENTRIES_MAX }, () => allow(EVERYONE, 0)) }).entries.length, ACL_ENTRIES_MAX);
  });
});

describe('isValidSid', () => {
  const cases: Array<[string, boolean]> = [
    ['S-1-1-0', true],
    ['S-1-5-32-544', true],
    ['S-1-5-21-3623811015-3361044348-30300820-1013', true],
    ['S-1-5', true],
    ['S-1-5-4294967295', true],
    ['S-1-5-4294967296', false],
    ['S-1-281474976710656-1', false],
    ['s-1-5-32-544', false],
    ['S-1-5-', false],
    ['S-1-5--1', false],
    ['S-1-0x5-1', false],
    ['', false],
    [`S-1-5${'-1'.repeat(16)}`, false],
    [`S-1-5${'-1'.repeat(15)}`, true],
  ];
  for (const [sid, valid] of cases) it(`${JSON.stringify(sid)} is ${valid ? 'valid' : 'invalid'}`, () => assert.equal(isValidSid(sid), valid));
});

describe('canonicalOrder', () => {
  it('orders explicit deny, explicit allow, inherited deny, inherited allow, stably', () => {
    const a = allow(EVERYONE, 1, AceFlag.INHERITED);
    const b = deny(EVERYONE, 2, AceFlag.INHERITED);
    const c = allow(OWNER, 4);
    const d = deny(OWNER, 8);
    const e = allow(OWNER, 16);
    const f = deny(OWNER, 32);
    const ordered = canonicalOrder(aclOf(a, b, c, d, e, f));
    assert.deepEqual(ordered, aclOf(d, f, c, e, b, a));
    assert.equal(isCanonical(aclOf(a, b, c, d, e, f)), false);
    assert.equal(isCanonical(ordered), true);
  });
});
