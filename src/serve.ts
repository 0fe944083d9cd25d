import type { Clock } from './core/clock.js';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from './config/config-schema.js';
import { openInstance, type Instance } from './main.js';
import type { ApiApp } from './protocols/rest/route.js';
import { createApiServer } from './protocols/rest/server.js';
import { guardConnections } from './protocols/rest/network-access.js';
import { openManagement, type Management } from './management.js';
import { openProtocolServers } from './protocol-servers.js';
import { instrumentApi } from './protocols/rest/routes/metrics.js';
import { applyTls } from './protocols/rest/routes/tls.js';
import { auditApi } from './protocols/rest/audit-hook.js';
import { readVersion } from './version.js';

/** A listener that could not start; `setting` names the configuration to change. */
export class ListenError extends Error {
  constructor(
    readonly setting: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ListenError';
  }
}

export interface Server {
  readonly instance: Instance;
  /** The API server (tests enumerate its routes). */
  readonly api: ApiApp;
  /** The management plane's services (benchmarks reach the auditor through it). */
  readonly management: Management;
  /** Ports actually bound, by service. */
  readonly ports: Readonly<Record<string, number>>;
  /**
   * Stops accepting, lets in-flight requests finish for up to `shutdownTimeoutMs`, then closes
   * the connections still open and the instance (flushing metadata). Idempotent.
   */
  stop(): Promise<void>;
}

export interface ServeOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Receives the `listening <service> <host>:<port>` lines and the one-time admin password. */
  readonly stdout: Writable;
  /** Tests pass a clock they control (session lifetimes, inactivity); the system clock otherwise. */
  readonly clock?: Clock;
}

/**
 * Opens the instance and starts the API listener. Protocol listeners (S3, NFS, SMB, FTP) start
 * when an administrator enables them (later issues); a fresh instance serves only the API.
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const { config, logger } = options;
  const instance = await openInstance(config, logger, { environment: options.environment, stdout: options.stdout, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  let api: ApiApp;
  let management: Management | undefined;
  try {
    management = await openManagement(instance, config, logger);
    const opened = management;
    api = await createApiServer({
      tls: instance.tlsCertificates.current(),
      instrument: (app) => {
        instrumentApi(app, opened.metrics);
        auditApi(app, opened.auditor);
      },
      logger,
      version: readVersion(options.environment),
      bodyBytesMax: config.apiBodyBytesMax,
      routes: management.routes,
      authorize: management.authorize,
    });
    // The network access rules apply when a connection is accepted, before TLS.
    guardConnections(api.server, 'api', management.networkAccess, logger);
    const server = api.server;
    instance.tlsCertificates.onChange((identity) => applyTls(server, identity));
    await listenOrExplain(api, { host: config.host, port: config.apiPort, setting: 'api_port' });
  } catch (error) {
    await management?.close();
    await instance.close();
    throw error;
  }
  const openedManagement = management;
  const protocols = await openProtocolServers({ instance, management, config, logger, stdout: options.stdout });
  const apiPort = (api.server.address() as AddressInfo).port;
  logger.info({ service: 'api', host: config.host, port: apiPort }, 'listening');
  const flagsHint = nodeFlagsHint(availableParallelism(), process.execArgv);
  if (flagsHint !== undefined) logger.info({ cores: availableParallelism() }, flagsHint);
  options.stdout.write(`listening api ${config.host}:${apiPort}\n`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down');
      await protocols.close();
      await closeWithin(api, config.shutdownTimeoutMs, logger);
      await openedManagement.close();
      await instance.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { instance, api, management: openedManagement, ports: { api: apiPort }, stop };
}

async function listenOrExplain(app: ApiApp, options: { host: string; port: number; setting: string }): Promise<void> {
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? 'is already in use'
        : code === 'EACCES'
          ? 'needs privileges this process lacks (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
          : code === 'EADDRNOTAVAIL'
            ? 'is on an address this machine does not have (check host)'
            : `cannot be bound (${(error as Error).message})`;
    throw new ListenError(options.setting, `cannot listen on ${options.host}:${options.port}: the port ${reason}; change ${options.setting}`, { cause: error });
  }
}

/** fastify's close stops accepting and waits for in-flight requests; this bounds the wait. */
async function closeWithin(app: ApiApp, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const closed = app.close().then(() => 'closed' as const);
  const outcome = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn({ timeoutMs }, 'requests still running at the shutdown deadline; closing their connections');
    app.server.closeAllConnections();
    await closed;
  }
}

/** Cores up to which V8's GC helper threads cost more than they save (decision 0007). */
export const SINGLE_THREADED_GC_CORES_MAX = 4;

/** How far V8 lets the heap grow past what a full collection kept before the next (decision 0009). */
export const HEAP_GROWING_FLAG = '--heap-growing-percent=300';

/**
 * The advice logged at start when the server runs without the Node flags `npm start` passes
 * (`--single-threaded-gc` on 4 cores or fewer, decision 0007; `--heap-growing-percent=300`,
 * decision 0009); undefined when there is nothing to say.
 */
export function nodeFlagsHint(cores: number, execArgv: readonly string[]): string | undefined {
  const missing: string[] = [];
  if (cores <= SINGLE_THREADED_GC_CORES_MAX && !execArgv.includes('--single-threaded-gc')) missing.push('--single-threaded-gc');
  if (!execArgv.some((flag) => flag.startsWith('--heap-growing-percent'))) missing.push(HEAP_GROWING_FLAG);
  if (missing.length === 0) return undefined;
  return `node runs without ${missing.join(' ')} on ${cores} cores; they measured faster for large NFS and S3 transfers (decisions 0007 and 0009): start the server with node ${missing.join(' ')}, as npm start does`;
}
