import { writeWccData, type WccData } from '../nfs3-attributes.js';
import type { Nfs3Procedure } from '../nfs3-procedure.js';
import { changeInDirectory, readDirOpArgs, type DirOpArgs, type DirWccFail } from './common.js';

/** RFC 1813 §3.3.13: removes an empty directory. */
export const rmdirProcedure: Nfs3Procedure<DirOpArgs, { dirWcc: WccData }, DirWccFail> = {
  number: 13,
  name: 'RMDIR',
  mutates: true,
  idempotent: false,
  decode: readDirOpArgs,
  object: (args) => args.dir,
  handle: (call, args) => changeInDirectory(call, async () => call.fs.rmdir(call.ctx, call.node, args.name).then(() => ({}))),
  encodeOk: (writer, result, fsid) => writeWccData(writer, result.dirWcc, fsid),
  encodeFail: (writer, fail, fsid) => writeWccData(writer, fail?.dirWcc, fsid),
};
