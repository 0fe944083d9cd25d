import type { AddressFamily } from '../../../settings/address-rules.js';
import type { HostnameResolver } from '../exports/client-names.js';

/** DNS in a map: PTR and A/AAAA records, every query recorded, and addresses that never answer. */
export class FakeResolver implements HostnameResolver {
  readonly queries: string[] = [];
  readonly hanging = new Set<string>();
  constructor(
    private readonly ptr: Record<string, string[]>,
    private readonly forward: Record<string, string[]>,
  ) {}

  async reverse(address: string): Promise<string[]> {
    this.queries.push(`PTR ${address}`);
    if (this.hanging.has(address)) return new Promise<string[]>(() => undefined);
    const names = this.ptr[address];
    if (names === undefined) throw Object.assign(new Error(`getHostByAddr ENOTFOUND ${address}`), { code: 'ENOTFOUND' });
    return names;
  }

  async resolve(hostname: string, family: AddressFamily): Promise<string[]> {
    this.queries.push(`${family === 'ipv4' ? 'A' : 'AAAA'} ${hostname}`);
    const addresses = (this.forward[hostname.toLowerCase()] ?? []).filter((address) => address.includes(':') === (family === 'ipv6'));
    if (addresses.length === 0) throw Object.assign(new Error(`queryA ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses;
  }
}
