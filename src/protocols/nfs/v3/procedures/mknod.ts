import { XdrError } from '../../xdr/xdr-reader.js';
import { readSattr } from '../nfs3-attributes.js';
import { failure, type Nfs3Procedure } from '../nfs3-procedure.js';
import { Nfs3Failure } from '../nfs3-errors.js';
import { FileType3, Nfs3Status } from '../nfs3-types.js';
import { before, encodeCreatedOk, encodeDirWccFail, readDirOpArgs, wccAfter, type CreatedOk, type DirOpArgs, type DirWccFail } from './common.js';

/**
 * RFC 1813 §3.3.11. Core stores files, directories and symlinks only: device, socket and FIFO
 * nodes are NFS3ERR_NOTSUPP; regular files and directories are NFS3ERR_BADTYPE (use CREATE/MKDIR).
 */
export const mknodProcedure: Nfs3Procedure<DirOpArgs & { type: number }, CreatedOk, DirWccFail> = {
  number: 11,
  name: 'MKNOD',
  mutates: true,
  idempotent: false,
  decode: (reader) => {
    const where = readDirOpArgs(reader);
    const type = reader.uint32('ftype3');
    if (type === FileType3.CHR || type === FileType3.BLK) {
      readSattr(reader);
      reader.uint32('specdata1');
      reader.uint32('specdata2');
    } else if (type === FileType3.SOCK || type === FileType3.FIFO) {
      readSattr(reader);
    } else if (type < FileType3.REG || type > FileType3.FIFO) {
      throw new XdrError(`ftype3 ${type} is not defined`);
    }
    return { ...where, type };
  },
  object: (args) => args.dir,
  handle: async (call, args) => {
    const prior = await before(call, call.node);
    const status = args.type === FileType3.REG || args.type === FileType3.DIR || args.type === FileType3.LNK ? Nfs3Status.BADTYPE : Nfs3Status.NOTSUPP;
    return failure(new Nfs3Failure(status, 'special files are not supported'), { dirWcc: await wccAfter(call, call.node, prior) });
  },
  encodeOk: encodeCreatedOk,
  encodeFail: encodeDirWccFail,
};
