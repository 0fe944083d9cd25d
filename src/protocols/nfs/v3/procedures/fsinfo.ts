import { FILE_BYTES_MAX, type Attributes } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { DIRECTORY_BYTES_PREFERRED, FsInfoProperty, READ_BYTES_PREFERRED, WRITE_BYTES_PREFERRED } from '../nfs3-types.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';

const TRANSFER_MULTIPLE_BYTES = 4096;

/** RFC 1813 §3.3.19: transfer sizes (matching the RPC record limit) and what the server supports. */
export const fsinfoProcedure: Nfs3Procedure<{ object: Uint8Array }, { attributes: Attributes }, AttributesFail> = {
  number: 19,
  name: 'FSINFO',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader) }),
  object: (args) => args.object,
  handle: async (call) => {
    try {
      return ok({ attributes: await call.fs.getattr(call.ctx, call.node) });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    writer
      .uint32(READ_BYTES_PREFERRED)
      .uint32(READ_BYTES_PREFERRED)
      .uint32(TRANSFER_MULTIPLE_BYTES)
      .uint32(WRITE_BYTES_PREFERRED)
      .uint32(WRITE_BYTES_PREFERRED)
      .uint32(TRANSFER_MULTIPLE_BYTES)
      .uint32(DIRECTORY_BYTES_PREFERRED)
      .uint64(FILE_BYTES_MAX - 1)
      // time_delta: core keeps nanoseconds.
      .uint32(0)
      .uint32(1)
      .uint32(FsInfoProperty.LINK | FsInfoProperty.SYMLINK | FsInfoProperty.HOMOGENEOUS | FsInfoProperty.CANSETTIME);
  },
  encodeFail: encodeAttributesFail,
};
