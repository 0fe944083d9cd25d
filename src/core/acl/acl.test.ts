import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AceFlag, Right, type Acl, type Ownership } from './acl.js';
import { accessCheck } from './evaluate.js';
import { aclFromMode } from './mode.js';
import {
  AUDITORS_GID,
  AUDITORS_SID,
  DAVE_SID,
  DAVE_UID,
  EVERYONE,
  GROUP,
  OWNER,
  OWNERSHIP,
  PRINCIPALS,
  aclOf,
  allow,
  deny,
  type PrincipalName,
} from './fixtures.test-support.js';

/**
 * The permission matrix: who gets what under which ACL. Each row is one access check; `mode` rows
 * go through `aclFromMode`, so they also pin down the POSIX mapping.
 */
interface Row {
  readonly description: string;
  readonly acl?: Acl;
  readonly mode?: number;
  readonly isDirectory?: boolean;
  readonly owner?: Ownership;
  readonly principal: PrincipalName;
  readonly requested: number;
  readonly expected: boolean;
}

const { READ_DATA, WRITE_DATA, APPEND_DATA, EXECUTE, DELETE_CHILD, DELETE, READ_ATTRIBUTES, WRITE_ATTRIBUTES, READ_ACL, WRITE_ACL, WRITE_OWNER, SYNCHRONIZE } = Right;
const dave = { kind: 'user', uid: DAVE_UID } as const;
const daveBySid = { kind: 'user', sid: DAVE_SID } as const;
const auditors = { kind: 'group-id', gid: AUDITORS_GID } as const;
const auditorsBySid = { kind: 'group-id', sid: AUDITORS_SID } as const;

