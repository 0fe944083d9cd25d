import { Right } from '../../../../core/acl/acl.js';
import { accessCheck } from '../../../../core/acl/evaluate.js';
import type { Attributes } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { type Nfs3Call, type Nfs3Procedure, ok } from '../nfs3-procedure.js';
import { Access3 } from '../nfs3-types.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';

interface AccessOk {
  readonly attributes: Attributes;
  readonly granted: number;
}

/** ACCESS3 bits as core rights, by node type (RFC 1813 §3.3.4 and RFC 8881 §6.2.1 rights). */
const FILE_RIGHTS: ReadonlyArray<readonly [number, number]> = [
  [Access3.READ, Right.READ_DATA],
  [Access3.MODIFY, Right.WRITE_DATA],
  [Access3.EXTEND, Right.APPEND_DATA | Right.WRITE_DATA],
  [Access3.EXECUTE, Right.EXECUTE],
];
const DIRECTORY_RIGHTS: ReadonlyArray<readonly [number, number]> = [
  [Access3.READ, Right.READ_DATA],
  [Access3.LOOKUP, Right.EXECUTE],
  [Access3.MODIFY, Right.DELETE_CHILD | Right.WRITE_DATA],
  [Access3.EXTEND, Right.WRITE_DATA | Right.APPEND_DATA],
  [Access3.DELETE, Right.DELETE_CHILD],
];
const SYMLINK_RIGHTS: ReadonlyArray<readonly [number, number]> = [[Access3.READ, Right.READ_DATA]];
const MUTATING_BITS = Access3.MODIFY | Access3.EXTEND | Access3.DELETE;

/**
 * RFC 1813 §3.3.4, answered from the unified ACL: core has no access() call, so this reads the
 * node's ACL (READ_ACL is an implicit right of everyone) and evaluates it with core's own
 * `accessCheck` for the call's principal, the same function core uses on every operation. A
 * read-only export never grants the mutating bits. The answer is advisory, as the RFC says: every
 * later operation is checked by core again.
 */
export const accessProcedure: Nfs3Procedure<{ object: Uint8Array; requested: number }, AccessOk, AttributesFail> = {
  number: 4,
  name: 'ACCESS',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader), requested: reader.uint32('access') }),
  object: (args) => args.object,
  handle: async (call, args) => {
    try {
      const attributes = await call.fs.getattr(call.ctx, call.node);
      return ok({ attributes, granted: await grantedBits(call, attributes, args.requested) });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    writer.uint32(result.granted);
  },
  encodeFail: encodeAttributesFail,
};

async function grantedBits(call: Nfs3Call, attributes: Attributes, requested: number): Promise<number> {
  const acl = await call.fs.getAcl(call.ctx, call.node);
  const table = attributes.type === 'directory' ? DIRECTORY_RIGHTS : attributes.type === 'file' ? FILE_RIGHTS : SYMLINK_RIGHTS;
  let granted = 0;
  for (const [bit, rights] of table) {
    if ((requested & bit) === 0) continue;
    if (call.readOnly && (bit & MUTATING_BITS) !== 0) continue;
    const result = accessCheck({ acl, owner: attributes, principal: call.ctx.principal, requested: rights });
    // EXTEND on a file needs either append or write; MODIFY on a directory either delete or add.
    if (bit === Access3.EXTEND || (bit === Access3.MODIFY && attributes.type === 'directory') ? result.granted !== 0 : result.allowed) granted |= bit;
  }
  return granted;
}
