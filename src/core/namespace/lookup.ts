import { Right } from '../acl/acl.js';
import type { OpContext } from '../context.js';
import { FsError } from '../errors.js';
import { findEntry, handleOf, toAttributes, type Engine } from '../engine.js';
import { READDIR_LIMIT_MAX, type DirectoryEntry, type LookupOptions, type NodeHandle, type NodeInfo, type ReaddirOptions, type ReaddirPage } from '../file-system.js';
import { foldName, splitPath, validateName } from '../names.js';
import { hasAccess, requireAccess } from '../permissions.js';
import { isSnapshotDirectory, lookupInSnapshotDirectory, openSnapshotDirectory, readSnapshotDirectory, SNAPSHOT_DIRECTORY_NAME } from '../snapshot/snapshot-directory.js';
import { decodeDirentKey, decodeFoldedKey, direntDirectoryPrefix, direntNamePrefix, foldedPrefix, prefixEnd, ROOT_ID, type DirentRecord } from '../records.js';
import { ReadScope } from '../scope.js';
import { aliveEntries } from '../versions.js';
import { decodeXattrs } from './xattrs.js';

const SYMLINK_FOLLOWS_MAX = 40;
/** Rows a directory scan asks for at least once dead versions were met (see listPage). */
const SCAN_ROWS_MIN = 16;

/** Finds `name` in a directory the caller may search; case-insensitively on request (SMB). */
export async function lookupIn(scope: ReadScope, ctx: OpContext, dirHandle: NodeHandle, name: string, options?: LookupOptions, engine?: Engine): Promise<NodeInfo> {
  if (engine !== undefined && isSnapshotDirectory(dirHandle)) return lookupInSnapshotDirectory(engine, scope, ctx, dirHandle, name);
  if (name === SNAPSHOT_DIRECTORY_NAME && dirHandle.snapshot === undefined) return openSnapshotDirectory(scope, ctx, dirHandle);
  const dir = await scope.node(dirHandle);
  if (dir.type !== 'directory') throw new FsError('NotADirectory', 'not a directory');
  requireAccess(ctx, dir, Right.EXECUTE, 'look up in the directory');
  let entry = await findEntry(scope, dirHandle.id, name);
  if (entry === undefined && options?.caseInsensitive === true) {
    const storedName = await findFolded(scope, dirHandle.id, name);
    if (storedName !== undefined) entry = await findEntry(scope, dirHandle.id, storedName);
  }
  if (entry === undefined) throw new FsError('NotFound', `"${name}" does not exist`);
  const record = await scope.inode(entry.record.id);
  if (record === undefined) throw new Error(`directory entry "${name}" points at missing node ${entry.record.id}`);
  const info = { handle: handleOf(entry.record.id, record, dirHandle.snapshot), attributes: toAttributes(entry.record.id, record) };
  if (options?.withXattrs !== true) return info;
  requireAccess(ctx, record, Right.READ_NAMED_ATTRS, 'read extended attributes');
  return { ...info, xattrs: decodeXattrs(record) };
}

/**
 * The stored name that matches `name` ignoring case. The folded index covers the live tree; in a
 * snapshot the directory is scanned page by page instead (rare: SMB clients browsing snapshots).
 */
async function findFolded(scope: ReadScope, dirId: number, name: string): Promise<string | undefined> {
  const folded = foldName(name);
  if (scope.snapshotEpoch === undefined) {
    const prefix = foldedPrefix(dirId, folded);
    const [entry] = await scope.tx.scan({ start: prefix, end: prefixEnd(prefix), limit: 1 });
    return entry === undefined ? undefined : decodeFoldedKey(entry.key).name;
  }
  let cursor: string | undefined;
  do {
    const page = await listPage(scope, dirId, { cursor, limit: 1000 });
    const match = page.names.find((entry) => foldName(entry.name) === folded);
    if (match !== undefined) return match.name;
    cursor = page.cursor;
  } while (cursor !== undefined);
  return undefined;
}

export async function lookup(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, name: string, options?: LookupOptions): Promise<NodeInfo> {
  validateName(name);
  return engine.inspect(ctx, dirHandle, (scope) => lookupIn(scope, ctx, dirHandle, name, options, engine));
}

function encodeCursor(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  if (cursor.length === 0 || encodeCursor(name) !== cursor) throw new FsError('InvalidArgument', 'invalid directory cursor');
  return name;
}

interface NamePage {
  readonly names: Array<{ name: string; record: DirentRecord }>;
  readonly cursor?: string;
}

/**
 * One page of a directory in name order. The cursor is the last name returned, so resuming is
 * stable under concurrent changes: entries are never repeated, and ones added behind the cursor
 * are not seen. Dead versions of entries are skipped without loading the whole directory.
 *
 * The first scan asks for exactly `limit` rows: with no dead versions (no snapshot keeps any) that
 * is the whole page, and every row read is decoded, so reading more only costs (scanning 2x + 16
 * made a 42-entry NFS page 1.8x slower). When dead versions took room, later scans ask for twice
 * what is missing (at least SCAN_ROWS_MIN), so a directory full of them takes few scans.
 */