const MODE_ROWS: Row[] = [
  { description: '0o755: owner reads', mode: 0o755, principal: 'alice', requested: READ_DATA, expected: true },
  { description: '0o755: owner writes', mode: 0o755, principal: 'alice', requested: WRITE_DATA, expected: true },
  { description: '0o755: owner executes', mode: 0o755, principal: 'alice', requested: EXECUTE, expected: true },
  { description: '0o755: group reads', mode: 0o755, principal: 'bob', requested: READ_DATA, expected: true },
  { description: '0o755: group cannot write', mode: 0o755, principal: 'bob', requested: WRITE_DATA, expected: false },
  { description: '0o755: group cannot append', mode: 0o755, principal: 'bob', requested: APPEND_DATA, expected: false },
  { description: '0o755: other reads and executes', mode: 0o755, principal: 'carol', requested: READ_DATA | EXECUTE, expected: true },
  { description: '0o755: other cannot write', mode: 0o755, principal: 'carol', requested: WRITE_DATA, expected: false },
  { description: '0o700: owner has rwx', mode: 0o700, principal: 'alice', requested: READ_DATA | WRITE_DATA | EXECUTE, expected: true },
  { description: '0o700: group cannot read', mode: 0o700, principal: 'bob', requested: READ_DATA, expected: false },
  { description: '0o700: other cannot read', mode: 0o700, principal: 'carol', requested: READ_DATA, expected: false },
  { description: '0o070: owner outside the group is refused', mode: 0o070, principal: 'alice', requested: READ_DATA, expected: false },
  { description: '0o070: owner inside the group is still refused (owner class decides)', mode: 0o070, principal: 'aliceInStaff', requested: READ_DATA, expected: false },
  { description: '0o070: group has rwx', mode: 0o070, principal: 'bob', requested: READ_DATA | WRITE_DATA | EXECUTE, expected: true },
  { description: '0o070: group by SID has rwx', mode: 0o070, principal: 'bobBySid', requested: READ_DATA | WRITE_DATA | EXECUTE, expected: true },
  { description: '0o070: other is refused', mode: 0o070, principal: 'carol', requested: READ_DATA, expected: false },
  { description: '0o007: other has rwx', mode: 0o007, principal: 'carol', requested: READ_DATA | WRITE_DATA | EXECUTE, expected: true },
  { description: '0o007: group is refused although other may', mode: 0o007, principal: 'bob', requested: READ_DATA, expected: false },
  { description: '0o007: owner is refused although other may', mode: 0o007, principal: 'alice', requested: READ_DATA, expected: false },
  { description: '0o077: owner is refused although everyone else has rwx', mode: 0o077, principal: 'alice', requested: READ_DATA, expected: false },
  { description: '0o077: owner by SID is refused too', mode: 0o077, principal: 'aliceBySid', requested: WRITE_DATA, expected: false },
  { description: '0o077: other has rwx', mode: 0o077, principal: 'carol', requested: READ_DATA | WRITE_DATA | EXECUTE, expected: true },
  { description: '0o640: owner reads and writes', mode: 0o640, principal: 'alice', requested: READ_DATA | WRITE_DATA, expected: true },
  { description: '0o640: owner cannot execute', mode: 0o640, principal: 'alice', requested: EXECUTE, expected: false },
  { description: '0o640: group reads', mode: 0o640, principal: 'bob', requested: READ_DATA, expected: true },
  { description: '0o640: group cannot write', mode: 0o640, principal: 'bob', requested: WRITE_DATA, expected: false },
  { description: '0o640: other cannot read', mode: 0o640, principal: 'carol', requested: READ_DATA, expected: false },
  { description: '0o000: owner cannot read', mode: 0o000, principal: 'alice', requested: READ_DATA, expected: false },
  { description: '0o000: superuser reads and writes', mode: 0o000, principal: 'root', requested: READ_DATA | WRITE_DATA | EXECUTE, expected: true },
  { description: '0o000: uid 0 without the superuser flag is refused', mode: 0o000, principal: 'rootSquashed', requested: READ_DATA, expected: false },
  { description: 'directory 0o770: group may delete children', mode: 0o770, isDirectory: true, principal: 'bob', requested: DELETE_CHILD, expected: true },
  { description: 'directory 0o750: group may not delete children', mode: 0o750, isDirectory: true, principal: 'bob', requested: DELETE_CHILD, expected: false },
  { description: 'file 0o777: w does not include DELETE_CHILD', mode: 0o777, principal: 'carol', requested: DELETE_CHILD, expected: false },
  { description: '0o777: nobody but the superuser may chown', mode: 0o777, principal: 'alice', requested: WRITE_OWNER, expected: false },
  { description: '0o777: DELETE is not part of any mode class', mode: 0o777, principal: 'alice', requested: DELETE, expected: false },
];

