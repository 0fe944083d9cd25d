import type { Logger } from 'pino';
import { NOBODY_GID, NOBODY_UID, systemContext, type Principal } from '../../../core/context.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import type { AddressMatcher } from '../../../settings/address-rules.js';
import { canonicalPath } from '../../../settings/fs-paths.js';
import { compileRestrictions, type NfsExport, type NfsRestriction } from '../../../settings/nfs-exports.js';
import type { Credential } from '../rpc/rpc-message.js';

/** Where the server reads its exports: the settings store's `nfsExports` collection in production. */
export interface ExportSource {
  list(): Promise<ReadonlyArray<{ readonly id: string; readonly value: NfsExport }>>;
  /** Called on every change; the table then reloads on next use. Returns an unsubscribe. */
  onChange?(listener: () => void): () => void;
}

export interface ServedExport {
  /** The settings record id; it is the export id inside file handles. */
  readonly id: number;
  readonly path: string;
  readonly fsPath: string;
  readonly rules: ReadonlyArray<{ readonly restriction: NfsRestriction; readonly hosts: AddressMatcher }>;
}

export type Admission =
  | { readonly admitted: true; readonly restriction: NfsRestriction }
  | { readonly admitted: false; readonly reason: 'no-rule-matches' | 'unprivileged-port' };

/** RFC 1813 / Linux nfsd convention: ports below 1024 can only be bound by root on the client. */
const PRIVILEGED_PORT_LIMIT = 1024;
/** The largest export id a file handle carries. */
const EXPORT_ID_MAX = 0xffff_ffff;

/**
 * The exports being served, compiled from the settings and cached until they change. Rules are
 * decided here once for MOUNT and for every NFS call: the first rule whose hosts match the client
 * address decides; hostname patterns are not matched (TODO issue 6: reverse resolution through
 * the identity layer), so only address, subnet and range rules admit clients for now.
 */
export class ExportTable {
  private loaded: Promise<ReadonlyMap<number, ServedExport>> | undefined;
  private readonly roots = new Map<number, Promise<NodeHandle>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: ExportSource,
    private readonly fileSystem: FileSystem,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = source.onChange?.(() => this.invalidate()) ?? (() => undefined);
  }

  invalidate(): void {
    this.loaded = undefined;
    this.roots.clear();
  }

  close(): void {
    this.unsubscribe();
  }

  async all(): Promise<ServedExport[]> {
    return [...(await this.load()).values()];
  }

  async byId(id: number): Promise<ServedExport | undefined> {
    return (await this.load()).get(id);
  }

  /** The export whose path is the longest prefix of `path` (component-wise), with the rest. */
  async byMountPath(path: string): Promise<{ served: ServedExport; remainder: string[] } | undefined> {
    const wanted = canonicalPath(path);
    let best: ServedExport | undefined;
    for (const served of (await this.load()).values()) {
      const matches = served.path === '/' || wanted === served.path || wanted.startsWith(`${served.path}/`);
      if (matches && (best === undefined || served.path.length > best.path.length)) best = served;
    }
    if (best === undefined) return undefined;
    const rest = best.path === '/' ? wanted : wanted.slice(best.path.length);
    return { served: best, remainder: rest.split('/').filter((segment) => segment.length > 0) };
  }

  /** The export's root directory, resolved as the system (the export is defined by an admin). */
  rootOf(served: ServedExport): Promise<NodeHandle> {
    let root = this.roots.get(served.id);
    if (root === undefined) {
      root = this.fileSystem.resolvePath(systemContext(this.logger, 'nfs-export-root'), served.fsPath, { followFinalSymlink: true }).then((info) => info.handle);
      root.catch(() => this.roots.delete(served.id));
      this.roots.set(served.id, root);
    }
    return root;
  }

  private load(): Promise<ReadonlyMap<number, ServedExport>> {
    this.loaded ??= this.source.list().then((records) => {
      const served = new Map<number, ServedExport>();
      for (const record of records) {
        const id = Number(record.id);
        if (!Number.isInteger(id) || id < 0 || id > EXPORT_ID_MAX) {
          this.logger.error({ exportId: record.id }, 'NFS export id does not fit a file handle; export not served');
          continue;
        }
        served.set(id, { id, path: canonicalPath(record.value.export_path), fsPath: record.value.fs_path, rules: compileRestrictions(record.value) });
      }
      return served;
    });
    this.loaded.catch(() => {
      this.loaded = undefined;
    });
    return this.loaded;
  }
}

/** First matching rule decides; no rule (or none matching) admits nobody. */
export function admit(served: ServedExport, client: { address: string; port: number }): Admission {
  const rule = served.rules.find((candidate) => candidate.hosts.matchesAddress(client.address));
  if (rule === undefined) return { admitted: false, reason: 'no-rule-matches' };
  if (rule.restriction.require_privileged_port && client.port >= PRIVILEGED_PORT_LIMIT) return { admitted: false, reason: 'unprivileged-port' };
  return { admitted: true, restriction: rule.restriction };
}

/**
 * The principal a call runs as. AUTH_NONE is nobody; AUTH_SYS uid/gids are trusted as the
 * export's rule says: ALL maps everyone, ROOT maps uid 0 (root squash), NONE trusts the client,
 * and only then is uid 0 a superuser. Squashed users get map_to_uid/gid and no other groups.
 */
export function principalFor(restriction: NfsRestriction, credential: Credential): Principal {
  const mapped: Principal = { uid: restriction.map_to_uid ?? NOBODY_UID, gids: [restriction.map_to_gid ?? NOBODY_GID] };
  if (credential.flavor === 'none') return restriction.user_mapping === 'NONE' ? { uid: NOBODY_UID, gids: [NOBODY_GID] } : mapped;
  if (restriction.user_mapping === 'ALL') return mapped;
  if (credential.uid === 0 && restriction.user_mapping === 'ROOT') return mapped;
  const gids = [credential.gid, ...credential.gids.filter((gid) => gid !== credential.gid)];
  return credential.uid === 0 ? { uid: 0, gids, superuser: true } : { uid: credential.uid, gids };
}
