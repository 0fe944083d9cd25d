import type { Server, Socket } from 'node:net';
import type { AddressMatcher } from '../../settings/address-rules.js';
import { compileNetworkRules, networkRules, rulesAdmit, type NetworkRules, type NetworkService } from '../../settings/network-rules.js';
import type { SettingsStore } from '../../settings/settings-store.js';

/**
 * Enforces the network access rules where connections are accepted. `isAllowed` is synchronous
 * and cheap (node:net BlockList per service), rebuilt whenever the rules change; the settings
 * store runs the rebuild before a PUT answers, so a change applies to the next connection.
 * Connections already open are not cut by a change (each protocol may recheck per request).
 */
export class NetworkAccess {
  private matchers: Record<NetworkService, AddressMatcher>;
  private current: NetworkRules;
  private readonly unsubscribe: () => void;

  private constructor(store: SettingsStore, rules: NetworkRules) {
    this.current = rules;
    this.matchers = compileNetworkRules(rules);
    this.unsubscribe = store.onChange(networkRules, (next) => this.apply(next));
  }

  /** Loads the stored rules and follows their changes until `close`. */
  static async open(store: SettingsStore): Promise<NetworkAccess> {
    const access = new NetworkAccess(store, (await store.get(networkRules)).value);
    // A change committed between the read and the subscription would be missed: read again.
    access.apply((await store.get(networkRules)).value);
    return access;
  }

  isAllowed(service: NetworkService, remoteAddress: string | undefined): boolean {
    return rulesAdmit(this.matchers, service, remoteAddress);
  }

  rules(): NetworkRules {
    return this.current;
  }

  close(): void {
    this.unsubscribe();
  }

  private apply(rules: NetworkRules): void {
    this.matchers = compileNetworkRules(rules);
    this.current = rules;
  }
}

/** The one logger call the guard makes; a pino Logger fits. */
export interface RefusalLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface GuardOptions {
  /** At most one log line per refused address per interval. */
  readonly logIntervalMs?: number;
  /** Bounds the memory of recently logged addresses; the oldest are forgotten first. */
  readonly addressesRememberedMax?: number;
  readonly now?: () => number;
}

const LOG_INTERVAL_MS = 60_000;
const ADDRESSES_REMEMBERED_MAX = 4_096;

/**
 * Destroys sockets from refused addresses as soon as they are accepted: on a TLS server this runs
 * on the raw TCP socket, before any handshake, so a refused client costs no crypto work. Logs one
 * warning per address per minute (with how many were refused since), in bounded memory.
 * Returns a function that removes the guard.
 */
export function guardConnections(server: Server, service: NetworkService, access: Pick<NetworkAccess, 'isAllowed'>, logger: RefusalLogger, options: GuardOptions = {}): () => void {
  const intervalMs = options.logIntervalMs ?? LOG_INTERVAL_MS;
  const rememberedMax = options.addressesRememberedMax ?? ADDRESSES_REMEMBERED_MAX;
  const now = options.now ?? Date.now;
  const lastLogged = new Map<string, { atMs: number; suppressed: number }>();

  const onConnection = (socket: Socket): void => {
    const address = socket.remoteAddress;
    if (access.isAllowed(service, address)) return;
    socket.destroy();
    const key = address ?? 'unknown';
    const seen = lastLogged.get(key);
    const nowMs = now();
    if (seen !== undefined && nowMs - seen.atMs < intervalMs) {
      seen.suppressed += 1;
      return;
    }
    lastLogged.delete(key);
    if (lastLogged.size >= rememberedMax) {
      const oldest = lastLogged.keys().next();
      if (oldest.done !== true) lastLogged.delete(oldest.value);
    }
    lastLogged.set(key, { atMs: nowMs, suppressed: 0 });
    logger.warn({ service, remote_address: key, refused_since_last_log: seen?.suppressed ?? 0 }, 'connection refused by the network access rules');
  };
  server.prependListener('connection', onConnection);
  return () => {
    server.removeListener('connection', onConnection);
  };
}
