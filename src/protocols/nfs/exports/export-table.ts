import type { Logger } from 'pino';
import { NOBODY_GID, NOBODY_UID, systemContext, type Principal } from '../../../core/context.js';
import type { FileSystem, NodeHandle } from '../../../core/file-system.js';
import type { AddressMatcher } from '../../../settings/address-rules.js';
import { canonicalPath } from '../../../settings/fs-paths.js';
import { compileRestrictions, type NfsExport, type NfsRestriction } from '../../../settings/nfs-exports.js';
import type { Credential } from '../rpc/rpc-message.js';
import type { CallerGroups } from './caller-groups.js';
import type { ClientNames } from './client-names.js';

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
  readonly rules: ReadonlyArray<ServedRule>;
  /** Supplementary gids from the identity layer instead of the credential (caller-groups.ts). */
  readonly manageGids: boolean;
}

export interface ServedRule {
  readonly restriction: NfsRestriction;
  readonly hosts: AddressMatcher;
}

export type Admission =
  | { readonly admitted: true; readonly restriction: NfsRestriction }
  | { readonly admitted: false; readonly reason: 'no-rule-matches' | 'unprivileged-port' };

/** An admitted call also carries the principal it runs as. */
export type CallAdmission = Extract<Admission, { admitted: false }> | { readonly admitted: true; readonly restriction: NfsRestriction; readonly principal: Principal };

export interface ExportTableOptions {
  readonly source: ExportSource;
  readonly fileSystem: FileSystem;
  readonly logger: Logger;
  /** Forward-confirmed client names, for hostname rules. */
  readonly clientNames: ClientNames;
  /** The identity layer's groups, for exports with manage_gids. */
  readonly callerGroups: CallerGroups;
}

/** RFC 1813 / Linux nfsd convention: ports below 1024 can only be bound by root on the client. */
const PRIVILEGED_PORT_LIMIT = 1024;
/** The largest export id a file handle carries. */
const EXPORT_ID_MAX = 0xffff_ffff;
/** Client addresses whose address-rule answer is remembered per rule; the map empties when full. */
const ADDRESS_ANSWERS_MAX = 4_096;

/**
 * The exports being served, compiled from the settings and cached until they change. Rules are
 * decided here once for MOUNT and for every NFS call (`admitCall`): the first rule whose hosts
 * match the client decides. Address, subnet and range rules are matched synchronously; a hostname
 * rule is consulted only when no earlier rule matched by address, against the client's
 * forward-confirmed names (client-names.ts), which are cached per address, so a call costs a DNS
 * lookup only when its address's answer is not cached.
 */
export class ExportTable {
  private loaded: Promise<ReadonlyMap<number, ServedExport>> | undefined;
  private readonly roots = new Map<number, Promise<NodeHandle>>();
  private readonly unsubscribe: () => void;
  private readonly source: ExportSource;
  private readonly fileSystem: FileSystem;
  private readonly logger: Logger;
  private readonly clientNames: ClientNames;
  private readonly callerGroups: CallerGroups;
  /**
   * Whether a client address matches a rule's addresses, subnets and ranges, by compiled rule:
   * every call asks, and node's BlockList check costs a few µs (it builds a SocketAddress). Exact:
   * a compiled rule never changes (a changed export is compiled anew), and only address rules
   * are remembered, never hostname answers (those expire, see client-names.ts).
   */
  private readonly addressAnswers = new WeakMap<ServedRule, Map<string, boolean>>();
  private readonly matchesAddress = (rule: ServedRule, address: string): boolean => {
    let answers = this.addressAnswers.get(rule);
    if (answers === undefined) {
      answers = new Map();
      this.addressAnswers.set(rule, answers);
    }
    let answer = answers.get(address);
    if (answer === undefined) {
      answer = rule.hosts.matchesAddress(address);
      if (answers.size >= ADDRESS_ANSWERS_MAX) answers.clear();
      answers.set(address, answer);
    }
    return answer;
  };

