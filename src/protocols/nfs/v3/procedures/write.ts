import { writeWccData, type WccData } from '../nfs3-attributes.js';
import { failure, ok, refuse, type Nfs3Procedure } from '../nfs3-procedure.js';
import { Nfs3Status, StableHow, VERIFIER_BYTES, WRITE_BYTES_PREFERRED } from '../nfs3-types.js';
import { before, readFileHandle, wccAfter } from './common.js';

interface WriteArgs {
  readonly object: Uint8Array;
  readonly offset: bigint;
  readonly count: number;
  readonly stable: number;
  readonly data: Uint8Array;
}

interface WriteOk {
  readonly wcc: WccData;
  readonly count: number;
  readonly verifier: Uint8Array;
}

/**
 * RFC 1813 §3.3.7. Core writes are durable when they resolve, so every write is answered
 * FILE_SYNC whatever the client asked (the RFC allows committing more than asked) and COMMIT has
 * nothing left to do. The verifier is random per server start. Idempotent: rewriting the same
 * bytes at the same offset is harmless, so WRITE bypasses the duplicate-request cache.
 */
export const writeProcedure: Nfs3Procedure<WriteArgs, WriteOk, WccData> = {
  number: 7,
  name: 'WRITE',
  mutates: true,
  idempotent: true,
  decode: (reader) => {
    const object = readFileHandle(reader);
    const offset = reader.uint64('offset');
    const count = reader.uint32('count');
    const stable = reader.uint32('stable');
    const data = reader.opaque(WRITE_BYTES_PREFERRED, 'data');
    return { object, offset, count, stable, data };
  },
  object: (args) => args.object,
  handle: async (call, args) => {
    const prior = await before(call, call.node);
    try {
      if (args.stable > StableHow.FILE_SYNC) refuse(Nfs3Status.INVAL, `stable_how ${args.stable} is not defined`);
      if (args.count > args.data.byteLength) refuse(Nfs3Status.INVAL, 'count exceeds the data sent');
      if (args.offset > BigInt(Number.MAX_SAFE_INTEGER)) refuse(Nfs3Status.FBIG, 'offset beyond the largest file');
      const result = await call.fs.write(call.ctx, call.node, { offset: Number(args.offset), data: args.data.subarray(0, args.count) });
      const wcc = prior === undefined ? { after: result.attributes } : { before: prior, after: result.attributes };
      return ok({ wcc, count: result.bytesWritten, verifier: call.services.writeVerifier });
    } catch (error) {
      return failure(error, await wccAfter(call, call.node, prior));
    }
  },
  encodeOk: (writer, result, fsid) => {
    writeWccData(writer, result.wcc, fsid);
    writer.uint32(result.count).uint32(StableHow.FILE_SYNC).fixedOpaque(result.verifier.subarray(0, VERIFIER_BYTES));
  },
  encodeFail: (writer, wcc, fsid) => writeWccData(writer, wcc, fsid),
};
