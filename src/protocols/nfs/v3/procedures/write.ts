import { wccOf, writeWccData, type WccData } from '../nfs3-attributes.js';
import { attributesOrNothing, failure, ok, refuse, type Nfs3Procedure } from '../nfs3-procedure.js';
import { Nfs3Status, StableHow, VERIFIER_BYTES, WRITE_BYTES_PREFERRED } from '../nfs3-types.js';
import { readFileHandle, wccAfter } from './common.js';

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
  /** How the data was committed: FILE_SYNC (in core, durable), or UNSTABLE (gathered). */
  readonly committed: number;
  readonly verifier: Uint8Array;
}

/**
 * RFC 1813 §3.3.7. A FILE_SYNC or DATA_SYNC write, and the first write of a file, go to core and
 * are durable when answered (FILE_SYNC): permissions and quotas refuse them here. Later UNSTABLE
 * writes of the file are gathered (write-gatherer.ts) and answered UNSTABLE; COMMIT makes them
 * durable. The verifier is random per server start, so a restart tells clients to resend what
 * they had not committed. Idempotent: rewriting the same bytes at the same offset is harmless, so
 * WRITE bypasses the duplicate-request cache.
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
    const current = await attributesOrNothing(call, call.node);
    const prior = wccOf(current);
    try {
      if (args.stable > StableHow.FILE_SYNC) refuse(Nfs3Status.INVAL, `stable_how ${args.stable} is not defined`);
      if (args.count > args.data.byteLength) refuse(Nfs3Status.INVAL, 'count exceeds the data sent');
      if (args.offset > BigInt(Number.MAX_SAFE_INTEGER)) refuse(Nfs3Status.FBIG, 'offset beyond the largest file');
      const data = args.data.subarray(0, args.count);
      const offset = Number(args.offset);
      const gatherer = call.services.gatherer;
      if (args.stable === StableHow.UNSTABLE && data.length > 0 && gatherer.mayGather(call.node) && current !== undefined) {
        await gatherer.add(call.fs, call.ctx, call.node, offset, data);
        // Core's attributes do not change when a write is gathered: the ones read before it
        // serve as both sides of wcc_data, with the size the gathered writes will give.
        const after = { ...current, size: Math.max(current.size, gatherer.pendingEnd(call.node) ?? 0) };
        return ok({ wcc: { before: prior, after }, count: data.length, committed: StableHow.UNSTABLE, verifier: call.services.writeVerifier });
      }
      // Writes gathered earlier go first, so this one lands on top of them, in the client's order.
      await gatherer.flush(call.node, { report: false });
      const result = await call.fs.write(call.ctx, call.node, { offset, data });
      gatherer.warm(call.node);
      const wcc = prior === undefined ? { after: result.attributes } : { before: prior, after: result.attributes };
      return ok({ wcc, count: result.bytesWritten, committed: StableHow.FILE_SYNC, verifier: call.services.writeVerifier });
    } catch (error) {
      return failure(error, await wccAfter(call, call.node, prior));
    }
  },
  encodeOk: (writer, result, fsid) => {
    writeWccData(writer, result.wcc, fsid);
    writer.uint32(result.count).uint32(result.committed).fixedOpaque(result.verifier.subarray(0, VERIFIER_BYTES));
  },
  encodeFail: (writer, wcc, fsid) => writeWccData(writer, wcc, fsid),
};