  constructor(options: ExportTableOptions) {
    this.source = options.source;
    this.fileSystem = options.fileSystem;
    this.logger = options.logger;
    this.clientNames = options.clientNames;
    this.callerGroups = options.callerGroups;
    this.unsubscribe = this.source.onChange?.(() => this.invalidate()) ?? (() => undefined);
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

  /**
   * Decides one MOUNT or NFS call: the rule that admits this client address and source port, and
   * the principal it maps the credential to (squashing first, then manage_gids for whoever is left
   * unsquashed). Synchronous when address rules decide, or the names and groups needed are cached;
   * rejects only when the identity store cannot be read.
   */
  admitCall(served: ServedExport, client: { address: string; port: number }, credential: Credential): CallAdmission | Promise<CallAdmission> {
    const admission = this.admit(served, client);
    if (admission instanceof Promise) return admission.then((decided) => this.withPrincipal(served, decided, credential));
    return this.withPrincipal(served, admission, credential);
  }

  /** `admit` with the client's names looked up when a hostname rule is reached. */
  admit(served: ServedExport, client: { address: string; port: number }): Admission | Promise<Admission> {
    const found = firstMatchingRule(served, client.address, undefined, this.matchesAddress);
    if (found !== NAMES_NEEDED) return decide(found, client);
    const names = this.clientNames.namesOf(client.address);
    if (names instanceof Promise) return names.then((resolved) => decide(firstMatchingRule(served, client.address, resolved, this.matchesAddress), client));
    return decide(firstMatchingRule(served, client.address, names, this.matchesAddress), client);
  }

  /** Whether some rule matches the address (port aside): what MOUNT EXPORT lists. */
  async matchesHost(served: ServedExport, address: string): Promise<boolean> {
    const admission = await this.admit(served, { address, port: 0 });
    return admission.admitted;
  }

  private withPrincipal(served: ServedExport, admission: Admission, credential: Credential): CallAdmission | Promise<CallAdmission> {
    if (!admission.admitted) return admission;
    const principal = principalFor(admission.restriction, credential);
    if (!served.manageGids || credential.flavor !== 'sys' || squashes(admission.restriction, credential)) return { ...admission, principal };
    const managed = this.callerGroups.withManagedGids(principal);
    if (managed instanceof Promise) return managed.then((resolved) => ({ ...admission, principal: resolved }));
    return { ...admission, principal: managed };
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
        const value = record.value;
        served.set(id, { id, path: canonicalPath(value.export_path), fsPath: value.fs_path, rules: compileRestrictions(value), manageGids: value.manage_gids === true });
      }
      return served;
    });
    this.loaded.catch(() => {
      this.loaded = undefined;
    });
    return this.loaded;
  }
}

const NAMES_NEEDED = Symbol('names-needed');

/**
 * The first rule matching the client. `names` are the client's forward-confirmed names; when they
 * are not known yet (undefined) and a hostname rule comes before any address match, the answer
 * is NAMES_NEEDED. Names not asked for are not looked up: the client of an address rule listed
 * before every hostname rule never waits on DNS.
 */
type AddressMatch = (rule: ServedRule, address: string) => boolean;
const matchesAddress: AddressMatch = (rule, address) => rule.hosts.matchesAddress(address);

function firstMatchingRule(served: ServedExport, address: string, names: readonly string[], matches?: AddressMatch): ServedRule | undefined;
function firstMatchingRule(served: ServedExport, address: string, names: undefined, matches?: AddressMatch): ServedRule | undefined | typeof NAMES_NEEDED;
function firstMatchingRule(served: ServedExport, address: string, names: readonly string[] | undefined, matches: AddressMatch = matchesAddress): ServedRule | undefined | typeof NAMES_NEEDED {
  for (const rule of served.rules) {
    if (matches(rule, address)) return rule;
    if (rule.hosts.hostnamePatterns.length === 0) continue;
    if (names === undefined) return NAMES_NEEDED;
    if (names.some((name) => rule.hosts.matchesHostname(name))) return rule;
  }
  return undefined;
}

function decide(rule: ServedRule | undefined, client: { port: number }): Admission {
  if (rule === undefined) return { admitted: false, reason: 'no-rule-matches' };
  if (rule.restriction.require_privileged_port && client.port >= PRIVILEGED_PORT_LIMIT) return { admitted: false, reason: 'unprivileged-port' };
  return { admitted: true, restriction: rule.restriction };
}

/**
 * First matching rule decides; no rule (or none matching) admits nobody. A hostname rule matches
 * when one of `clientNames` (the client's forward-confirmed names) fits it; without names, only
 * address, subnet and range rules can match.
 */
export function admit(served: ServedExport, client: { address: string; port: number }, clientNames: readonly string[] = []): Admission {
  return decide(firstMatchingRule(served, client.address, clientNames), client);
}

/** Whether the rule maps this caller to map_to_uid/gid (or nobody) rather than trusting it. */
export function squashes(restriction: NfsRestriction, credential: Credential): boolean {
  if (credential.flavor === 'none') return true;
  if (restriction.user_mapping === 'ALL') return true;
  return credential.uid === 0 && restriction.user_mapping === 'ROOT';
}

/**
 * The principal a call runs as. AUTH_NONE is nobody; AUTH_SYS uid/gids are trusted as the
 * export's rule says: ALL maps everyone, ROOT maps uid 0 (root squash), NONE trusts the client,
 * and only then is uid 0 a superuser. Squashed users get map_to_uid/gid and no other groups.
 */
export function principalFor(restriction: NfsRestriction, credential: Credential): Principal {
  const mapped: Principal = { uid: restriction.map_to_uid ?? NOBODY_UID, gids: [restriction.map_to_gid ?? NOBODY_GID] };
  if (credential.flavor === 'none') return restriction.user_mapping === 'NONE' ? { uid: NOBODY_UID, gids: [NOBODY_GID] } : mapped;
  if (squashes(restriction, credential)) return mapped;
  const gids = [credential.gid, ...credential.gids.filter((gid) => gid !== credential.gid)];
  return credential.uid === 0 ? { uid: 0, gids, superuser: true } : { uid: credential.uid, gids };
}