const ENTRY_ROWS: Row[] = [
  { description: 'deny listed before allow wins', acl: aclOf(deny(EVERYONE, WRITE_DATA), allow(EVERYONE, READ_DATA | WRITE_DATA)), principal: 'carol', requested: WRITE_DATA, expected: false },
  { description: 'deny listed before allow leaves other allowed bits', acl: aclOf(deny(EVERYONE, WRITE_DATA), allow(EVERYONE, READ_DATA | WRITE_DATA)), principal: 'carol', requested: READ_DATA, expected: true },
  { description: 'allow listed before deny wins for its bits', acl: aclOf(allow(EVERYONE, READ_DATA | WRITE_DATA), deny(EVERYONE, WRITE_DATA)), principal: 'carol', requested: WRITE_DATA, expected: true },
  { description: 'a request needs every bit: one denied bit refuses it', acl: aclOf(allow(EVERYONE, READ_DATA), deny(EVERYONE, WRITE_DATA)), principal: 'carol', requested: READ_DATA | WRITE_DATA, expected: false },
  { description: 'bits are decided by different entries', acl: aclOf(allow(OWNER, READ_DATA), allow(EVERYONE, WRITE_DATA)), principal: 'alice', requested: READ_DATA | WRITE_DATA, expected: true },
  { description: 'no entry mentions the right: refused', acl: aclOf(allow(EVERYONE, READ_DATA)), principal: 'carol', requested: WRITE_DATA, expected: false },
  { description: 'empty ACL refuses data access', acl: aclOf(), principal: 'alice', requested: READ_DATA, expected: false },
  { description: 'named user by uid is allowed', acl: aclOf(allow(dave, READ_DATA)), principal: 'dave', requested: READ_DATA, expected: true },
  { description: 'named user by uid does not match another uid', acl: aclOf(allow(dave, READ_DATA)), principal: 'carol', requested: READ_DATA, expected: false },
  { description: 'named user by SID matches a principal with that SID', acl: aclOf(allow(daveBySid, READ_DATA)), principal: 'daveBySid', requested: READ_DATA, expected: true },
  { description: 'named user by SID does not match a principal without one', acl: aclOf(allow(daveBySid, READ_DATA)), principal: 'carol', requested: READ_DATA, expected: false },
  { description: 'named user deny before everyone allow', acl: aclOf(deny(dave, READ_DATA), allow(EVERYONE, READ_DATA)), principal: 'dave', requested: READ_DATA, expected: false },
  { description: 'named user deny does not affect others', acl: aclOf(deny(dave, READ_DATA), allow(EVERYONE, READ_DATA)), principal: 'carol', requested: READ_DATA, expected: true },
  { description: 'named group by gid is allowed', acl: aclOf(allow(auditors, READ_DATA)), principal: 'erin', requested: READ_DATA, expected: true },
  { description: 'named group by SID matches a group SID', acl: aclOf(allow(auditorsBySid, READ_DATA)), principal: 'erinBySid', requested: READ_DATA, expected: true },
  { description: 'named group by gid does not match non-members', acl: aclOf(allow(auditors, READ_DATA)), principal: 'dave', requested: READ_DATA, expected: false },
  { description: 'named group with both ids matches by either', acl: aclOf(allow({ kind: 'group-id', gid: AUDITORS_GID, sid: AUDITORS_SID }, READ_DATA)), principal: 'erinBySid', requested: READ_DATA, expected: true },
  { description: 'GROUP@ matches the owning group by group SID', acl: aclOf(allow(GROUP, READ_DATA)), principal: 'bobBySid', requested: READ_DATA, expected: true },
  { description: 'OWNER@ matches the owner by SID', acl: aclOf(allow(OWNER, WRITE_DATA)), principal: 'aliceBySid', requested: WRITE_DATA, expected: true },
  { description: 'OWNER@ does not match a non-owner', acl: aclOf(allow(OWNER, WRITE_DATA)), principal: 'bob', requested: WRITE_DATA, expected: false },
  { description: 'OWNER@ does not match by an absent SID on both sides', acl: aclOf(allow(OWNER, WRITE_DATA)), owner: { uid: 1000, gid: 100 }, principal: 'erinBySid', requested: WRITE_DATA, expected: false },
  { description: 'everyone entry applies to anyone', acl: aclOf(allow(EVERYONE, EXECUTE)), principal: 'erinBySid', requested: EXECUTE, expected: true },
  { description: 'superuser bypasses an explicit deny', acl: aclOf(deny(EVERYONE, WRITE_DATA | DELETE | WRITE_OWNER)), principal: 'root', requested: WRITE_DATA | DELETE | WRITE_OWNER, expected: true },
  { description: 'owner may always change the ACL despite a deny', acl: aclOf(deny(EVERYONE, WRITE_ACL | WRITE_ATTRIBUTES)), principal: 'alice', requested: WRITE_ACL | WRITE_ATTRIBUTES, expected: true },
  { description: 'owner by SID may always change the ACL', acl: aclOf(), principal: 'aliceBySid', requested: WRITE_ACL, expected: true },
  { description: 'non-owner may not change the ACL without an entry', acl: aclOf(allow(EVERYONE, READ_DATA)), principal: 'bob', requested: WRITE_ACL, expected: false },
  { description: 'non-owner may change the ACL when an entry allows it', acl: aclOf(allow(GROUP, WRITE_ACL)), principal: 'bob', requested: WRITE_ACL, expected: true },
  { description: 'everyone may always stat and read the ACL despite a deny', acl: aclOf(deny(EVERYONE, READ_ATTRIBUTES | READ_ACL | SYNCHRONIZE)), principal: 'carol', requested: READ_ATTRIBUTES | READ_ACL | SYNCHRONIZE, expected: true },
  { description: 'owner implicit rights do not include data', acl: aclOf(), principal: 'alice', requested: WRITE_DATA, expected: false },
  { description: 'inherit-only allow is ignored for access', acl: aclOf(allow(EVERYONE, READ_DATA, AceFlag.INHERIT_ONLY | AceFlag.FILE_INHERIT)), principal: 'carol', requested: READ_DATA, expected: false },
  { description: 'inherit-only deny is ignored for access', acl: aclOf(deny(EVERYONE, READ_DATA, AceFlag.INHERIT_ONLY | AceFlag.FILE_INHERIT), allow(EVERYONE, READ_DATA)), principal: 'carol', requested: READ_DATA, expected: true },
  { description: 'inheritable (not inherit-only) entry applies here too', acl: aclOf(allow(EVERYONE, READ_DATA, AceFlag.FILE_INHERIT | AceFlag.DIRECTORY_INHERIT)), principal: 'carol', requested: READ_DATA, expected: true },
  { description: 'inherited entry applies', acl: aclOf(allow(EVERYONE, READ_DATA, AceFlag.INHERITED)), principal: 'carol', requested: READ_DATA, expected: true },
  { description: 'requesting nothing is allowed', acl: aclOf(), principal: 'carol', requested: 0, expected: true },
];

