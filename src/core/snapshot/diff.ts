import type { ReadTransaction } from '../../storage/metadata/metadata-store.js';
import { KeyReader } from '../../storage/metadata/tuple.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import type { Engine } from '../engine.js';
import { isSuperuser } from '../permissions.js';
import {
  changeByEpochPrefix,
  changeByRecordKey,
  decodeDirentKey,
  direntNamePrefix,
  inodePrefix,
  prefixEnd,
  RecordType,
  typePrefix,
  type DirentRecord,
  type InodeRecord,
  type SnapshotRecord,
} from '../records.js';
import { readVersion } from '../versions.js';

export type ChangeOp = 'CREATE' | 'MODIFY' | 'DELETE';

export interface Change {
  readonly op: ChangeOp;
  /** Relative to the snapshots' directory, starting with '/'. */
  readonly path: string;
}

export interface ChangesPage {
  readonly entries: readonly Change[];
  readonly cursor?: string;
}

const PATH_DEPTH_MAX = 2_100;
export const CHANGES_LIMIT_MAX = 10_000;

/** The path of node `id` under `rootId` at `epoch` (undefined: live), or undefined if not under it. */
async function pathUnder(tx: ReadTransaction, id: number, rootId: number, epoch: number | undefined): Promise<string | undefined> {
  const names: string[] = [];
  let current = id;
  for (let depth = 0; depth < PATH_DEPTH_MAX; depth++) {
    if (current === rootId) return `/${names.reverse().join('/')}`;
    const version = await readVersion<InodeRecord>(tx, inodePrefix(current), epoch);
    if (version === undefined || version.record.parentId === current) return undefined;
    names.push(version.record.name ?? '');
    current = version.record.parentId;
  }
  return undefined;
}

/**
 * What changed in a snapshot's directory between an older snapshot and a newer one (or the live
 * tree), by path: CREATE, MODIFY, DELETE. Walks the change log between the two epochs, so the
 * cost grows with the number of changes, never with the size of the tree. A record changed in
 * several epochs is reported once (at its last change in the range). Paginated with an opaque
 * cursor.
 */
export async function changesSince(
  engine: Engine,
  ctx: OpContext,
  request: { newer: number | 'live'; older: number; cursor?: string; limit: number },
): Promise<ChangesPage> {
  if (!isSuperuser(ctx)) throw new FsError('PermissionDenied', 'only an administrator may read snapshot differences');
  if (!Number.isInteger(request.limit) || request.limit < 1 || request.limit > CHANGES_LIMIT_MAX) throw new FsError('InvalidArgument', `limit must be between 1 and ${CHANGES_LIMIT_MAX}`);
  const older = engine.snapshots.get(request.older);
  if (older === undefined) throw new FsError('NotFound', `no snapshot ${request.older}`);
  const newer: SnapshotRecord | undefined = request.newer === 'live' ? undefined : engine.snapshots.get(request.newer);
  if (request.newer !== 'live' && newer === undefined) throw new FsError('NotFound', `no snapshot ${request.newer}`);
  if (newer !== undefined && newer.rootId !== older.rootId) throw new FsError('InvalidArgument', 'the two snapshots are of different directories');
  if (newer !== undefined && newer.epoch <= older.epoch) throw new FsError('InvalidArgument', 'the newer snapshot must be taken after the older one');
  const newerEpoch = newer?.epoch;
  const startKey = request.cursor === undefined ? changeByEpochPrefix(older.epoch + 1) : prefixEnd(decodeCursor(request.cursor));
  const endKey = newerEpoch === undefined ? prefixEnd(typePrefix(RecordType.changeByEpoch)) : changeByEpochPrefix(newerEpoch + 1);
  return engine.metadata.read(async (tx) => {
    const entries: Change[] = [];
    let start = startKey;
    for (;;) {
      const page = await tx.scan({ start, end: endKey, limit: request.limit });
      for (const logEntry of page) {
        const epoch = new KeyReader(logEntry.key.subarray(1)).uint();
        const recordPrefix = logEntry.key.subarray(9);
        if (await changedLaterInRange(tx, recordPrefix, epoch, newerEpoch)) continue;
        const change = await describe(tx, recordPrefix, older, newerEpoch);
        if (change !== undefined) entries.push(change);
        if (entries.length === request.limit) return { entries, cursor: encodeCursor(logEntry.key) };
      }
      const last = page.at(-1);
      if (page.length < request.limit || last === undefined) return { entries };
      start = prefixEnd(last.key);
    }
  });
}

async function changedLaterInRange(tx: ReadTransaction, recordPrefix: Uint8Array, epoch: number, newerEpoch: number | undefined): Promise<boolean> {
  const end = newerEpoch === undefined ? prefixEnd(changeByRecordKey(recordPrefix, 0).subarray(0, recordPrefix.length + 1)) : changeByRecordKey(recordPrefix, newerEpoch + 1);
  const later = await tx.scan({ start: changeByRecordKey(recordPrefix, epoch + 1), end, limit: 1 });
  return later.length > 0;
}

async function describe(tx: ReadTransaction, recordPrefix: Uint8Array, older: SnapshotRecord, newerEpoch: number | undefined): Promise<Change | undefined> {
  const root = older.rootId;
  if (recordPrefix[0] === RecordType.dirent) {
    const { parentId, name } = decodeDirentKey(Uint8Array.from([...recordPrefix, 0, 0, 0, 0, 0, 0, 0, 0]));
    const before = await readVersion<DirentRecord>(tx, direntNamePrefix(parentId, name), older.epoch);
    const after = await readVersion<DirentRecord>(tx, direntNamePrefix(parentId, name), newerEpoch);
    if (before === undefined && after !== undefined) return withPath('CREATE', await pathUnder(tx, parentId, root, newerEpoch), name);
    if (before !== undefined && after === undefined) return withPath('DELETE', await pathUnder(tx, parentId, root, older.epoch), name);
    if (before !== undefined && after !== undefined && before.record.id !== after.record.id) return withPath('MODIFY', await pathUnder(tx, parentId, root, newerEpoch), name);
    return undefined;
  }
  if (recordPrefix[0] === RecordType.inode) {
    const id = new KeyReader(recordPrefix.subarray(1)).uint();
    const before = await readVersion<InodeRecord>(tx, inodePrefix(id), older.epoch);
    const after = await readVersion<InodeRecord>(tx, inodePrefix(id), newerEpoch);
    // Creations and deletions are reported by their directory entries.
    if (before === undefined || after === undefined || before.record.changeId === after.record.changeId) return undefined;
    const path = await pathUnder(tx, id, root, newerEpoch);
    return path === undefined ? undefined : { op: 'MODIFY', path };
  }
  return undefined;
}

function withPath(op: ChangeOp, directoryPath: string | undefined, name: string): Change | undefined {
  if (directoryPath === undefined) return undefined;
  return { op, path: directoryPath === '/' ? `/${name}` : `${directoryPath}/${name}` };
}

function encodeCursor(key: Uint8Array): string {
  return Buffer.from(key).toString('base64url');
}

function decodeCursor(cursor: string): Uint8Array {
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.length < 10 || bytes[0] !== RecordType.changeByEpoch || Buffer.from(bytes).toString('base64url') !== cursor) throw new FsError('InvalidArgument', 'invalid changes cursor');
  return new Uint8Array(bytes);
}
