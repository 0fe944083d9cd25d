import type { OpContext } from '../../../core/context.js';
import type { NodeHandle } from '../../../core/file-system.js';
import type { EventFields } from '../../../audit/events.js';
import type { Nfs3Call, Outcome } from './nfs3-procedure.js';
import { Nfs3Status, type Nfs3StatusCode } from './nfs3-types.js';

/** What NFS needs of the audit framework (src/audit/auditor.ts `Auditor`). */
export interface NfsAuditSink {
  emitFor(ctx: OpContext, fields: EventFields): void;
}

const STATUS_NAMES = new Map<number, string>(Object.entries(Nfs3Status).map(([name, code]) => [code, name === 'OK' ? 'ok' : `NFS3ERR_${name}`]));

/** `ok`, or the RFC 1813 name of the nfsstat3 (NFS3ERR_ROFS ...). */
export function statusName(status: Nfs3StatusCode | number): string {
  return STATUS_NAMES.get(status) ?? `NFS3ERR_${status}`;
}

const PATH_LINKS_MAX = 100_000;
const PATH_DEPTH_MAX = 256;

/**
 * File-system paths for audit events, learned from the names this server handed out (LOOKUP,
 * CREATE/MKDIR/SYMLINK/MKNOD/LINK, READDIRPLUS, RENAME) as parent links, so a directory rename
 * moves everything below it. NFS handles carry no path, and finding a node's name from its id
 * would mean scanning its parent, so a node this process has not seen named (a handle kept across
 * a restart, a rename made over another protocol) is audited by file id alone. The export root is
 * its fs path. Bounded: the links learned first are dropped first.
 */
export class NfsPathMemory {
  /** child key -> its parent's key and its name there. */
  private readonly links = new Map<string, { parent: string; name: string }>();
  /** `${parent key}/${name}` -> child key (to follow RENAME and REMOVE). */
  private readonly byName = new Map<string, string>();

  static key(node: NodeHandle): string {
    return node.snapshot === undefined ? String(node.id) : `${node.id}@${node.snapshot}`;
  }

  learn(dir: NodeHandle, name: string, child: NodeHandle): void {
    this.learnIn(NfsPathMemory.key(dir), name, child);
  }

  /** `learn` with the directory's key computed once (a READDIRPLUS page names ~40 children). */
  learnIn(dirKey: string, name: string, child: NodeHandle): void {
    if (name === '.' || name === '..') return;
    this.link(dirKey, name, NfsPathMemory.key(child));
  }

  /** `dir/name` was removed (REMOVE, RMDIR). */
  unlink(dir: NodeHandle, name: string): void {
    const nameKey = `${NfsPathMemory.key(dir)}/${name}`;
    const child = this.byName.get(nameKey);
    if (child === undefined) return;
    this.byName.delete(nameKey);
    if (this.links.get(child)?.name === name) this.links.delete(child);
  }

  renamed(from: { dir: NodeHandle; name: string }, to: { dir: NodeHandle; name: string }): void {
    const child = this.byName.get(`${NfsPathMemory.key(from.dir)}/${from.name}`);
    this.unlink(to.dir, to.name);
    this.unlink(from.dir, from.name);
    if (child !== undefined) this.link(NfsPathMemory.key(to.dir), to.name, child);
  }

  private link(parent: string, name: string, child: string): void {
    const previous = this.links.get(child);
    const nameKey = `${parent}/${name}`;
    // Known already (every READDIRPLUS page and LOOKUP relearns its names): nothing to move.
    if (previous !== undefined && previous.parent === parent && previous.name === name && this.byName.get(nameKey) === child) return;
    if (previous !== undefined) this.byName.delete(`${previous.parent}/${previous.name}`);
    this.links.delete(child);
    if (this.links.size >= PATH_LINKS_MAX) {
      const oldest = this.links.entries().next();
      if (oldest.done !== true) {
        this.links.delete(oldest.value[0]);
        this.byName.delete(`${oldest.value[1].parent}/${oldest.value[1].name}`);
      }
    }
    this.links.set(child, { parent, name });
    this.byName.set(nameKey, child);
  }

  /** The fs path of `node` as last named through this server, or undefined. */
  pathOf(call: Pick<Nfs3Call, 'served' | 'exportRoot'>, node: NodeHandle): string | undefined {
    const rootKey = NfsPathMemory.key(call.exportRoot);
    const names: string[] = [];
    let key = NfsPathMemory.key(node);
    for (let depth = 0; depth < PATH_DEPTH_MAX; depth += 1) {
      if (key === rootKey) return joinPath(call.served.fsPath, names.reverse());
      const link = this.links.get(key);
      if (link === undefined) return undefined;
      names.push(link.name);
      key = link.parent;
    }
    return undefined;
  }