async function listPage(scope: ReadScope, dirId: number, options: { cursor?: string; limit: number }): Promise<NamePage> {
  const dirPrefix = direntDirectoryPrefix(dirId);
  const end = prefixEnd(dirPrefix);
  let start = options.cursor === undefined ? dirPrefix : prefixEnd(direntNamePrefix(dirId, decodeCursor(options.cursor)));
  const names: Array<{ name: string; record: DirentRecord }> = [];
  let scanLimit = Math.min(options.limit, READDIR_LIMIT_MAX);
  for (;;) {
    const entries = await scope.tx.scan({ start, end, limit: scanLimit });
    for (const version of aliveEntries<DirentRecord>(entries, scope.snapshotEpoch)) {
      names.push({ name: decodeDirentKey(version.key).name, record: version.record });
      if (names.length === options.limit) {
        const last = names.at(-1) as { name: string };
        return { names, cursor: encodeCursor(last.name) };
      }
    }
    const lastKey = entries.at(-1)?.key;
    if (entries.length < scanLimit || lastKey === undefined) return { names };
    start = prefixEnd(lastKey);
    scanLimit = Math.min(Math.max(2 * (options.limit - names.length), SCAN_ROWS_MIN), READDIR_LIMIT_MAX);
  }
}

export async function readdir(engine: Engine, ctx: OpContext, dirHandle: NodeHandle, options: ReaddirOptions): Promise<ReaddirPage> {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > READDIR_LIMIT_MAX) {
    throw new FsError('InvalidArgument', `limit must be between 1 and ${READDIR_LIMIT_MAX}`);
  }
  return engine.inspect(ctx, dirHandle, async (scope) => {
    if (isSnapshotDirectory(dirHandle)) return readSnapshotDirectory(engine, scope, ctx, dirHandle, options);
    const dir = await scope.node(dirHandle);
    if (dir.type !== 'directory') throw new FsError('NotADirectory', 'not a directory');
    requireAccess(ctx, dir, Right.READ_DATA, 'list the directory');
    const page = await listPage(scope, dirHandle.id, options);
    const wanted = options.withAttributes === true || options.withXattrs === true;
    const nodes = wanted ? await scope.inodesMany(page.names.map(({ record }) => record.id)) : undefined;
    const entries: DirectoryEntry[] = page.names.map(({ name, record }) => {
      const handle = { id: record.id, generation: record.generation, ...(dirHandle.snapshot === undefined ? {} : { snapshot: dirHandle.snapshot }) };
      const node = nodes?.get(record.id);
      if (node === undefined) return { name, handle, type: record.type };
      // An entry whose attributes the caller may not read is listed without them.
      const xattrs = options.withXattrs === true && hasAccess(ctx, node, Right.READ_NAMED_ATTRS) ? { xattrs: decodeXattrs(node) } : {};
      return { name, handle, type: record.type, attributes: toAttributes(record.id, node), ...xattrs };
    });
    return page.cursor === undefined ? { entries } : { entries, cursor: page.cursor };
  });
}

interface ResolveOptions extends LookupOptions {
  readonly from?: NodeHandle;
  readonly followFinalSymlink?: boolean;
}

/**
 * Resolves a path from the root, or from `from` (which then also bounds `..`). Symlinks in the
 * middle of the path are followed (absolute targets from the same bound), at most
 * SYMLINK_FOLLOWS_MAX times; the final one only when asked.
 */
export async function resolvePath(engine: Engine, ctx: OpContext, path: string, resolveOptions: ResolveOptions = {}): Promise<NodeInfo> {
  const { withXattrs, ...options } = resolveOptions;
  return resolveNode(engine, ctx, path, options, withXattrs === true);
}

async function resolveNode(engine: Engine, ctx: OpContext, path: string, options: ResolveOptions, withXattrs: boolean): Promise<NodeInfo> {
  const initial = splitPath(path);
  // One consistent read for the whole walk; each step reads at the view of its directory (a path
  // may enter a snapshot through `.snapshot/{id}_{name}`, after which it reads that epoch).
  return engine.metadata.read(async (stored) => {
    const tx = engine.reading(stored);
    const scopes = new Map<number | undefined, ReadScope>();
    const scopeFor = (handle: NodeHandle | undefined): ReadScope => {
      const epoch = engine.viewEpoch(handle);
      let scope = scopes.get(epoch);
      if (scope === undefined) scopes.set(epoch, (scope = new ReadScope(tx, epoch)));
      return scope;
    };
    const first = scopeFor(options.from);
    const rootRecord = options.from === undefined ? await first.inode(ROOT_ID) : await first.node(options.from);
    if (rootRecord === undefined) throw new FsError('Internal', 'the root directory is missing');
    const root = options.from ?? { id: ROOT_ID, generation: rootRecord.generation };
    let stack: NodeInfo[] = [{ handle: root, attributes: toAttributes(root.id, rootRecord) }];
    const pending = [...initial.names];
    let follows = 0;
    while (pending.length > 0) {
      if (ctx.signal?.aborted === true) throw new FsError('Cancelled', 'the operation was cancelled');
      const name = pending.shift() as string;
      const current = stack.at(-1) as NodeInfo;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const scope = scopeFor(current.handle);
      const found = await lookupIn(scope, ctx, current.handle, name, options, engine);
      const followable = found.attributes.type === 'symlink' && (pending.length > 0 || options.followFinalSymlink === true);
      if (followable) {
        if (++follows > SYMLINK_FOLLOWS_MAX) throw new FsError('InvalidArgument', 'too many levels of symbolic links');
        const target = splitPath((await scopeFor(found.handle).node(found.handle)).symlinkTarget ?? '');
        if (target.absolute) stack = stack.slice(0, 1);
        pending.unshift(...target.names);
        continue;
      }
      stack.push(found);
    }
    const resolved = stack.at(-1) as NodeInfo;
    if (!withXattrs) return resolved;
    const record = await scopeFor(resolved.handle).node(resolved.handle);
    requireAccess(ctx, record, Right.READ_NAMED_ATTRS, 'read extended attributes');
    return { ...resolved, xattrs: decodeXattrs(record) };
  });
}

