import type { Attributes } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { DIRECTORY_REPLY_BYTES_MAX, VERIFIER_BYTES } from '../nfs3-types.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';
import { baseEntrySize, directoryAttributes, listDirectory, type Listing } from './directory-listing.js';

interface ReaddirArgs {
  readonly object: Uint8Array;
  readonly cookie: bigint;
  readonly verifier: Uint8Array;
  readonly count: number;
}

interface ReaddirOk {
  readonly attributes?: Attributes;
  readonly verifier: Uint8Array;
  readonly listing: Listing;
}

/**
 * RFC 1813 §3.3.16. `count` bounds the whole reply (capped at DIRECTORY_REPLY_BYTES_MAX). `.` and
 * `..` lead the listing (cookies 1 and 2; see directory-listing.ts), core's entries follow.
 */
export const readdirProcedure: Nfs3Procedure<ReaddirArgs, ReaddirOk, AttributesFail> = {
  number: 16,
  name: 'READDIR',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({ object: readFileHandle(reader), cookie: reader.uint64('cookie'), verifier: Uint8Array.from(reader.fixedOpaque(VERIFIER_BYTES, 'cookieverf')), count: reader.uint32('count') }),
  object: (args) => args.object,
  handle: async (call, args) => {
    try {
      const replyBytesMax = Math.min(args.count, DIRECTORY_REPLY_BYTES_MAX);
      // Read before the listing: see directoryAttributes.
      const attributes = await directoryAttributes(call);
      const listing = await listDirectory(call, { cookie: args.cookie, verifier: args.verifier, withAttributes: false, dir: attributes }, { replyBytesMax, directoryBytesMax: replyBytesMax, sizeOf: (entry) => baseEntrySize(entry.name) });
      return ok({ ...(attributes === undefined ? {} : { attributes }), verifier: call.services.cookies.verifier, listing });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writePostOpAttributes(writer, result.attributes, fsid);
    writer.fixedOpaque(result.verifier);
    for (const { entry, cookie } of result.listing.entries) writer.bool(true).uint64(entry.handle.id).string(entry.name).uint64(cookie);
    writer.bool(false).bool(result.listing.eof);
  },
  encodeFail: encodeAttributesFail,
};
