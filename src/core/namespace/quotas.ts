import { Right } from '../acl/acl.js';
import { EMPTY_AGGREGATE } from '../aggregates.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { requireLive, touched, type Engine } from '../engine.js';
import type { FsStats, NodeHandle, QuotaStatus } from '../file-system.js';
import { isSuperuser, requireAccess } from '../permissions.js';
import { decodeQuotaKey, encodeJson, prefixEnd, quotaKey, RecordType, ROOT_ID, typePrefix, type InodeRecord } from '../records.js';
import type { ReadScope } from '../scope.js';
import { cachedSnapshotsTotalBytes } from '../snapshot/space.js';

const QUOTA_BYTES_MAX = Number.MAX_SAFE_INTEGER;
const QUOTA_PAGE_MAX = 1_000;
/** What statfs reports as the file-count capacity: no fixed inode table limits the count. */
const FILES_MAX = 2 ** 48;

/**
 * Hard directory quotas: a limit on the logical bytes below a directory (its aggregate), enforced
 * on every path that grows data (aggregates.ts). Setting a quota is an administrative act: only a
 * superuser context (the management API, after its own authorisation) may do it.
 */
export async function setQuota(engine: Engine, ctx: OpContext, handle: NodeHandle, limitBytes: number | null): Promise<void> {
  requireLive(handle);
  if (limitBytes !== null && (!Number.isSafeInteger(limitBytes) || limitBytes < 0 || limitBytes > QUOTA_BYTES_MAX)) {
    throw new FsError('InvalidArgument', 'a quota limit is a non-negative integer number of bytes');
  }
  if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', 'only an administrator may set quotas');
  await engine.mutate(ctx, async (scope) => {
    const record = await scope.node(handle);
    if (record.type !== 'directory') throw new FsError('NotADirectory', 'quotas apply to directories');
    const next: InodeRecord = { ...touched(record, scope.nowNs, false) };
    if (limitBytes === null) {
      delete next.quotaBytes;
      scope.tx.delete(quotaKey(handle.id));
    } else {
      next.quotaBytes = limitBytes;
      scope.tx.put(quotaKey(handle.id), encodeJson(limitBytes));
    }
    await scope.setInode(handle.id, next);
  });
}

function statusOf(id: number, record: InodeRecord): QuotaStatus | undefined {
  if (record.quotaBytes === undefined) return undefined;
  return { directoryId: id, limitBytes: record.quotaBytes, usedBytes: (record.aggregate ?? EMPTY_AGGREGATE).bytes };
}

export async function getQuota(engine: Engine, ctx: OpContext, handle: NodeHandle): Promise<QuotaStatus | undefined> {
  return engine.inspect(ctx, handle, async (scope) => {
    const record = await scope.node(handle);
    requireAccess(ctx, record, Right.READ_ATTRIBUTES, 'read the quota');
    return statusOf(handle.id, record);
  });
}

export async function listQuotas(engine: Engine, ctx: OpContext, options: { cursor?: string; limit: number }): Promise<{ quotas: QuotaStatus[]; cursor?: string }> {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > QUOTA_PAGE_MAX) {
    throw new FsError('InvalidArgument', `limit must be between 1 and ${QUOTA_PAGE_MAX}`);
  }
  const after = options.cursor === undefined ? undefined : Number(options.cursor);
  if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) throw new FsError('InvalidArgument', 'invalid quota cursor');
  return engine.inspect(ctx, undefined, async (scope) => {
    const start = after === undefined ? typePrefix(RecordType.quota) : prefixEnd(quotaKey(after));
    const entries = await scope.tx.scan({ start, end: prefixEnd(typePrefix(RecordType.quota)), limit: options.limit });
    const quotas: QuotaStatus[] = [];
    for (const entry of entries) {
      const id = decodeQuotaKey(entry.key);
      const record = await scope.inode(id);
      const status = record === undefined ? undefined : statusOf(id, record);
      if (status !== undefined) quotas.push(status);
    }
    const last = entries.at(-1);
    return entries.length === options.limit && last !== undefined ? { quotas, cursor: String(decodeQuotaKey(last.key)) } : { quotas };
  });
}

/** The nearest quota at or above a node, which bounds what can still be written there. */
async function nearestQuota(scope: ReadScope, id: number): Promise<QuotaStatus | undefined> {
  let current = id;
  for (let depth = 0; depth < 4096; depth++) {
    const record = await scope.inode(current);
    if (record === undefined) return undefined;
    const status = record.type === 'directory' ? statusOf(current, record) : undefined;
    if (status !== undefined) return status;
    if (current === ROOT_ID) return undefined;
    current = record.parentId;
  }
  return undefined;
}

/**
 * Capacity as seen from a node: the data store's free space, bounded by the nearest quota above
 * the node (so `df` on an NFS client shows the quota, as administrators expect).
 */
export async function statfs(engine: Engine, ctx: OpContext, handle?: NodeHandle): Promise<FsStats> {
  const capacity = await engine.chunks.capacity();
  const snapshotBytes = cachedSnapshotsTotalBytes(engine);
  return engine.inspect(ctx, handle, async (scope) => {
    const root = await scope.inode(ROOT_ID);
    const rootAggregate = root?.aggregate ?? EMPTY_AGGREGATE;
    const quota = handle === undefined ? await nearestQuota(scope, ROOT_ID) : await nearestQuota(scope, (await scope.node(handle)) && handle.id);
    const files = rootAggregate.files + rootAggregate.directories + rootAggregate.symlinks + 1;
    if (quota === undefined) {
      return {
        totalBytes: capacity.totalBytes,
        freeBytes: capacity.freeBytes,
        availableBytes: capacity.freeBytes,
        usedBytes: rootAggregate.bytes,
        snapshotBytes,
        totalFiles: FILES_MAX,
        freeFiles: FILES_MAX - files,
      };
    }
    const free = Math.max(0, Math.min(quota.limitBytes - quota.usedBytes, capacity.freeBytes));
    return { totalBytes: quota.limitBytes, freeBytes: free, availableBytes: free, usedBytes: quota.usedBytes, snapshotBytes, totalFiles: FILES_MAX, freeFiles: FILES_MAX - files };
  });
}
