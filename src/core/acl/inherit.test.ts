import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AceFlag, Right } from './acl.js';
import { accessCheck } from './evaluate.js';
import { inheritAcl } from './inherit.js';
import { DAVE_UID, EVERYONE, OWNER, OWNERSHIP, PRINCIPALS, aclOf, allow, deny } from './fixtures.test-support.js';

const { FILE_INHERIT, DIRECTORY_INHERIT, NO_PROPAGATE_INHERIT, INHERIT_ONLY, INHERITED } = AceFlag;
const dave = { kind: 'user', uid: DAVE_UID } as const;
const R = Right.READ_DATA;
const W = Right.WRITE_DATA;

interface InheritanceRow {
  readonly description: string;
  readonly parentFlags: number;
  /** Flags of the entry on a new file, or undefined when the file does not inherit it. */
  readonly fileFlags: number | undefined;
  /** Flags of the entry on a new directory, or undefined when the directory does not inherit it. */
  readonly directoryFlags: number | undefined;
}

const ROWS: InheritanceRow[] = [
  { description: 'not inheritable', parentFlags: 0, fileFlags: undefined, directoryFlags: undefined },
  { description: 'FILE_INHERIT', parentFlags: FILE_INHERIT, fileFlags: INHERITED, directoryFlags: FILE_INHERIT | INHERIT_ONLY | INHERITED },
  { description: 'DIRECTORY_INHERIT', parentFlags: DIRECTORY_INHERIT, fileFlags: undefined, directoryFlags: DIRECTORY_INHERIT | INHERITED },
  { description: 'FILE_INHERIT | DIRECTORY_INHERIT', parentFlags: FILE_INHERIT | DIRECTORY_INHERIT, fileFlags: INHERITED, directoryFlags: FILE_INHERIT | DIRECTORY_INHERIT | INHERITED },
  { description: 'inherit-only on the parent applies on the child', parentFlags: FILE_INHERIT | DIRECTORY_INHERIT | INHERIT_ONLY, fileFlags: INHERITED, directoryFlags: FILE_INHERIT | DIRECTORY_INHERIT | INHERITED },
  { description: 'NO_PROPAGATE with both: children only', parentFlags: FILE_INHERIT | DIRECTORY_INHERIT | NO_PROPAGATE_INHERIT, fileFlags: INHERITED, directoryFlags: INHERITED },
  { description: 'NO_PROPAGATE with FILE_INHERIT only: files only, not grandchildren', parentFlags: FILE_INHERIT | NO_PROPAGATE_INHERIT, fileFlags: INHERITED, directoryFlags: undefined },
  { description: 'NO_PROPAGATE with DIRECTORY_INHERIT only', parentFlags: DIRECTORY_INHERIT | NO_PROPAGATE_INHERIT | INHERIT_ONLY, fileFlags: undefined, directoryFlags: INHERITED },
  { description: 'an inherited entry is inherited again', parentFlags: FILE_INHERIT | DIRECTORY_INHERIT | INHERITED, fileFlags: INHERITED, directoryFlags: FILE_INHERIT | DIRECTORY_INHERIT | INHERITED },
];

describe('inheritAcl flag table', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      const parent = aclOf(allow(dave, R, row.parentFlags));
      assert.deepEqual(inheritAcl(parent, false), row.fileFlags === undefined ? undefined : aclOf(allow(dave, R, row.fileFlags)));
      assert.deepEqual(inheritAcl(parent, true), row.directoryFlags === undefined ? undefined : aclOf(allow(dave, R, row.directoryFlags)));
    });
  }
});

describe('inheritAcl', () => {
  it('keeps the parent order, takes only inheritable entries and keeps types and masks', () => {
    const parent = aclOf(
      deny(dave, W, FILE_INHERIT),
      allow(OWNER, R | W, 0),
      allow(EVERYONE, R | W, FILE_INHERIT | DIRECTORY_INHERIT),
    );
    assert.deepEqual(inheritAcl(parent, false), aclOf(deny(dave, W, INHERITED), allow(EVERYONE, R | W, INHERITED)));
  });

  it('returns undefined when the parent has nothing inheritable', () => {
    assert.equal(inheritAcl(aclOf(allow(EVERYONE, R)), false), undefined);
    assert.equal(inheritAcl(aclOf(), true), undefined);
  });

  it('propagates a FILE_INHERIT entry through a directory to a grandchild file', () => {
    const parent = aclOf(allow(dave, R, FILE_INHERIT));
    const directory = inheritAcl(parent, true) ?? assert.fail('directory inherits');
    assert.equal(accessCheck({ acl: directory, owner: OWNERSHIP, principal: PRINCIPALS.dave, requested: R }).allowed, false, 'not effective on the directory');
    const grandchild = inheritAcl(directory, false) ?? assert.fail('grandchild inherits');
    assert.deepEqual(grandchild, aclOf(allow(dave, R, INHERITED)));
    assert.equal(accessCheck({ acl: grandchild, owner: OWNERSHIP, principal: PRINCIPALS.dave, requested: R }).allowed, true);
  });

  it('propagates DIRECTORY_INHERIT to any depth but NO_PROPAGATE stops after one level', () => {
    const parent = aclOf(allow(dave, R, DIRECTORY_INHERIT), allow(EVERYONE, R, DIRECTORY_INHERIT | NO_PROPAGATE_INHERIT));
    const child = inheritAcl(parent, true) ?? assert.fail('child inherits');
    assert.equal(child.entries.length, 2);
    const grandchild = inheritAcl(child, true) ?? assert.fail('grandchild inherits');
    assert.deepEqual(grandchild, aclOf(allow(dave, R, DIRECTORY_INHERIT | INHERITED)));
  });

  it('keeps OWNER@ symbolic so it names the new node owner', () => {
    const child = inheritAcl(aclOf(allow(OWNER, W, FILE_INHERIT)), false) ?? assert.fail('inherits');
    const newOwner = { uid: PRINCIPALS.carol.uid, gid: 1002 };
    assert.equal(accessCheck({ acl: child, owner: newOwner, principal: PRINCIPALS.carol, requested: W }).allowed, true);
    assert.equal(accessCheck({ acl: child, owner: newOwner, principal: PRINCIPALS.alice, requested: W }).allowed, false);
  });
});
