import { writeWccData, type WccData } from '../nfs3-attributes.js';
import { attributesOrNothing, failure, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { VERIFIER_BYTES } from '../nfs3-types.js';
import { readFileHandle } from './common.js';

/**
 * RFC 1813 §3.3.21. Writes the file's gathered UNSTABLE writes to core (durable when it returns)
 * and confirms the write verifier; a gathered write that failed is reported here. The whole file
 * is committed whatever range is asked (the RFC allows committing more).
 */
export const commitProcedure: Nfs3Procedure<{ object: Uint8Array; offset: bigint; count: number }, { wcc: WccData; verifier: Uint8Array }, WccData> = {
  number: 21,
  name: 'COMMIT',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader), offset: reader.uint64('offset'), count: reader.uint32('count') }),
  object: (args) => args.object,
  handle: async (call) => {
    try {
      await call.services.gatherer.flush(call.node, { report: true });
      const attributes = await call.fs.getattr(call.ctx, call.node);
      return ok({ wcc: { after: attributes }, verifier: call.services.writeVerifier });
    } catch (error) {
      return failure(error, { after: await attributesOrNothing(call, call.node) });
    }
  },
  encodeOk: (writer, result, fsid) => {
    writeWccData(writer, result.wcc, fsid);
    writer.fixedOpaque(result.verifier.subarray(0, VERIFIER_BYTES));
  },
  encodeFail: (writer, wcc, fsid) => writeWccData(writer, wcc, fsid),
};
