import { SNAPSHOT_DIRECTORY } from '../../../../core/engine.js';
import { isFsError } from '../../../../core/errors.js';
import type { Attributes, NodeHandle, NodeInfo } from '../../../../core/file-system.js';
import { writePostOpAttributes } from '../nfs3-attributes.js';
import { attributesOrNothing, failure, ok, refuse, type Nfs3Call, type Nfs3Procedure } from '../nfs3-procedure.js';
import { Nfs3Failure } from '../nfs3-errors.js';
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
 *
 * Snapshots: `.snapshot` in a live directory is core's virtual directory (handle snapshot 0), and
 * `{id}_{name}` in it is that directory as in the snapshot. `..` climbs back the way a client came
 * in: from `.snapshot` to its live directory; inside a snapshot to the parent as it was in that
 * snapshot, checked against the export root in the same view; and from the top of a snapshot
 * view (the export root or the snapshot's own root) to the `.snapshot` directory of that node.
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
  const viewTop = call.node.snapshot === undefined || call.node.snapshot === SNAPSHOT_DIRECTORY;
  if (name === '.' || (call.node.id === call.exportRoot.id && viewTop)) {
    const node = name === '.' ? call.node : call.exportRoot;
    return { handle: node, attributes: node === call.node ? dir : await call.fs.getattr(call.ctx, node) };
  }
  if (call.node.snapshot === SNAPSHOT_DIRECTORY) {
    const live = { id: call.node.id, generation: call.node.generation };
    return { handle: live, attributes: await call.fs.getattr(call.ctx, live) };
  }
  if (call.node.snapshot !== undefined) return snapshotParent(call, call.node.snapshot, dir);
  const parent = await call.fs.handleOf(call.ctx, dir.parentId);
  await requireInsideExport(call, parent.id);
  return { handle: parent, attributes: await call.fs.getattr(call.ctx, parent) };
}

/** `..` of a directory in snapshot `snapshot` (not the export root, which is handled above). */
async function snapshotParent(call: Nfs3Call, snapshot: number, dir: Attributes): Promise<NodeInfo> {
  const top: NodeHandle = { id: call.node.id, generation: call.node.generation, snapshot: SNAPSHOT_DIRECTORY };
  const toTop = async (): Promise<NodeInfo> => ({ handle: top, attributes: await call.fs.getattr(call.ctx, top) });
  const rootId = snapshotRootId(call, snapshot);
  if (rootId === undefined || call.node.id === rootId || call.node.id === call.exportRoot.id) return toTop();
  let parent: NodeInfo | undefined;
  try {
    parent = await inSnapshot(call, dir.parentId, snapshot);
    // Confinement in the snapshot's own view: climbing from the parent reaches the export root,
    // or the snapshot's root, which must then be inside the export in the live tree.
    let attributes = parent.attributes;
    let id = parent.handle.id;
    for (let step = 0; ; step += 1) {
      if (id === call.exportRoot.id) break;
      if (id === rootId) {
        await requireInsideExport(call, rootId);
        break;
      }
      if (step >= ANCESTORS_MAX) refuse(Nfs3Status.ACCES, 'the parent is outside the export');
      id = attributes.parentId;
      attributes = (await inSnapshot(call, id, snapshot)).attributes;
    }
  } catch (error) {
    // The parent is gone from the live tree (its generation is unknown) or left the export.
    if (!isFsError(error) && !(error instanceof Nfs3Failure)) throw error;
    return toTop();
  }
  return parent;
}

async function inSnapshot(call: Nfs3Call, id: number, snapshot: number): Promise<NodeInfo> {
  const live = await call.fs.handleOf(call.ctx, id);
  const handle: NodeHandle = { id, generation: live.generation, snapshot };
  return { handle, attributes: await call.fs.getattr(call.ctx, handle) };
}

/** The root directory of a snapshot, from the core file system's snapshot list when it has one. */
function snapshotRootId(call: Nfs3Call, snapshot: number): number | undefined {
  const list = (call.fs as { listSnapshots?: () => ReadonlyArray<{ id: number; rootId: number }> }).listSnapshots;
  return typeof list === 'function' ? list.call(call.fs).find((candidate) => candidate.id === snapshot)?.rootId : undefined;
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
