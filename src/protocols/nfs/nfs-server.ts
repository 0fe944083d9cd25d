import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Logger } from 'pino';
import type { FileSystem } from '../../core/file-system.js';
import type { ProtocolServer } from '../protocol-server.js';
import { guardConnections, type NetworkAccess } from '../rest/network-access.js';
import { CallerGroups, type CallerGroupsLimits, type UserGroupsSource } from './exports/caller-groups.js';
import { ClientNames, dnsHostnameResolver, type ClientNameLimits, type HostnameResolver } from './exports/client-names.js';
import { ExportTable, type ExportSource } from './exports/export-table.js';
import { FileHandleCodec } from './handles/file-handle.js';
import { MOUNT_PROGRAM, MOUNT_V3, MountService } from './mount/mount-program.js';
import { PORTMAP_PROGRAM, PORTMAP_V2, portmapProgram } from './portmap/portmap-program.js';
import { DEFAULT_RPC_LIMITS, RpcServer, type RpcLimits } from './rpc/rpc-server.js';
import { NfsPathMemory, type NfsAuditSink } from './v3/nfs3-audit.js';
import { WriteGatherer } from './v3/write-gatherer.js';
import { nfs3Program } from './v3/nfs3-program.js';
import { NFS_PROGRAM, NFS_V3 } from './v3/nfs3-types.js';
import { ReaddirCookies } from './v3/readdir-cookies.js';

export interface NfsServerOptions {
  readonly fileSystem: FileSystem;
  /** The exports: `{ list: () => settings.list(nfsExports), onChange: (l) => settings.onCollectionChange(nfsExports, l) }`. */
  readonly exports: ExportSource;
  /** `instance.deriveKey('nfs-handles/v1')`: handles survive restarts, and only this instance's verify. */
  readonly handleKey: Uint8Array;
  readonly logger: Logger;
  /** The network access rules for service 'nfs', applied when a connection is accepted. */
  readonly networkAccess?: Pick<NetworkAccess, 'isAllowed'>;
  /**
   * Also answer PORTMAP (and MOUNT/NFS) on this port, e.g. 111, for clients that ask a portmapper;
   * a function is asked at each listen (the settings' `portmap_port`, undefined while off). A port
   * that cannot be bound is logged and NFS serves on without it.
   */
  readonly portmapPort?: number | (() => Promise<number | undefined>);
  readonly limits?: Partial<RpcLimits>;
  /** Bounded table of READDIR pages (cookie -> core cursor). */
  readonly readdirPagesMax?: number;
  readonly randomBytes?: (count: number) => Uint8Array;
  /** The audit trail (`management.auditor`): nfs_mount and fs_* events per procedure. */
  readonly auditor?: NfsAuditSink;
  /** Client names for hostname rules; defaults to DNS through node:dns (dnsHostnameResolver). */
  readonly hostnameResolver?: HostnameResolver;
  readonly clientNameLimits?: Partial<ClientNameLimits>;
  /**
   * Local users' groups by uid, for exports with manage_gids: `localUserGroups(instance.users,
   * instance.groups)`. Without it, manage_gids keeps every client's own list.
   */
  readonly userGroups?: UserGroupsSource;
  readonly callerGroupsLimits?: Partial<CallerGroupsLimits>;
  /** The clock of the name and group caches' TTLs (`instance.clock.nowMs`). */
  readonly nowMs?: () => number;
}

export interface NfsServer extends ProtocolServer {
  /** Ports bound now, by role (nfs; portmap when asked). */
  readonly ports: Readonly<{ nfs?: number; portmap?: number }>;
  /** Re-reads the exports on next use (the settings listener does this when wired). */
  reloadExports(): void;
}

const READDIR_PAGES_MAX = 16_384;

/**
 * NFSv3 over TCP: NFS (100003 v3), MOUNT (100005 v3) and PORTMAP (100000 v2) on one port, so
 * clients need no portmapper (libnfs: `?nfsport=N&mountport=N`). Listen and close any number of
 * times (ProtocolSwitch); each listen gets fresh connections and duplicate-request cache, while
 * handles (keyed by the instance key) and the write verifier (per process) stay.
 */
