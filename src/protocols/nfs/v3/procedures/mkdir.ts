import type { SetAttributes } from '../../../../core/file-system.js';
import { hasChanges, readSattr } from '../nfs3-attributes.js';
import type { Nfs3Procedure } from '../nfs3-procedure.js';
import { changeInDirectory, created, encodeCreatedOk, encodeDirWccFail, readDirOpArgs, type CreatedOk, type DirOpArgs, type DirWccFail } from './common.js';

/** RFC 1813 §3.3.9: a new directory; attributes other than the mode follow as a SETATTR. */
export const mkdirProcedure: Nfs3Procedure<DirOpArgs & { attributes: SetAttributes }, CreatedOk, DirWccFail> = {
  number: 9,
  name: 'MKDIR',
  mutates: true,
  idempotent: false,
  decode: (reader) => ({ ...readDirOpArgs(reader), attributes: readSattr(reader) }),
  object: (args) => args.dir,
  handle: (call, args) =>
    changeInDirectory(call, async () => {
      const { mode, uid, gid, size: _size, ...times } = args.attributes;
      const info = await call.fs.mkdir(call.ctx, call.node, args.name, { mode: mode ?? 0o755 });
      const later: SetAttributes = { ...times, ...(uid !== undefined && uid !== info.attributes.uid ? { uid } : {}), ...(gid !== undefined && gid !== info.attributes.gid ? { gid } : {}) };
      if (!hasChanges(later)) return created(call, info);
      return created(call, { handle: info.handle, attributes: await call.fs.setattr(call.ctx, info.handle, later) });
    }),
  encodeOk: encodeCreatedOk,
  encodeFail: encodeDirWccFail,
};
