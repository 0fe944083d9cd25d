import { writeWccData, type WccData } from '../nfs3-attributes.js';
import { failure, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { before, readDirOpArgs, wccAfter, type DirOpArgs } from './common.js';

interface RenameResult {
  readonly fromWcc?: WccData;
  readonly toWcc?: WccData;
}

/**
 * RFC 1813 §3.3.14. Both directories must be in the same export (another export's handle is
 * NFS3ERR_XDEV, as across file systems); core does the rest atomically.
 */
export const renameProcedure: Nfs3Procedure<{ from: DirOpArgs; to: DirOpArgs }, RenameResult, RenameResult> = {
  number: 14,
  name: 'RENAME',
  mutates: true,
  idempotent: false,
  decode: (reader) => ({ from: readDirOpArgs(reader), to: readDirOpArgs(reader) }),
  object: (args) => args.from.dir,
  handle: async (call, args) => {
    const fromPrior = await before(call, call.node);
    let targetDir;
    try {
      targetDir = call.handleOf(args.to.dir);
    } catch (error) {
      return failure(error, { fromWcc: await wccAfter(call, call.node, fromPrior) });
    }
    const toPrior = await before(call, targetDir);
    const wccs = async (): Promise<RenameResult> => ({ fromWcc: await wccAfter(call, call.node, fromPrior), toWcc: await wccAfter(call, targetDir, toPrior) });
    try {
      await call.fs.rename(call.ctx, { sourceDir: call.node, sourceName: args.from.name, targetDir, targetName: args.to.name });
      return ok(await wccs());
    } catch (error) {
      return failure(error, await wccs());
    }
  },
  encodeOk: encode,
  encodeFail: (writer, result, fsid) => encode(writer, result ?? {}, fsid),
};

function encode(writer: Parameters<typeof writeWccData>[0], result: RenameResult, fsid: number): void {
  writeWccData(writer, result.fromWcc, fsid);
  writeWccData(writer, result.toWcc, fsid);
}