export function createNfsServer(options: NfsServerOptions): NfsServer {
  const random = options.randomBytes ?? ((count: number) => new Uint8Array(cryptoRandomBytes(count)));
  const limits: RpcLimits = { ...DEFAULT_RPC_LIMITS, ...options.limits };
  const logger = options.logger.child({ service: 'nfs' });
  const handles = new FileHandleCodec(options.handleKey);
  const nowMs = options.nowMs ?? (() => Date.now());
  const clientNames = new ClientNames({ resolver: options.hostnameResolver ?? dnsHostnameResolver(), nowMs, logger, ...(options.clientNameLimits === undefined ? {} : { limits: options.clientNameLimits }) });
  const callerGroups = new CallerGroups({ source: options.userGroups, nowMs, ...(options.callerGroupsLimits === undefined ? {} : { limits: options.callerGroupsLimits }) });
  const exports = new ExportTable({ source: options.exports, fileSystem: options.fileSystem, logger, clientNames, callerGroups });
  const cookies = new ReaddirCookies(options.readdirPagesMax ?? READDIR_PAGES_MAX, random);
  const writeVerifier = random(8);
  const paths = new NfsPathMemory();
  const auditor = options.auditor;
  const mount = new MountService({ fileSystem: options.fileSystem, exports, handles, logger, paths, ...(auditor === undefined ? {} : { auditor }) });
  const ports: { nfs?: number; portmap?: number } = {};
  const servedPrograms = [
    { program: NFS_PROGRAM, version: NFS_V3 },
    { program: MOUNT_PROGRAM, version: MOUNT_V3 },
    { program: PORTMAP_PROGRAM, version: PORTMAP_V2 },
  ];
  const gatherer = new WriteGatherer(logger);
  const programs = [nfs3Program({ fileSystem: options.fileSystem, handles, exports, cookies, writeVerifier, logger, paths, gatherer, ...(auditor === undefined ? {} : { auditor }) }), mount.program(), portmapProgram(servedPrograms, () => ports.nfs ?? 0)];
  let running: { rpc: RpcServer; servers: Server[] } | undefined;

  const bind = async (rpc: RpcServer, host: string, port: number): Promise<{ server: Server; port: number }> => {
    const server = createServer({ noDelay: true });
    if (options.networkAccess !== undefined) guardConnections(server, 'nfs', options.networkAccess, logger);
    server.on('connection', (socket) => {
      if (!socket.destroyed) rpc.accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return { server, port: (server.address() as AddressInfo).port };
  };

  const closeServers = async (servers: readonly Server[]): Promise<void> => {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };

  return {
    ports,
    reloadExports: () => exports.invalidate(),
    async listen(host, port) {
      if (running !== undefined) throw new Error('the NFS server is already listening');
      const portmapPort = typeof options.portmapPort === 'function' ? await options.portmapPort() : options.portmapPort;
      const rpc = new RpcServer(programs, limits, logger);
      const main = await bind(rpc, host, port);
      const servers = [main.server];
      // Set before the portmap port opens: GETPORT answers it.
      ports.nfs = main.port;
      running = { rpc, servers };
      if (portmapPort !== undefined) {
        try {
          const portmap = await bind(rpc, host, portmapPort);
          servers.push(portmap.server);
          ports.portmap = portmap.port;
          logger.info({ host, port: portmap.port }, 'answering PORTMAP');
        } catch (error) {
          // NFS itself is up: clients that name its port (or learn it on the NFS port) still work.
          const code = (error as NodeJS.ErrnoException).code;
          const reason = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges this process lacks' : 'cannot be bound';
          logger.error({ err: error, host, port: portmapPort }, `cannot answer PORTMAP on ${host}:${portmapPort}: the port ${reason}; change portmap_port in the NFS settings (NFS still serves on port ${main.port})`);
        }
      }
      return main.port;
    },
    async close() {
      if (running === undefined) return;
      const { rpc, servers } = running;
      running = undefined;
      rpc.close();
      await closeServers(servers);
      // Gathered UNSTABLE writes are written out on a clean stop (a crash loses them, and the
      // next start's new write verifier tells clients to send them again).
      await gatherer.flushAll();
      delete ports.nfs;
      delete ports.portmap;
    },
  };
}
