import type { Attributes } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { attributesOrNothing, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';

/** RFC 1813 §3.3.5: the target of a symbolic link. */
export const readlinkProcedure: Nfs3Procedure<{ object: Uint8Array }, { attributes?: Attributes; target: string }, AttributesFail> = {
  number: 5,
  name: 'READLINK',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader) }),
  object: (args) => args.object,
  handle: async (call) => {
    try {
      const target = await call.fs.readlink(call.ctx, call.node);
      return ok({ attributes: await attributesOrNothing(call, call.node), target });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    writer.string(result.target);
  },
  encodeFail: encodeAttributesFail,
};
