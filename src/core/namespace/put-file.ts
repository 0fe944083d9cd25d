import { Right } from '../acl/acl.js';
import { rightsToCreate } from '../acl/rights.js';
import { adjustAggregates, contributionOf } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { findEntry, handleOf, putFoldedName, requireLive, toAttributes, touched, type Engine } from '../engine.js';
import { FILE_BYTES_MAX, WRITE_BYTES_MAX, type CreateResult, type NodeHandle, type PutFileRequest } from '../file-system.js';
import { validateNewName } from '../names.js';
import { requireAccess } from '../permissions.js';
import { direntKey, type DirentRecord } from '../records.js';
import { writeVersion } from '../versions.js';
import { newRecord, requestedMode } from './create.js';
import { dropNode, locate, requireDelete } from './remove.js';
import { encodeXattrs, withXattrs } from './xattrs.js';

/**
 * A whole file in one transaction (FileSystem.putFile): the data's chunks are stored first (a
 * small file goes inline), then one transaction creates the node with its data and extended
 * attributes and gives it `name`, replacing the file that held it as a rename over it would.
 * Readers see the old file or the new one; a refusal or a crash leaves the old one untouched.
 */
export async function putFile(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, name: string, request: PutFileRequest): Promise<CreateResult> {
  requireLive(dirHandle);
  validateNewName(name);
  const { data } = request;
  if (!(data instanceof Uint8Array)) throw new FsError('InvalidArgument', 'data must be bytes');
  if (data.length > WRITE_BYTES_MAX) throw new FsError('InvalidArgument', `a whole-file write is at most ${WRITE_BYTES_MAX} bytes`);
  if (data.length > FILE_BYTES_MAX) throw new FsError('FileTooLarge', `a file is at most ${FILE_BYTES_MAX} bytes`);
  const mode = requestedMode(request.mode, 'file');
  // Validate before any data I/O.
  if (request.xattrs !== undefined) encodeXattrs(request.xattrs);
  const staged = data.length === 0 ? [] : await engine.data.stage(0, data);
  try {
    return await engine.mutate(ctx, async (scope) => {
      const dir = await scope.node(dirHandle);
      if (dir.type !== 'directory') throw new FsError('NotADirectory', 'the parent is not a directory');
      requireAccess(ctx, dir, Right.EXECUTE, 'look up in the directory');
      const existing = await findEntry(scope, dirHandle.id, name);
      if (existing !== undefined) {
        if (request.noReplace === true) throw new FsError('Exists', `"${name}" already exists`);
        const replaced = await locate(scope, ctx, dirHandle, name);
        if (replaced.child.type === 'directory') throw new FsError('IsADirectory', `"${name}" is a directory`);
        requireDelete(ctx, replaced, `replace "${name}"`);
        await dropNode(scope, dirHandle.id, name, replaced);
      }
      requireAccess(ctx, dir, rightsToCreate(false), 'create in the directory');
      const id = await scope.nextNodeId();
      const created = newRecord(engine, scope, ctx, { dir, dirId: dirHandle.id, name, spec: { type: 'file' }, mode });
      const coveredDelta = await engine.data.commit(scope, id, staged);
      const record = withXattrs({ ...created, size: data.length, allocatedBytes: coveredDelta }, request.xattrs ?? {});
      scope.createInode(id, record);
      const dirent: DirentRecord = { id, generation: record.generation, type: 'file' };
      await writeVersion(scope, (born) => direntKey(dirHandle.id, name, born), existing, dirent);
      putFoldedName(scope, dirHandle.id, name);
      const current = await scope.node(dirHandle);
      await scope.setInode(dirHandle.id, touched(current, scope.nowNs, true));
      await adjustAggregates(scope, dirHandle.id, contributionOf(record));
      return { handle: handleOf(id, record), attributes: toAttributes(id, record), created: existing === undefined };
    });
  } catch (error) {
    await engine.data.discard(staged);
    throw error;
  }
}
