import type { Attributes } from '../../../../core/file-system.js';
import { writeFattr } from '../nfs3-attributes.js';
import { ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { readFileHandle } from './common.js';

/** RFC 1813 §3.3.1: the attributes of an object; failures carry nothing but the status. */
export const getattrProcedure: Nfs3Procedure<{ object: Uint8Array }, Attributes, undefined> = {
  number: 1,
  name: 'GETATTR',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader) }),
  object: (args) => args.object,
  handle: async (call) => ok(await call.fs.getattr(call.ctx, call.node)),
  encodeOk: (writer, attributes, fsid) => writeFattr(writer, attributes, fsid),
  encodeFail: () => undefined,
};
