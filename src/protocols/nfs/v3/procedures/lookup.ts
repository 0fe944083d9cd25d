import type { Attributes, NodeInfo } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { attributesOrNothing, failure, ok, refuse, type Nfs3Call, type Nfs3Procedure } from '../nfs3-procedure.js';
import { Nfs3Status } from '../nfs3-types.js';
import { encodeAttributesFail, readDirOpArgs, type AttributesFail, type DirOpArgs } from './common.js';

/** How far `..` containment checks climb before giving up (deeper trees answer ACCES). */
const ANCESTORS_MAX = 4_096;

interface LookupOk {
  readonly handle: Uint8Array;
  readonly attributes: Attributes;
  readonly dirAttributes?: Attributes;
}

/**
 * RFC 1813 §3.3.3. Core refuses `.` and `..` as names, so they are answered here, and this is
 * where export confinement is enforced: `..` of the export root is the export root (as a mount
 * point's parent is itself to the client), and `..` elsewhere must lead to a directory that is
 * still inside the export (a directory moved out by another protocol cannot be climbed out of).
 */
export const lookupProcedure: Nfs3Procedure<DirOpArgs, LookupOk, AttributesFail> = {
  number: 3,
  name: 'LOOKUP',
  mutates: false,
  idempotent: true,
  decode: readDirOpArgs,
  object: (args) => args.dir,
  handle: async (call, args) => {
    try {
      const found = await find(call, args.name);
      return ok({ handle: call.fileHandle(found.handle), attributes: found.attributes, dirAttributes: await attributesOrNothing(call, call.node) });
    } catch (error) {
      return failure(error, { attributes: await attributesOrNothing(call, call.node) });
    }
  },
  encodeOk: (writer, result, fsid) => {
    writer.opaque(result.handle);
    writePostOpAttributes(writer, result.attributes, fsid);
    writePostOpAttributes(writer, result.dirAttributes, fsid);
  },
  encodeFail: encodeAttributesFail,
};

async function find(call: Nfs3Call, name: string): Promise<NodeInfo> {
  if (name !== '.' && name !== '..') return call.fs.lookup(call.ctx, call.node, name);
  const dir = await call.fs.getattr(call.ctx, call.node);
  if (dir.type !== 'directory') refuse(Nfs3Status.NOTDIR, 'not a directory');
  if (name === '.' || call.node.id === call.exportRoot.id) {
    const node = name === '.' ? call.node : call.exportRoot;
    return { handle: node, attributes: node === call.node ? dir : await call.fs.getattr(call.ctx, node) };
  }
  // Snapshot views are not served over NFSv3 yet (TODO issue 6: .snapshot); handles never name them.
  if (call.node.snapshot !== undefined) refuse(Nfs3Status.ACCES, 'no parent lookup in a snapshot');
  const parent = await call.fs.handleOf(call.ctx, dir.parentId);
  await requireInsideExport(call, parent.id);
  return { handle: parent, attributes: await call.fs.getattr(call.ctx, parent) };
}

async function requireInsideExport(call: Nfs3Call, startId: number): Promise<void> {
  const rootId = (await call.fs.root(call.ctx)).id;
  if (call.exportRoot.id === rootId) return;
  let id = startId;
  for (let step = 0; step < ANCESTORS_MAX; step += 1) {
    if (id === call.exportRoot.id) return;
    if (id === rootId) break;
    const attributes = await call.fs.getattr(call.ctx, await call.fs.handleOf(call.ctx, id));
    id = attributes.parentId;
  }
  refuse(Nfs3Status.ACCES, 'the parent is outside the export');
}
