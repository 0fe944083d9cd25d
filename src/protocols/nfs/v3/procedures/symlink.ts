import { readSattr } from '../nfs3-attributes.js';
import type { Nfs3Procedure } from '../nfs3-procedure.js';
import { PATH_WIRE_BYTES_MAX } from '../nfs3-types.js';
import { changeInDirectory, created, encodeCreatedOk, encodeDirWccFail, readDirOpArgs, type CreatedOk, type DirOpArgs, type DirWccFail } from './common.js';

/** RFC 1813 §3.3.10. A symlink's mode is meaningless on Linux and ignored here, as by knfsd. */
export const symlinkProcedure: Nfs3Procedure<DirOpArgs & { target: string }, CreatedOk, DirWccFail> = {
  number: 10,
  name: 'SYMLINK',
  mutates: true,
  idempotent: false,
  decode: (reader) => {
    const where = readDirOpArgs(reader);
    readSattr(reader);
    return { ...where, target: reader.string(PATH_WIRE_BYTES_MAX, 'nfspath3') };
  },
  object: (args) => args.dir,
  handle: (call, args) => changeInDirectory(call, async () => created(call, await call.fs.symlink(call.ctx, call.node, args.name, args.target))),
  encodeOk: encodeCreatedOk,
  encodeFail: encodeDirWccFail,
};
