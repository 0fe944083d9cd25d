import type { Attributes } from '../../../../core/file-system.js';
import { writeFattr, writePostOpAttributes } from '../nfs3-attributes.js';
import { ok, type Nfs3Procedure } from '../nfs3-procedure.js';
import { DIRECTORY_REPLY_BYTES_MAX, VERIFIER_BYTES } from '../nfs3-types.js';
import { FILE_HANDLE_BYTES } from '../../handles/file-handle.js';
import { encodeAttributesFail, failWithAttributes, readFileHandle, type AttributesFail } from './common.js';
import { baseEntrySize, directoryAttributes, listDirectory, listedHandle, POST_OP_ATTR_BYTES, type Listing } from './directory-listing.js';

interface ReaddirplusArgs {
  readonly object: Uint8Array;
  readonly cookie: bigint;
  readonly verifier: Uint8Array;
  readonly dircount: number;
  readonly maxcount: number;
}

interface ReaddirplusOk {
  readonly attributes?: Attributes;
  readonly verifier: Uint8Array;
  readonly listing: Listing;
  readonly handles: ReadonlyArray<Uint8Array | undefined>;
}

const POST_OP_FH_BYTES = 4 + 4 + ((FILE_HANDLE_BYTES + 3) & ~3);
const PLUS_BYTES = POST_OP_ATTR_BYTES + POST_OP_FH_BYTES;

/**
 * RFC 1813 §3.3.17: READDIR with each entry's attributes and handle. `dircount` bounds the
 * fileid/name/cookie bytes, `maxcount` the whole reply (capped at DIRECTORY_REPLY_BYTES_MAX).
 * Each entry's attributes come from core's readdir (same view as the names), not a lookup each.
 */
export const readdirplusProcedure: Nfs3Procedure<ReaddirplusArgs, ReaddirplusOk, AttributesFail> = {
  number: 17,
  name: 'READDIRPLUS',
  mutates: false,
  idempotent: true,
  decode: (reader) => ({
    object: readFileHandle(reader),
    cookie: reader.uint64('cookie'),
    verifier: Uint8Array.from(reader.fixedOpaque(VERIFIER_BYTES, 'cookieverf')),
    dircount: reader.uint32('dircount'),
    maxcount: reader.uint32('maxcount'),
  }),
  object: (args) => args.object,
  handle: async (call, args) => {
    try {
      const replyBytesMax = Math.min(args.maxcount, DIRECTORY_REPLY_BYTES_MAX);
      // Read before the listing: see directoryAttributes.
      const attributes = await directoryAttributes(call);
      const listing = await listDirectory(
        call,
        { cookie: args.cookie, verifier: args.verifier, withAttributes: true, dir: attributes },
        {
          replyBytesMax,
          // Some clients send a small or zero dircount; the reply size still bounds the work.
          directoryBytesMax: args.dircount === 0 ? replyBytesMax : Math.max(args.dircount, 512),
          sizeOf: (entry) => {
            const base = baseEntrySize(entry.name);
            return { replyBytes: base.replyBytes + PLUS_BYTES, directoryBytes: base.directoryBytes };
          },
        },
      );
      const handles = listing.entries.map(({ entry }) => listedHandle(call, entry));
      return ok({ ...(attributes === undefined ? {} : { attributes }), verifier: call.services.cookies.verifier, listing, handles });
    } catch (error) {
      return failWithAttributes(call, error);
    }
  },
  encodeOk: (writer, result, fsid) => {
    writer.reserve(result.listing.replyBytes);
    writePostOpAttributes(writer, result.attributes, fsid);
    writer.fixedOpaque(result.verifier);
    const { entries } = result.listing;
    for (let index = 0; index < entries.length; index += 1) {
      const { entry, cookie } = entries[index] as Listing['entries'][number];
      writer.bool(true).uint64(entry.handle.id).string(entry.name).uint64(cookie);
      if (entry.attributes === undefined) writer.bool(false);
      else writeFattr(writer.bool(true), entry.attributes, fsid);
      const handle = result.handles[index];
      if (handle === undefined) writer.bool(false);
      else writer.bool(true).opaque(handle);
    }
    writer.bool(false).bool(result.listing.eof);
  },
  encodeFail: encodeAttributesFail,
};
