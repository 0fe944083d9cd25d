import type { Attributes } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { attributesOrNothing, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { READ_BYTES_PREFERRED } from '../nfs3-types.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';

interface ReadArgs {
  readonly object: Uint8Array;
  readonly offset: bigint;
  readonly count: number;
}

interface ReadOk {
  readonly attributes?: Attributes;
  readonly data: Uint8Array;
  readonly eof: boolean;
}

/** RFC 1813 §3.3.6. Counts above rtmax are cut to rtmax (the RFC lets the server return less). */
export const readProcedure: Nfs3Procedure<ReadArgs, ReadOk, AttributesFail> = {
  number: 6,
  name: 'READ',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader), offset: reader.uint64('offset'), count: reader.uint32('count') }),
  object: (args) => args.object,
  handle: async (call, args) => {
    try {
      if (args.offset > BigInt(Number.MAX_SAFE_INTEGER)) return ok({ attributes: await attributesOrNothing(call, call.node), data: new Uint8Array(0), eof: true });
      const result = await call.fs.read(call.ctx, call.node, { offset: Number(args.offset), length: Math.min(args.count, READ_BYTES_PREFERRED) });
      return ok({ attributes: result.attributes ?? (await attributesOrNothing(call, call.node)), data: result.data, eof: result.eof });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    writer.uint32(result.data.byteLength).bool(result.eof).opaque(result.data);
  },
  encodeFail: encodeAttributesFail,
};
