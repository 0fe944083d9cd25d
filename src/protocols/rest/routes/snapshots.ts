import Type from 'typebox';
import type { Logger } from 'pino';
import { systemContext } from '../../../core/context.js';
import type { CoreFileSystem } from '../../../core/core-file-system.js';
import { FsError } from '../../../core/errors.js';
import type { SnapshotInfo } from '../../../core/snapshot/snapshots.js';
import type { LockChallenges } from '../../../snapshots/lock-challenges.js';
import type { SecurityKeyStore } from '../../../snapshots/security-keys.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { NoContent } from '../schemas.js';
import type { ConsistencyReport } from '../../../core/check/consistency-check.js';
import type { NodeHandle } from '../../../core/file-system.js';
import { callerContext, parseRef, splitParent } from './files-common.js';

export interface SnapshotRouteDependencies {
  readonly fs: CoreFileSystem;
  readonly keys: SecurityKeyStore;
  readonly challenges: LockChallenges;
  readonly logger: Logger;
}

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) }, { additionalProperties: false });
const DiffParams = Type.Object({ newer: Type.String({ pattern: '^([0-9]{1,15}|live)$' }), older: Type.String({ pattern: '^[0-9]{1,15}$' }) }, { additionalProperties: false });
const DiffQuery = Type.Object({ after: Type.Optional(Type.String({ maxLength: 4096 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }, { additionalProperties: false });
const FileDiffParams = Type.Object(
  { newer: Type.String({ pattern: '^([0-9]{1,15}|live)$' }), older: Type.String({ pattern: '^[0-9]{1,15}$' }), ref: Type.String({ minLength: 1, maxLength: 4200 }) },
  { additionalProperties: false },
);
const FsckQuery = Type.Object({ time_limit_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600 })) }, { additionalProperties: false });
const FSCK_TIME_LIMIT_SECONDS = 300;
const Expiration = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const CreateBody = Type.Object(
  {
    source_path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    source_file_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    name_suffix: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^/\\u0000]+$' })),
    expiration: Type.Optional(Expiration),
    lock_key_ref: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object({ expiration: Expiration }, { additionalProperties: false });
const LockBody = Type.Object({ lock_key_ref: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const UnlockBody = Type.Object({ signature: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
const RestoreBody = Type.Object(
  {
    source_path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'what to restore, relative to the snapshot\'s directory; default "/" (all of it)' })),
    target_path: Type.String({ minLength: 2, maxLength: 4096, pattern: '^/', description: 'the absolute live path the restored file or directory takes' }),
    overwrite: Type.Optional(Type.Boolean({ description: 'replace an existing file, merge into an existing directory (default false: 409 if it exists)' })),
  },
  { additionalProperties: false },
);
const RestoreAnswer = Type.Object({
  id: Type.String(),
  path: Type.String(),
  files: Type.Integer(),
  directories: Type.Integer(),
  symlinks: Type.Integer(),
  hard_links: Type.Integer(),
  bytes: Type.String(),
  replaced: Type.Integer(),
  owners_not_kept: Type.Integer(),
});
const Paging = Type.Object({ next: Type.Optional(Type.String({ description: 'the URL of the next page' })) });
const CapacityEntry = Type.Object({ id: Type.Integer(), capacity_used_bytes: Type.String({ description: 'bytes, decimal' }) });
const ChangesAnswer = Type.Object({
  entries: Type.Array(Type.Object({ op: Type.Union([Type.Literal('CREATE'), Type.Literal('MODIFY'), Type.Literal('DELETE')]), path: Type.String({ description: "relative to the snapshots' directory" }) })),
  paging: Paging,
});
const FileChangesAnswer = Type.Object({
  entries: Type.Array(Type.Object({ type: Type.Union([Type.Literal('FILE_REGION_DATA'), Type.Literal('FILE_REGION_HOLE')]), offset: Type.String(), size: Type.String() })),
  paging: Paging,
});
const FsckAnswer = Type.Object({
  ok: Type.Boolean(),
  complete: Type.Boolean({ description: 'False when the check stopped at its time limit: problems covers what it read.' }),
  problems: Type.Array(Type.String()),
  nodes: Type.Integer(),
  entries: Type.Integer(),
  referenced_chunks: Type.Integer(),
  unreferenced_chunks: Type.Integer(),
  snapshots: Type.Integer(),
  kept_versions: Type.Integer(),
  untrimmed_change_log_entries: Type.Integer(),
});
const SnapshotAnswer = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  name_suffix: Type.String(),
  timestamp: Type.String(),
  expiration: Type.Union([Type.String(), Type.Null()]),
  source_file_id: Type.String(),
  locked: Type.Boolean(),
  lock_key_id: Type.Union([Type.String(), Type.Null()]),
  created_by: Type.String(),
});

function isoOfNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return new Date(ms).toISOString();
}

function nsOfIso(text: string): bigint {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new ApiError(400, 'http_bad_request_error', 'expiration is not a date');
  return BigInt(ms) * 1_000_000n;
}

export function presentSnapshot(info: SnapshotInfo): Record<string, unknown> {
  return {
    id: info.id,
    name: info.directoryName,
    name_suffix: info.name,
    timestamp: isoOfNs(info.createdAtNs),
    expiration: info.expirationNs === undefined ? null : isoOfNs(info.expirationNs),
    source_file_id: String(info.rootId),
    locked: info.lockKeyId !== undefined,
    lock_key_id: info.lockKeyId ?? null,
    created_by: info.source ?? 'user',
  };
}

/**
 * Snapshots over REST (CONTRACT.md): on demand with an expiration, list, get, change the
 * expiration, delete; lock with a registered ECDSA key and unlock by signing a single-use
 * challenge; changes between two snapshots or a snapshot and the live tree; restore from a
 * snapshot to the live tree (as the caller, under the ACLs). The lock rules are
 * enforced by core itself, so no path around this API can delete a locked snapshot either.
 */
export function snapshotRoutes(deps: SnapshotRouteDependencies): ApiRoute[] {
  const { fs, keys, challenges } = deps;
  const system = () => systemContext(deps.logger, 'snapshots-api');
  const byId = async (id: string): Promise<SnapshotInfo> => fs.getSnapshot(system(), Number(id));
  let fsckRunning: Promise<ConsistencyReport> | undefined;
  /** A file of the newer state: an id (a live file), or a path relative to the snapshots' directory. */
  const fileOf = async (ref: string, newer: string, older: number): Promise<NodeHandle> => {
    const ctx = system();
    const parsed = parseRef(ref);
    if (parsed.kind === 'id') return fs.handleOf(ctx, parsed.id);
    const base = newer === 'live' ? await fs.handleOf(ctx, (await fs.getSnapshot(ctx, older)).rootId) : await fs.snapshotRoot(ctx, Number(newer));
    const relative = parsed.path.replace(/^\/+/, '');
    return relative === '' ? base : (await fs.resolvePath(ctx, relative, { from: base, followFinalSymlink: false })).handle;
  };
  return [
    {
      method: 'GET', url: '/v1/snapshots/total-used-capacity', privilege: 'SNAPSHOT_READ',
      summary: 'Data bytes all snapshots hold together (what deleting every snapshot would free); cost grows with the changes since the oldest snapshot.',
      schema: { response: { 200: Type.Object({ bytes: Type.String({ description: 'decimal' }) }) } },
      handler: async () => ({ bytes: String(await fs.snapshotsTotalBytes(system())) }),
    },
    {
      method: 'GET', url: '/v1/snapshots/capacity-used-per-snapshot', privilege: 'SNAPSHOT_READ',
      summary: 'For every snapshot, the data bytes only it holds (what deleting it would free).',
      schema: { response: { 200: Type.Object({ entries: Type.Array(CapacityEntry) }) } },
      handler: async () => {
        const entries = [];
        for (const info of fs.listSnapshots()) entries.push({ id: info.id, capacity_used_bytes: String((await fs.snapshotSpace(system(), info.id)).exclusiveBytes) });
        return { entries };
      },
    },
    {
      method: 'GET', url: '/v1/snapshots/capacity-used-per-snapshot/:id', privilege: 'SNAPSHOT_READ',
      summary: 'The data bytes only this snapshot holds (what deleting it would free); cost grows with the changes since it.',
      schema: { params: IdParams, response: { 200: CapacityEntry } },
      handler: async (request) => {
        const id = Number((request.params as { id: string }).id);
        return { id, capacity_used_bytes: String((await fs.snapshotSpace(system(), id)).exclusiveBytes) };
      },
    },
    {
      method: 'POST', url: '/v1/maintenance/fsck', privilege: 'SECURITY_READ',
      summary: 'Online, read-only consistency check of every reference (fsck): changes nothing; one at a time; time-limited (?time_limit_seconds=, default 300).',
      schema: { querystring: FsckQuery, response: { 200: FsckAnswer } },
      handler: async (request) => {
        const body = request.query as { time_limit_seconds?: number };
        const limitMs = (body.time_limit_seconds ?? FSCK_TIME_LIMIT_SECONDS) * 1_000;
        // One check at a time: a second caller shares the running one's report.
        fsckRunning ??= fs.checkConsistency(system(), { deadlineMs: Date.now() + limitMs }).finally(() => {
          fsckRunning = undefined;
        });
        const report = await fsckRunning;
        return {
          ok: report.ok,
          complete: report.complete,
          problems: report.problems,
          nodes: report.nodes,
          entries: report.entries,
          referenced_chunks: report.referencedChunks,
          unreferenced_chunks: report.unreferencedChunks,
          snapshots: report.snapshots,
          kept_versions: report.keptVersions,
          untrimmed_change_log_entries: report.untrimmedChangeLogEntries,
        };
      },
    },
    {
      method: 'GET', url: '/v1/snapshots', privilege: 'SNAPSHOT_READ', summary: 'Every snapshot, oldest first.',
      schema: { response: { 200: Type.Object({ entries: Type.Array(SnapshotAnswer) }) } },
      handler: async () => ({ entries: fs.listSnapshots().map(presentSnapshot) }),
    },
    {
      method: 'POST', url: '/v1/snapshots', privilege: 'SNAPSHOT_WRITE', summary: 'Take a snapshot of a directory now (O(1), no space until data changes).',
      schema: { body: CreateBody, response: { 201: SnapshotAnswer } },
      handler: async (request, reply) => {
        const body = request.body as { source_path?: string; source_file_id?: string; name_suffix?: string; expiration?: string | null; lock_key_ref?: string };
        if ((body.source_path === undefined) === (body.source_file_id === undefined)) throw new ApiError(400, 'http_bad_request_error', 'give exactly one of source_path and source_file_id');
        const ctx = system();
        const dir = body.source_path !== undefined ? (await fs.resolvePath(ctx, body.source_path)).handle : await fs.handleOf(ctx, Number(body.source_file_id));
        const lockKeyId = body.lock_key_ref === undefined ? undefined : (await keys.resolveForLocking(body.lock_key_ref)).id;
        const info = await fs.createSnapshot(ctx, dir, {
          name: body.name_suffix ?? 'on_demand',
          ...(body.expiration === undefined || body.expiration === null ? {} : { expirationNs: nsOfIso(body.expiration) }),
          ...(lockKeyId === undefined ? {} : { lockKeyId }),
        });
        return reply.code(201).send(presentSnapshot(info));
      },
    },
    {
      method: 'GET', url: '/v1/snapshots/:id', privilege: 'SNAPSHOT_READ', summary: 'One snapshot.', schema: { params: IdParams, response: { 200: SnapshotAnswer } },
      handler: async (request) => presentSnapshot(await byId((request.params as { id: string }).id)),
    },
    {
      method: 'PATCH', url: '/v1/snapshots/:id', privilege: 'SNAPSHOT_WRITE', summary: 'Change the expiration (a locked snapshot\'s may only move later).',
      schema: { params: IdParams, body: PatchBody, response: { 200: SnapshotAnswer } },
      handler: async (request) => {
        const { expiration } = request.body as { expiration: string | null };
        return presentSnapshot(await fs.setSnapshotExpiration(system(), Number((request.params as { id: string }).id), expiration === null ? null : nsOfIso(expiration)));
      },
    },
    {
      method: 'DELETE', url: '/v1/snapshots/:id', privilege: 'SNAPSHOT_WRITE', summary: 'Delete a snapshot (not a locked one); its space is reclaimed in the background.',
      schema: { params: IdParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        const id = Number((request.params as { id: string }).id);
        await fs.deleteSnapshot(system(), id);
        challenges.forget(String(id));
        return reply.code(204).send();
      },
    },
    {
      method: 'POST', url: '/v1/snapshots/:id/lock', privilege: 'SNAPSHOT_WRITE', summary: 'Lock a snapshot with a registered ECDSA key.',
      schema: { params: IdParams, body: LockBody, response: { 200: SnapshotAnswer } },
      handler: async (request) => {
        const key = await keys.resolveForLocking((request.body as { lock_key_ref: string }).lock_key_ref);
        const info = await byId((request.params as { id: string }).id);
        if (info.lockKeyId !== undefined) throw new ApiError(409, 'snapshot_already_locked_error', 'the snapshot is already locked');
        return presentSnapshot(await fs.setSnapshotLock(system(), info.id, key.id));
      },
    },
    {
      method: 'GET', url: '/v1/snapshots/:id/unlock-challenge', privilege: 'SNAPSHOT_WRITE', summary: 'A single-use challenge to sign with the lock key\'s private key.',
      schema: { params: IdParams, response: { 200: Type.Object({ challenge: Type.String() }) } },
      handler: async (request) => {
        const info = await byId((request.params as { id: string }).id);
        if (info.lockKeyId === undefined) throw new ApiError(409, 'snapshot_not_locked_error', 'the snapshot is not locked');
        return { challenge: await challenges.issueChallenge({ id: String(info.id), expirationNs: info.expirationNs ?? null, lockKeyId: info.lockKeyId }) };
      },
    },
    {
      method: 'POST', url: '/v1/snapshots/:id/unlock', privilege: 'SNAPSHOT_WRITE', summary: 'Unlock with a signature (base64 DER ECDSA-SHA256) over the challenge.',
      schema: { params: IdParams, body: UnlockBody, response: { 200: SnapshotAnswer } },
      handler: async (request) => {
        const info = await byId((request.params as { id: string }).id);
        if (info.lockKeyId === undefined) throw new ApiError(409, 'snapshot_not_locked_error', 'the snapshot is not locked');
        await challenges.verifyUnlock({ id: String(info.id), expirationNs: info.expirationNs ?? null, lockKeyId: info.lockKeyId }, (request.body as { signature: string }).signature);
        // The challenge was bound to this expiration and key; refuse if either moved meanwhile.
        const current = await byId(String(info.id));
        if (current.lockKeyId !== info.lockKeyId || current.expirationNs !== info.expirationNs) throw new FsError('Conflict', 'the snapshot changed while it was being unlocked; ask for a new challenge');
        challenges.forget(String(info.id));
        return presentSnapshot(await fs.setSnapshotLock(system(), info.id, null));
      },
    },
    {
      // FILE_WRITE, not SNAPSHOT_WRITE: a restore changes no snapshot, it writes files, and it runs
      // as the caller's own file-system identity, so the ACLs decide what may be read from the
      // snapshot and written at the destination, exactly as over any protocol.
      method: 'POST', url: '/v1/snapshots/:id/restore', privilege: 'FILE_WRITE',
      summary: 'Restore a file or a directory tree from a snapshot to a live path, sharing chunks (no data is copied); keeps data, mode, ACL, extended attributes, times and (when the caller may) owners. 409 if the target exists unless overwrite.',
      schema: { params: IdParams, body: RestoreBody, response: { 200: RestoreAnswer } },
      handler: async (request) => {
        const id = Number((request.params as { id: string }).id);
        const body = request.body as { source_path?: string; target_path: string; overwrite?: boolean };
        const ctx = callerContext(request, deps.logger);
        const snapshotDir = await fs.snapshotRoot(ctx, id);
        const relative = (body.source_path ?? '/').replace(/^\/+/, '');
        const source = relative === '' ? snapshotDir : (await fs.resolvePath(ctx, relative, { from: snapshotDir, followFinalSymlink: false })).handle;
        const { parent, name } = splitParent(body.target_path);
        const targetDir = (await fs.resolvePath(ctx, parent)).handle;
        const summary = await fs.restoreFromSnapshot(ctx, { source, targetDir, targetName: name, overwrite: body.overwrite === true });
        return {
          id: String(summary.handle.id),
          path: `${parent === '/' ? '' : parent}/${name}`,
          files: summary.files,
          directories: summary.directories,
          symlinks: summary.symlinks,
          hard_links: summary.hardLinks,
          bytes: String(summary.bytes),
          replaced: summary.replaced,
          owners_not_kept: summary.ownersNotKept,
        };
      },
    },
    {
      method: 'GET', url: '/v1/snapshots/:newer/changes-since/:older', privilege: 'SNAPSHOT_READ',
      summary: 'CREATE / MODIFY / DELETE by path between two snapshots of one directory ({newer} may be "live"); cost grows with the changes, not the tree.',
      schema: { params: DiffParams, querystring: DiffQuery, response: { 200: ChangesAnswer } },
      handler: async (request) => {
        const params = request.params as { newer: string; older: string };
        const query = request.query as { after?: string; limit?: number };
        const page = await fs.changesSince(system(), {
          newer: params.newer === 'live' ? 'live' : Number(params.newer),
          older: Number(params.older),
          limit: query.limit ?? 1000,
          ...(query.after === undefined ? {} : { cursor: query.after }),
        });
        const next = page.cursor === undefined ? undefined : `/v1/snapshots/${params.newer}/changes-since/${params.older}?after=${encodeURIComponent(page.cursor)}&limit=${query.limit ?? 1000}`;
        return { entries: page.entries, paging: next === undefined ? {} : { next } };
      },
    },
    {
      method: 'GET', url: '/v1/snapshots/:newer/changes-since/:older/files/:ref', privilege: 'SNAPSHOT_READ',
      summary: 'The changed byte regions of one file ({ref}: a file id, or a URL-encoded path relative to the snapshots\' directory): entries [{type FILE_REGION_DATA|FILE_REGION_HOLE, offset, size}].',
      schema: { params: FileDiffParams, querystring: DiffQuery, response: { 200: FileChangesAnswer } },
      handler: async (request) => {
        const params = request.params as { newer: string; older: string; ref: string };
        const query = request.query as { after?: string; limit?: number };
        const older = Number(params.older);
        const file = await fileOf(params.ref, params.newer, older);
        const page = await fs.fileChangesSince(system(), {
          file,
          older,
          newer: params.newer === 'live' ? 'live' : Number(params.newer),
          limit: query.limit ?? 1000,
          ...(query.after === undefined ? {} : { cursor: query.after }),
        });
        const entries = page.regions.map((region) => ({ type: region.hole === true ? 'FILE_REGION_HOLE' : 'FILE_REGION_DATA', offset: String(region.offset), size: String(region.length) }));
        const next = page.cursor === undefined ? undefined : `/v1/snapshots/${params.newer}/changes-since/${params.older}/files/${encodeURIComponent(params.ref)}?after=${encodeURIComponent(page.cursor)}&limit=${query.limit ?? 1000}`;
        return { entries, paging: next === undefined ? {} : { next } };
      },
    },
  ];
}
