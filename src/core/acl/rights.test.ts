import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Right, type Acl, type Ownership } from './acl.js';
import { aclFromMode } from './mode.js';
import { canDelete, rightsToCreate, RIGHTS_FOR } from './rights.js';
import { EVERYONE, OWNERSHIP, PRINCIPALS, aclOf, allow, deny, type PrincipalName } from './fixtures.test-support.js';

/** The directory is owned by alice; the child by carol (or by whoever the row says). */
const CAROL_OWNS: Ownership = { uid: PRINCIPALS.carol.uid, gid: 1002 };
const DAVE_OWNS: Ownership = { uid: PRINCIPALS.dave.uid, gid: 1004 };

interface DeleteRow {
  readonly description: string;
  readonly parentAcl: Acl;
  readonly childAcl: Acl;
  readonly childOwner?: Ownership;
  readonly sticky?: boolean;
  readonly principal: PrincipalName;
  readonly expected: boolean;
}

const ROWS: DeleteRow[] = [
  { description: 'w on a 0o777 directory lets anyone delete', parentAcl: aclFromMode(0o777, true), childAcl: aclFromMode(0o600, false), principal: 'bob', expected: true },
  { description: 'no w on the directory: refused even for the child owner', parentAcl: aclFromMode(0o755, true), childAcl: aclFromMode(0o600, false), principal: 'carol', expected: false },
  { description: 'DELETE on the child suffices without DELETE_CHILD', parentAcl: aclFromMode(0o755, true), childAcl: aclOf(allow(EVERYONE, Right.DELETE)), principal: 'bob', expected: true },
  { description: 'DELETE_CHILD on the parent overrides a DELETE deny on the child', parentAcl: aclOf(allow(EVERYONE, Right.DELETE_CHILD)), childAcl: aclOf(deny(EVERYONE, Right.DELETE)), principal: 'bob', expected: true },
  { description: 'DELETE on the child overrides a DELETE_CHILD deny on the parent', parentAcl: aclOf(deny(EVERYONE, Right.DELETE_CHILD)), childAcl: aclOf(allow(EVERYONE, Right.DELETE)), principal: 'bob', expected: true },
  { description: 'both denied: refused', parentAcl: aclOf(deny(EVERYONE, Right.DELETE_CHILD)), childAcl: aclOf(deny(EVERYONE, Right.DELETE)), principal: 'bob', expected: false },
  { description: 'neither mentioned, WRITE_DATA on the parent: refused (no ADD_FILE fallback)', parentAcl: aclOf(allow(EVERYONE, Right.WRITE_DATA)), childAcl: aclOf(), principal: 'bob', expected: false },
  { description: 'superuser deletes despite denies', parentAcl: aclOf(deny(EVERYONE, Right.DELETE_CHILD)), childAcl: aclOf(deny(EVERYONE, Right.DELETE)), sticky: true, principal: 'root', expected: true },
  { description: 'sticky: the child owner may delete', parentAcl: aclFromMode(0o777, true), childAcl: aclFromMode(0o600, false), sticky: true, principal: 'carol', expected: true },
  { description: 'sticky: the directory owner may delete', parentAcl: aclFromMode(0o777, true), childAcl: aclFromMode(0o600, false), sticky: true, principal: 'alice', expected: true },
  { description: 'sticky: someone else may not, despite w on the directory', parentAcl: aclFromMode(0o777, true), childAcl: aclFromMode(0o666, false), sticky: true, principal: 'bob', expected: false },
  { description: 'sticky: someone else may not, despite DELETE on the child', parentAcl: aclFromMode(0o777, true), childAcl: aclOf(allow(EVERYONE, Right.DELETE)), sticky: true, principal: 'bob', expected: false },
  { description: 'sticky: the child owner still needs an ACL right', parentAcl: aclFromMode(0o755, true), childAcl: aclFromMode(0o600, false), sticky: true, principal: 'carol', expected: false },
  { description: 'sticky: the child owner by SID is an owner too', parentAcl: aclFromMode(0o777, true), childAcl: aclOf(), childOwner: { ...DAVE_OWNS, ownerSid: PRINCIPALS.dave.sid }, sticky: true, principal: 'daveBySid', expected: true },
];

describe('canDelete', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      const allowed = canDelete({
        parentAcl: row.parentAcl,
        parentOwner: OWNERSHIP,
        childAcl: row.childAcl,
        childOwner: row.childOwner ?? CAROL_OWNS,
        principal: PRINCIPALS[row.principal],
        sticky: row.sticky ?? false,
      });
      assert.equal(allowed, row.expected);
    });
  }
});

describe('RIGHTS_FOR', () => {
  it('maps directory operations to the NTFS directory rights', () => {
    assert.equal(RIGHTS_FOR.lookup, Right.EXECUTE);
    assert.equal(RIGHTS_FOR.readdir, Right.READ_DATA);
    assert.equal(rightsToCreate(false), Right.WRITE_DATA);
    assert.equal(rightsToCreate(true), Right.APPEND_DATA);
  });

  it('names exactly one right per operation', () => {
    for (const [operation, rights] of Object.entries(RIGHTS_FOR)) {
      assert.ok(Object.values(Right).includes(rights as never), `${operation} needs a single known right`);
    }
  });
});