  childPath(call: Pick<Nfs3Call, 'served' | 'exportRoot'>, dir: NodeHandle, name: string): string | undefined {
    const parent = this.pathOf(call, dir);
    return parent === undefined ? undefined : joinPath(parent, [name]);
  }
}

function joinPath(base: string, names: readonly string[]): string {
  if (names.length === 0) return base;
  return `${base === '/' ? '' : base}/${names.join('/')}`;
}

/** What an audit rule sees of a finished call. */
export interface AuditedCall {
  readonly call: Nfs3Call;
  readonly paths: NfsPathMemory;
  readonly status: string;
  readonly succeeded: boolean;
  /** The node a handle in the reply names (created nodes). */
  nodeOf(handle: Uint8Array | undefined): NodeHandle | undefined;
  /** What NFS3_AUDIT_PREPARE read before the procedure ran (SETATTR: the attributes before). */
  readonly prior?: unknown;
}

/**
 * State an audit rule needs from before the change (issue 7: "before and after for metadata"),
 * read just before the procedure runs, only when auditing. SETATTR: the node's attributes (its
 * wcc pre-op attributes hold only size and times, not mode or owner). Failures read as nothing.
 */
export const NFS3_AUDIT_PREPARE: ReadonlyMap<number, (call: Nfs3Call) => Promise<unknown>> = new Map([
  [2, (call: Nfs3Call) => call.fs.getattr(call.ctx, call.node).catch(() => undefined)],
]);

/** Builds the event for one procedure (undefined: not audited), and updates the path memory. */
export type AuditRule = (audited: AuditedCall, args: never, outcome: Outcome<unknown, unknown>) => EventFields | undefined;

interface DirName {
  readonly dir: Uint8Array;
  readonly name: string;
}

const fileId = (node: NodeHandle | undefined): { fileId?: string } => (node === undefined ? {} : { fileId: node.snapshot === undefined ? String(node.id) : `${node.id}@${node.snapshot}` });
const withPath = (path: string | undefined): { path?: string } => (path === undefined ? {} : { path });

function onNode(operation: string, details?: (args: never, ok: unknown) => Record<string, unknown>): AuditRule {
  return ({ call, paths, status, succeeded }, args, outcome) => ({
    operation,
    status,
    ...fileId(call.node),
    ...withPath(paths.pathOf(call, call.node)),
    ...(details === undefined ? {} : { details: details(args, succeeded && outcome.status === Nfs3Status.OK ? outcome.ok : undefined) }),
  });
}

function creating(operation: string): AuditRule {
  return (audited, args: DirName, outcome) => {
    const { call, paths, status } = audited;
    const created = outcome.status === Nfs3Status.OK ? audited.nodeOf((outcome.ok as { handle?: Uint8Array }).handle) : undefined;
    if (created !== undefined) paths.learn(call.node, args.name, created);
    return { operation, status, ...fileId(created), ...withPath(paths.childPath(call, call.node, args.name)) };
  };
}

function deleting(audited: AuditedCall, args: DirName): EventFields {
  const { call, paths, status, succeeded } = audited;
  const path = paths.childPath(call, call.node, args.name);
  if (succeeded) paths.unlink(call.node, args.name);
  return { operation: 'fs_delete', status, ...withPath(path) };
}

function handleOrNothing(call: Nfs3Call, raw: Uint8Array): NodeHandle | undefined {
  try {
    return call.handleOf(raw);
  } catch {
    return undefined;
  }
}

/**
 * By procedure number. Not audited: GETATTR and ACCESS (clients send them for cache revalidation
 * before nearly every operation, several per second per open file, so fs_read_metadata from them
 * would drown the trail and cost a log record each; the operations that read or change data are
 * audited themselves), LOOKUP (it only learns names), FSSTAT, FSINFO, PATHCONF and COMMIT (no file
 * data or metadata is read or changed). Status: `ok` or the nfsstat3 name (NFS3ERR_ACCES ...).
 * READ and READDIR(PLUS) events are coalesced by the auditor when repeated.
 */