function runRows(rows: readonly Row[]): void {
  for (const row of rows) {
    it(row.description, () => {
      const acl = row.acl ?? aclFromMode(row.mode ?? assert.fail('row needs acl or mode'), row.isDirectory ?? false);
      const result = accessCheck({ acl, owner: row.owner ?? OWNERSHIP, principal: PRINCIPALS[row.principal], requested: row.requested });
      assert.equal(result.allowed, row.expected);
      assert.equal(result.granted === row.requested, row.expected);
    });
  }
}

describe('permission matrix: POSIX modes', () => runRows(MODE_ROWS));
describe('permission matrix: ACL entries', () => runRows(ENTRY_ROWS));

describe('permission matrix: every mode against the POSIX rule', () => {
  /** POSIX.1 §4.5: the first class the process is in decides, owner before group before other. */
  function posixAllows(mode: number, principal: PrincipalName, bit: number): boolean {
    const shift = principal === 'alice' ? 6 : principal === 'bob' ? 3 : 0;
    return ((mode >> shift) & bit) !== 0;
  }
  const rightsForBit = [
    { bit: 4, rights: Right.READ_DATA | Right.READ_NAMED_ATTRS },
    { bit: 2, rights: Right.WRITE_DATA | Right.APPEND_DATA | Right.WRITE_NAMED_ATTRS },
    { bit: 1, rights: Right.EXECUTE },
  ];
  it('agrees for all 512 modes, three classes and r/w/x, on files and directories', () => {
    let checks = 0;
    for (const isDirectory of [false, true]) {
      for (let mode = 0; mode <= 0o777; mode += 1) {
        const acl = aclFromMode(mode, isDirectory);
        for (const name of ['alice', 'bob', 'carol'] as const) {
          for (const { bit, rights } of rightsForBit) {
            const requested = bit === 2 && isDirectory ? rights | Right.DELETE_CHILD : rights;
            const { allowed } = accessCheck({ acl, owner: OWNERSHIP, principal: PRINCIPALS[name], requested });
            assert.equal(allowed, posixAllows(mode, name, bit), `mode ${mode.toString(8)} ${name} bit ${bit} dir=${isDirectory}`);
            checks += 1;
          }
        }
      }
    }
    assert.equal(checks, 2 * 512 * 3 * 3);
  });
});
