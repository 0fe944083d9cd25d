import type { Attributes } from '../../../../core/file-system.js';
import type { XdrWriter } from '../../xdr/xdr-writer.js';
import { writePostOpAttributes, writeWccData, type WccData } from '../nfs3-attributes.js';
import { attributesOrNothing, failure, ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { before, readDirOpArgs, readFileHandle, wccAfter, type DirOpArgs } from './common.js';

interface LinkResult {
  readonly attributes?: Attributes;
  readonly dirWcc?: WccData;
}

/** RFC 1813 §3.3.15: a hard link to `file` in another directory of the same export. */
export const linkProcedure: Nfs3Procedure<{ file: Uint8Array; link: DirOpArgs }, LinkResult, LinkResult> = {
  number: 15,
  name: 'LINK',
  mutates: true,
  idempotent: false,
  decode: (reader) => ({ file: readFileHandle(reader), link: readDirOpArgs(reader) }),
  object: (args) => args.file,
  handle: async (call, args) => {
    let dir;
    try {
      dir = call.handleOf(args.link.dir);
    } catch (error) {
      return failure(error, { attributes: await attributesOrNothing(call, call.node) });
    }
    const prior = await before(call, dir);
    try {
      const info = await call.fs.link(call.ctx, call.node, dir, args.link.name);
      return ok({ attributes: info.attributes, dirWcc: await wccAfter(call, dir, prior) });
    } catch (error) {
      return failure(error, { attributes: await attributesOrNothing(call, call.node), dirWcc: await wccAfter(call, dir, prior) });
    }
  },
  encodeOk: encode,
  encodeFail: (writer, result, fsid) => encode(writer, result ?? {}, fsid),
};

function encode(writer: XdrWriter, result: LinkResult, fsid: number): void {
  writePostOpAttributes(writer, result.attributes, fsid);
  writeWccData(writer, result.dirWcc, fsid);
}
