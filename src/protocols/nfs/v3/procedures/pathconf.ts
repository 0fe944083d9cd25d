import { LINKS_MAX, NAME_BYTES_MAX, type Attributes } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';

/**
 * RFC 1813 §3.3.20: names longer than the limit are refused (no_trunc), chown is for the owner's
 * betters (chown_restricted), and names are case-sensitive and case-preserving over NFS.
 */
export const pathconfProcedure: Nfs3Procedure<{ object: Uint8Array }, { attributes: Attributes }, AttributesFail> = {
  number: 20,
  name: 'PATHCONF',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader) }),
  object: (args) => args.object,
  handle: async (call) => {
    try {
      return ok({ attributes: await call.fs.getattr(call.ctx, call.node) });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    writer.uint32(LINKS_MAX).uint32(NAME_BYTES_MAX).bool(true).bool(true).bool(false).bool(true);
  },
  encodeFail: encodeAttributesFail,
};
