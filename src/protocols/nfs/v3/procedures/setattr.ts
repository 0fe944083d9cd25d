import type { SetAttributes } from '../../../../core/file-system.js';
import { readSattr, readTime, writeWccData, type WccData } from '../nfs3-attributes.js';
import { failure, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { before, readFileHandle, wccAfter } from './common.js';

interface SetattrArgs {
  readonly object: Uint8Array;
  readonly changes: SetAttributes;
}

/**
 * RFC 1813 §3.3.2: changes attributes; with a guard, only if the ctime is still the one the
 * client saw (core checks it in the same transaction and fails with Conflict -> NFS3ERR_NOT_SYNC).
 */
export const setattrProcedure: Nfs3Procedure<SetattrArgs, WccData, WccData> = {
  number: 2,
  name: 'SETATTR',
  mutates: true,
  idempotent: false,
  decode: (reader) => {
    const object = readFileHandle(reader);
    const changes = readSattr(reader);
    const guard = reader.optional(readTime);
    return { object, changes: guard === undefined ? changes : { ...changes, guardCtimeNs: guard } };
  },
  object: (args) => args.object,
  handle: async (call, args) => {
    const prior = await before(call, call.node);
    try {
      const after = await call.fs.setattr(call.ctx, call.node, args.changes);
      return ok(prior === undefined ? { after } : { before: prior, after });
    } catch (error) {
      return failure(error, await wccAfter(call, call.node, prior));
    }
  },
  encodeOk: (writer, wcc, fsid) => writeWccData(writer, wcc, fsid),
  encodeFail: (writer, wcc, fsid) => writeWccData(writer, wcc, fsid),
};
