import type { OpContext } from '../../../../core/context.js';
import { FsError } from '../../../../core/errors.js';
import type { FileSystem, NodeHandle, NodeInfo, SetAttributes } from '../../../../core/file-system.js';
import type { XdrReader } from '../../xdr/xdr-reader.js';
import { XdrError } from '../../xdr/xdr-reader.js';
import { hasChanges, readSattr } from '../nfs3-attributes.js';
import type { Nfs3Procedure } from '../nfs3-procedure.js';
import { CreateMode, VERIFIER_BYTES } from '../nfs3-types.js';
import { changeInDirectory, created, encodeCreatedOk, encodeDirWccFail, readDirOpArgs, type CreatedOk, type DirOpArgs, type DirWccFail } from './common.js';

type How = { readonly mode: 'unchecked' | 'guarded'; readonly attributes: SetAttributes } | { readonly mode: 'exclusive'; readonly verifier: Uint8Array };

function readHow(reader: XdrReader): How {
  const mode = reader.uint32('createmode3');
  if (mode === CreateMode.UNCHECKED) return { mode: 'unchecked', attributes: readSattr(reader) };
  if (mode === CreateMode.GUARDED) return { mode: 'guarded', attributes: readSattr(reader) };
  if (mode === CreateMode.EXCLUSIVE) return { mode: 'exclusive', verifier: Uint8Array.from(reader.fixedOpaque(VERIFIER_BYTES, 'createverf3')) };
  throw new XdrError(`createmode3 ${mode} is not defined`);
}

/**
 * RFC 1813 §3.3.8. UNCHECKED opens an existing file (applying a size, as a truncating open does);
 * GUARDED fails with EXIST; EXCLUSIVE stores the client's verifier in the new file's atime and
 * mtime seconds (as Linux does), so a retransmitted CREATE finds its own file and succeeds while
 * anyone else's is EXIST. The client then sets the real times with SETATTR (RFC 1813 §3.3.8).
 */
export const createProcedure: Nfs3Procedure<DirOpArgs & { how: How }, CreatedOk, DirWccFail> = {
  number: 8,
  name: 'CREATE',
  mutates: true,
  idempotent: false,
  decode: (reader) => ({ ...readDirOpArgs(reader), how: readHow(reader) }),
  object: (args) => args.dir,
  handle: (call, args) =>
    changeInDirectory(call, async () => {
      const info = args.how.mode === 'exclusive' ? await createExclusive(call.fs, call.ctx, call.node, args.name, args.how.verifier) : await createChecked(call.fs, call.ctx, call.node, args.name, args.how);
      return created(call, info);
    }),
  encodeOk: encodeCreatedOk,
  encodeFail: encodeDirWccFail,
};

async function createChecked(fs: FileSystem, ctx: OpContext, dir: NodeHandle, name: string, how: { mode: 'unchecked' | 'guarded'; attributes: SetAttributes }): Promise<NodeInfo> {
  const { mode, ...rest } = how.attributes;
  const result = await fs.create(ctx, dir, name, { mode: mode ?? 0o644, exclusive: how.mode === 'guarded' });
  // An existing file opened by UNCHECKED only takes a size (a truncating open); a new one takes
  // every attribute the client sent. Ownership is a chown that core allows or refuses.
  const later = withoutOwnerNoOps(result.created ? rest : rest.size !== undefined ? { size: rest.size } : {}, result.attributes);
  if (!hasChanges(later)) return result;
  return { handle: result.handle, attributes: await fs.setattr(ctx, result.handle, later) };
}

/** Drops uid/gid equal to the current ones: a no-op chown must not fail for a non-owner. */
function withoutOwnerNoOps(changes: SetAttributes, current: { uid: number; gid: number }): SetAttributes {
  const { uid, gid, ...rest } = changes;
  return { ...rest, ...(uid !== undefined && uid !== current.uid ? { uid } : {}), ...(gid !== undefined && gid !== current.gid ? { gid } : {}) };
}

function verifierTimes(verifier: Uint8Array): { atime: bigint; mtime: bigint } {
  const view = Buffer.from(verifier);
  return { atime: BigInt(view.readUInt32BE(0)) * 1_000_000_000n, mtime: BigInt(view.readUInt32BE(4)) * 1_000_000_000n };
}

async function createExclusive(fs: FileSystem, ctx: OpContext, dir: NodeHandle, name: string, verifier: Uint8Array): Promise<NodeInfo> {
  const times = verifierTimes(verifier);
  try {
    const result = await fs.create(ctx, dir, name, { mode: 0o600, exclusive: true });
    return { handle: result.handle, attributes: await fs.setattr(ctx, result.handle, { atime: times.atime, mtime: times.mtime }) };
  } catch (error) {
    if (!(error instanceof FsError) || error.code !== 'Exists') throw error;
    const existing = await fs.lookup(ctx, dir, name);
    const same = existing.attributes.type === 'file' && existing.attributes.atimeNs === times.atime && existing.attributes.mtimeNs === times.mtime;
    if (!same) throw error;
    return existing;
  }
}
