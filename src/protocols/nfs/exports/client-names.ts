import { promises as dns } from 'node:dns';
import { BlockList } from 'node:net';
import type { Logger } from 'pino';
import { isHostnamePattern, normalizeAddress, type AddressFamily } from '../../../settings/address-rules.js';
import { ExpiringCache } from './expiring-cache.js';

/**
 * The names of NFS clients, for export rules written as hostnames (`build.example.org`,
 * `*.lab.example.org`). A name counts only when DNS says it both ways, as knfsd's mountd and
 * NFS-Ganesha do it (forward-confirmed reverse DNS): the PTR record of the client address gives
 * the candidate names, and a candidate is kept only when its A (or AAAA) records include that
 * address. A PTR record alone proves nothing: whoever controls the address's reverse zone can
 * write any name into it.
 *
 * Rules are checked on every NFS call, so answers are cached per address (positive and negative,
 * each with its TTL): a call whose address is cached is decided synchronously, and a lookup is
 * made once per address per TTL, however many calls arrive meanwhile. A lookup is bounded by
 * `lookupTimeoutMs`; a slow or failing resolver costs the first call of that client at most that
 * long and then counts as "no names" (a hostname rule does not match) until the negative TTL ends.
 * The rest of the server never waits on DNS: c-ares is asynchronous and off the libuv thread pool.
 */

/** Where names come from: node:dns in production (dnsHostnameResolver), a fake in tests. */
export interface HostnameResolver {
  /** The PTR names of an address; rejects (ENOTFOUND, ...) when there are none or DNS fails. */
  reverse(address: string): Promise<string[]>;
  /** The A (family ipv4) or AAAA (ipv6) addresses of a name; rejects when there are none. */
  resolve(hostname: string, family: AddressFamily): Promise<string[]>;
}

export interface ClientNameLimits {
  /** The whole reverse-then-forward lookup of one address. */
  readonly lookupTimeoutMs: number;
  /** How long confirmed names are reused. */
  readonly positiveTtlMs: number;
  /** How long "no confirmed name" (none, not confirmed, timeout, DNS failure) is reused. */
  readonly negativeTtlMs: number;
  /** Addresses remembered. */
  readonly entriesMax: number;
  /** Distinct addresses being looked up at once; beyond this a client has no names (not cached). */
  readonly lookupsInFlightMax: number;
  /** PTR names of one address that are forward-checked. */
  readonly namesPerAddressMax: number;
}

export const CLIENT_NAME_LIMITS: ClientNameLimits = {
  lookupTimeoutMs: 2_000,
  positiveTtlMs: 300_000,
  negativeTtlMs: 30_000,
  entriesMax: 4_096,
  lookupsInFlightMax: 64,
  namesPerAddressMax: 8,
};

/** Per DNS query: c-ares's own timeout and tries, inside the overall lookupTimeoutMs. */
export const DNS_QUERY_TIMEOUT_MS = 1_000;
export const DNS_QUERY_TRIES = 2;

/** node:dns through a c-ares Resolver (the system's resolv.conf servers), never the thread pool. */
export function dnsHostnameResolver(options: { queryTimeoutMs?: number; queryTries?: number } = {}): HostnameResolver {
  const resolver = new dns.Resolver({ timeout: options.queryTimeoutMs ?? DNS_QUERY_TIMEOUT_MS, tries: options.queryTries ?? DNS_QUERY_TRIES });
  return {
    reverse: (address) => resolver.reverse(address),
    resolve: (hostname, family) => (family === 'ipv4' ? resolver.resolve4(hostname) : resolver.resolve6(hostname)),
  };
}

export interface ClientNamesOptions {
  readonly resolver: HostnameResolver;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly limits?: Partial<ClientNameLimits>;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

export class ClientNames {
  private readonly limits: ClientNameLimits;
  private readonly cache: ExpiringCache<string, readonly string[]>;
  private inFlight = 0;
  /** Logged once per episode of lookupsInFlightMax being reached, not once per refused call. */
  private saturationLogged = false;

  constructor(private readonly options: ClientNamesOptions) {
    this.limits = { ...CLIENT_NAME_LIMITS, ...options.limits };
    this.cache = new ExpiringCache({ entriesMax: this.limits.entriesMax, nowMs: options.nowMs });
  }

  /**
   * The client's forward-confirmed names, lower case without a trailing dot: synchronously when
   * cached, else once the lookup ends (within lookupTimeoutMs). Never rejects; no names on failure.
   */
  namesOf(remoteAddress: string): readonly string[] | Promise<readonly string[]> {
    const address = normalizeAddress(remoteAddress);
    if (address === undefined) return NO_NAMES;
    const cached = this.cache.peek(address.address);
    if (cached !== undefined) return cached.value;
    if (this.inFlight >= this.limits.lookupsInFlightMax && !this.cache.isLoading(address.address)) {
      if (!this.saturationLogged) this.options.logger.warn({ client: address.address, lookupsInFlightMax: this.limits.lookupsInFlightMax }, 'too many client name lookups at once; hostname rules do not match new clients until some finish');
      this.saturationLogged = true;
      return NO_NAMES;
    }
    return this.cache.get(
      address.address,
      () => this.lookUp(address.address, address.family),
      (names) => (names.length > 0 ? this.limits.positiveTtlMs : this.limits.negativeTtlMs),
    );
  }

  private async lookUp(address: string, family: AddressFamily): Promise<readonly string[]> {
    this.inFlight += 1;
    let timer: NodeJS.Timeout | undefined;
    // Not unref'd: a call is waiting on this lookup, and the timer lives lookupTimeoutMs at most.
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.lookupTimeoutMs);
    });
    try {
      const outcome = await Promise.race([this.confirmedNames(address, family), timedOut]);
      if (outcome === 'timeout') {
        this.options.logger.warn({ client: address, lookupTimeoutMs: this.limits.lookupTimeoutMs }, 'client name lookup timed out; hostname rules do not match this client for now');
        return NO_NAMES;
      }
      return outcome;
    } finally {
      clearTimeout(timer);
      this.inFlight -= 1;
      if (this.inFlight === 0) this.saturationLogged = false;
    }
  }

  private async confirmedNames(address: string, family: AddressFamily): Promise<readonly string[]> {
    const { resolver, logger } = this.options;
    let candidates: string[];
    try {
      candidates = await resolver.reverse(address);
    } catch (error) {
      logger.debug({ client: address, err: error }, 'no PTR name for the client address');
      return NO_NAMES;
    }
    const names = [...new Set(candidates.map(canonicalName).filter((name) => isHostnamePattern(name) && !name.startsWith('*')))].slice(0, this.limits.namesPerAddressMax);
    const client = new BlockList();
    client.addAddress(address, family);
    const confirmed = await Promise.all(
      names.map(async (name) => {
        try {
          const addresses = await resolver.resolve(name, family);
          return addresses.some((candidate) => sameAddress(client, candidate, family)) ? name : undefined;
        } catch (error) {
          logger.debug({ client: address, name, err: error }, 'the PTR name of the client does not resolve');
          return undefined;
        }
      }),
    );
    const result = confirmed.filter((name): name is string => name !== undefined);
    if (result.length === 0 && names.length > 0) logger.info({ client: address, names }, 'the PTR names of the client do not resolve back to its address; hostname rules do not match it');
    return result;
  }
}

/** DNS names compare case-insensitively (RFC 4343); the root's trailing dot is not part of it. */
function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function sameAddress(client: BlockList, candidate: string, family: AddressFamily): boolean {
  const normalized = normalizeAddress(candidate);
  return normalized !== undefined && normalized.family === family && client.check(normalized.address, family);
}