export const NFS3_AUDIT_RULES: ReadonlyMap<number, AuditRule> = new Map<number, AuditRule>([
  [2, setattrRule],
  [
    3,
    // LOOKUP is not audited (clients look up constantly), but it is where names are learned.
    ({ call, paths, nodeOf }, args: DirName, outcome) => {
      if (outcome.status === Nfs3Status.OK) {
        const found = nodeOf((outcome.ok as { handle: Uint8Array }).handle);
        if (found !== undefined) paths.learn(call.node, args.name, found);
      }
      return undefined;
    },
  ],
  [5, onNode('fs_read_link')],
  [6, onNode('fs_read_data', (args: { offset: bigint; count: number }, ok) => ({ offset: Number(args.offset), size: ok === undefined ? args.count : (ok as { data: Uint8Array }).data.byteLength }))],
  [7, onNode('fs_write_data', (args: { offset: bigint; count: number }, ok) => ({ offset: Number(args.offset), size: ok === undefined ? args.count : (ok as { count: number }).count }))],
  [8, creating('fs_create_file')],
  [9, creating('fs_create_directory')],
  [10, creating('fs_create_symlink')],
  [11, creating('fs_create_file')],
  [12, deleting],
  [13, deleting],
  [
    14,
    ({ call, paths, status, succeeded }, args: { from: DirName; to: DirName }) => {
      const path = paths.childPath(call, call.node, args.from.name);
      const targetDir = handleOrNothing(call, args.to.dir);
      const targetPath = targetDir === undefined ? undefined : paths.childPath(call, targetDir, args.to.name);
      if (succeeded && targetDir !== undefined) paths.renamed({ dir: call.node, name: args.from.name }, { dir: targetDir, name: args.to.name });
      return { operation: 'fs_rename', status, ...withPath(path), ...(targetPath === undefined ? {} : { targetPath }) };
    },
  ],
  [
    15,
    ({ call, paths, status, succeeded }, args: { link: DirName }) => {
      const dir = handleOrNothing(call, args.link.dir);
      const path = dir === undefined ? undefined : paths.childPath(call, dir, args.link.name);
      if (succeeded && dir !== undefined) paths.learn(dir, args.link.name, call.node);
      return { operation: 'fs_create_hard_link', status, ...fileId(call.node), ...withPath(path) };
    },
  ],
  [16, onNode('fs_list_directory')],
  [
    17,
    (audited, _args, outcome) => {
      if (outcome.status === Nfs3Status.OK) {
        const dirKey = NfsPathMemory.key(audited.call.node);
        for (const { entry } of (outcome.ok as { listing: { entries: ReadonlyArray<{ entry: { name: string; handle: NodeHandle } }> } }).listing.entries) audited.paths.learnIn(dirKey, entry.name, entry.handle);
      }
      return onNode('fs_list_directory')(audited, _args, outcome);
    },
  ],
]);

/** SETATTR's sattr3 fields, by the attribute each changes (RFC 1813 §2.5 sattr3). */
const SETATTR_FIELDS: ReadonlyArray<readonly [change: string, attribute: string]> = [
  ['mode', 'mode'],
  ['uid', 'uid'],
  ['gid', 'gid'],
  ['size', 'size'],
  ['atime', 'atimeNs'],
  ['mtime', 'mtimeNs'],
  ['birthTime', 'birthTimeNs'],
];

function attributeValue(name: string, value: unknown): unknown {
  if (name === 'mode' && typeof value === 'number') return `0${value.toString(8).padStart(3, '0')}`;
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * fs_write_metadata with the changed attributes before (read by NFS3_AUDIT_PREPARE) and after
 * (the post-op attributes); a failed SETATTR records before and what was `requested`.
 */
function setattrRule(audited: AuditedCall, args: { changes: Record<string, unknown> }, outcome: Outcome<unknown, unknown>): EventFields {
  const prior = audited.prior as Record<string, unknown> | undefined;
  const after = audited.succeeded && outcome.status === Nfs3Status.OK ? ((outcome.ok as { after?: Record<string, unknown> }).after ?? undefined) : undefined;
  const before: Record<string, unknown> = {};
  const changed: Record<string, unknown> = {};
  const requested: Record<string, unknown> = {};
  for (const [change, attribute] of SETATTR_FIELDS) {
    const value = args.changes[change];
    if (value === undefined) continue;
    requested[change] = attributeValue(change, value);
    if (prior !== undefined) before[change] = attributeValue(change, prior[attribute]);
    if (after !== undefined) changed[change] = attributeValue(change, after[attribute]);
  }
  const details = after === undefined ? { ...(prior === undefined ? {} : { before }), requested } : { ...(prior === undefined ? {} : { before }), after: changed };
  return { ...(onNode('fs_write_metadata')(audited, args as never, outcome) as EventFields), details };
}
