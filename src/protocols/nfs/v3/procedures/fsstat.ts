import type { Attributes, FsStats } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { attributesOrNothing, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';

/** RFC 1813 §3.3.18. Core's statfs of a node is quota-aware: a quota below caps what is free. */
export const fsstatProcedure: Nfs3Procedure<{ object: Uint8Array }, { attributes?: Attributes; stats: FsStats }, AttributesFail> = {
  number: 18,
  name: 'FSSTAT',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader) }),
  object: (args) => args.object,
  handle: async (call) => {
    try {
      const stats = await call.fs.statfs(call.ctx, call.node);
      return ok({ attributes: await attributesOrNothing(call, call.node), stats });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    const { stats } = result;
    // invarsec 0: the values may change at any time.
    writer.uint64(stats.totalBytes).uint64(stats.freeBytes).uint64(stats.availableBytes).uint64(stats.totalFiles).uint64(stats.freeFiles).uint64(stats.freeFiles).uint32(0);
  },
  encodeFail: encodeAttributesFail,
};
