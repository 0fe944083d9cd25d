import { FsError, assert } from './errors.js';
import { PATH_BYTES_MAX } from './file-system.js';
import { decodeLinkParentKey, linkParentPrefix, prefixEnd, ROOT_ID, type Aggregate, type InodeRecord } from './records.js';
import type { WriteScope } from './scope.js';

/**
 * Directory aggregates: each directory knows the bytes, files, directories and symlinks below it,
 * changed in the same transaction as the change itself, so quotas are exact and capacity by
 * directory is a lookup. A hard-linked file counts under every directory that links it.
 */

export const EMPTY_AGGREGATE: Aggregate = { bytes: 0, files: 0, directories: 0, symlinks: 0 };

/** A name has at least one byte plus a separator, so a path has at most this many levels. */
const DEPTH_MAX = PATH_BYTES_MAX / 2 + 1;
const LINK_PARENTS_MAX = 65_000;
const LINK_PARENTS_PAGE = 1_000;

/** What a node contributes to the aggregate of every directory above it. */
export function contributionOf(record: InodeRecord): Aggregate {
  switch (record.type) {
    case 'file':
      return { bytes: record.size, files: 1, directories: 0, symlinks: 0 };
    case 'symlink':
      return { bytes: 0, files: 0, directories: 0, symlinks: 1 };
    case 'directory': {
      const below = record.aggregate ?? EMPTY_AGGREGATE;
      return { ...below, directories: below.directories + 1 };
    }
  }
}

export function scaleAggregate(aggregate: Aggregate, factor: 1 | -1): Aggregate {
  return {
    bytes: aggregate.bytes * factor,
    files: aggregate.files * factor,
    directories: aggregate.directories * factor,
    symlinks: aggregate.symlinks * factor,
  };
}

/**
 * Adds `delta` to `directoryId` and every directory above it. When bytes grow, every quota on the
 * way must still hold, or the whole operation fails with QuotaExceeded and changes nothing (the
 * caller's transaction is rolled back by the thrown error). Shrinking is always allowed.
 */
export async function adjustAggregates(scope: WriteScope, directoryId: number, delta: Aggregate): Promise<void> {
  if (delta.bytes === 0 && delta.files === 0 && delta.directories === 0 && delta.symlinks === 0) return;
  let id = directoryId;
  for (let depth = 0; depth <= DEPTH_MAX; depth++) {
    const record = await scope.inode(id);
    assert(record !== undefined && record.type === 'directory', `aggregate parent ${id} is a directory`);
    const current = record.aggregate ?? EMPTY_AGGREGATE;
    const next: Aggregate = {
      bytes: current.bytes + delta.bytes,
      files: current.files + delta.files,
      directories: current.directories + delta.directories,
      symlinks: current.symlinks + delta.symlinks,
    };
    if (delta.bytes > 0 && record.quotaBytes !== undefined && next.bytes > record.quotaBytes) {
      throw new FsError('QuotaExceeded', `the quota of ${record.quotaBytes} bytes on directory ${id} would be exceeded`);
    }
    await scope.setInode(id, { ...record, aggregate: next });
    if (id === ROOT_ID) return;
    id = record.parentId;
  }
  assert(false, `directory ${directoryId} is deeper than ${DEPTH_MAX} levels`);
}

/** Every directory holding a link to the node: its first parent, then any further hard links. */
export async function linkParentsOf(scope: WriteScope, id: number, record: InodeRecord): Promise<number[]> {
  if (record.type === 'directory' || record.nlink <= 1) return [record.parentId];
  const prefix = linkParentPrefix(id);
  const end = prefixEnd(prefix);
  const parents = [record.parentId];
  let start = prefix;
  while (parents.length <= LINK_PARENTS_MAX) {
    const entries = await scope.tx.scan({ start, end, limit: LINK_PARENTS_PAGE });
    parents.push(...entries.map((entry) => decodeLinkParentKey(entry.key).parentId));
    const last = entries.at(-1);
    if (entries.length < LINK_PARENTS_PAGE || last === undefined) break;
    start = prefixEnd(last.key);
  }
  return parents;
}

/** Applies a change of a file's size to the aggregates of every directory that links it. */
export async function adjustForSize(scope: WriteScope, id: number, record: InodeRecord, deltaBytes: number): Promise<void> {
  if (deltaBytes === 0) return;
  for (const parentId of await linkParentsOf(scope, id, record)) {
    await adjustAggregates(scope, parentId, { bytes: deltaBytes, files: 0, directories: 0, symlinks: 0 });
  }
}
