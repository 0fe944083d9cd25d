import { BlockList, isIP } from 'node:net';
import { FsError } from '../core/errors.js';

/**
 * Address rules shared by the network access rules, NFS export host restrictions and SMB share
 * network permissions: an IP address, a CIDR subnet, an address range (`first-last`) or, where the
 * caller allows it, a hostname (RFC 1123, optionally `*.` for one level of wildcard).
 *
 * IPv4-mapped IPv6 forms (`::ffff:10.0.0.1`, `::ffff:10.0.0.0/104`) are normalised to IPv4, so a
 * rule written either way matches a client seen either way (a dual-stack listener reports IPv4
 * clients as `::ffff:a.b.c.d`). Zone ids (`fe80::1%eth0`) are refused: they name an interface of
 * this host, not a client.
 */

export type AddressFamily = 'ipv4' | 'ipv6';

export type AddressRule =
  | { readonly kind: 'address'; readonly text: string; readonly address: string; readonly family: AddressFamily }
  | { readonly kind: 'subnet'; readonly text: string; readonly network: string; readonly prefixBits: number; readonly family: AddressFamily }
  | { readonly kind: 'range'; readonly text: string; readonly first: string; readonly last: string; readonly family: AddressFamily }
  | { readonly kind: 'hostname'; readonly text: string; readonly pattern: string };

export const ADDRESS_RULE_CHARS_MAX = 300;
const HOSTNAME_CHARS_MAX = 253;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const DECIMAL = /^(?:0|[1-9][0-9]{0,2})$/;

export interface ParseRuleOptions {
  readonly allowHostnames: boolean;
  /** Names the setting in error messages, e.g. `services.api.allow[2]`. */
  readonly field: string;
}

function invalid(field: string, text: string, why: string): FsError {
  return new FsError('InvalidArgument', `${field}: ${JSON.stringify(text.slice(0, 80))} ${why}`);
}

/** Parses one rule; throws FsError InvalidArgument naming the field and the reason. */
export function parseAddressRule(text: string, options: ParseRuleOptions): AddressRule {
  const { field } = options;
  if (text.length === 0) throw invalid(field, text, 'is empty');
  if (text.length > ADDRESS_RULE_CHARS_MAX) throw invalid(field, text, `is longer than ${ADDRESS_RULE_CHARS_MAX} characters`);
  if (text.includes('%')) throw invalid(field, text, 'has a zone id (%...); rules name client addresses, not interfaces');
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const parsed = normalizeAddress(text.slice(0, slash));
    const bitsText = text.slice(slash + 1);
    if (parsed === undefined) throw invalid(field, text, 'is not a CIDR subnet: the part before "/" is not an IP address');
    if (!DECIMAL.test(bitsText)) throw invalid(field, text, 'is not a CIDR subnet: the prefix length is not a number');
    let prefixBits = Number(bitsText);
    const mapped = parsed.mappedFromIpv6 === true;
    if (mapped) {
      if (prefixBits < 96) throw invalid(field, text, 'is an IPv4-mapped subnet shorter than /96; write the IPv4 subnet instead');
      prefixBits -= 96;
    }
    const bitsMax = parsed.family === 'ipv4' ? 32 : 128;
    if (prefixBits > bitsMax) throw invalid(field, text, `has a prefix length over ${bitsMax}`);
    return { kind: 'subnet', text, network: parsed.address, prefixBits, family: parsed.family };
  }
  const dash = text.indexOf('-');
  if (dash > 0 && (isIP(text.slice(0, dash)) !== 0 || isIP(text.slice(dash + 1)) !== 0)) {
    const first = normalizeAddress(text.slice(0, dash));
    const last = normalizeAddress(text.slice(dash + 1));
    if (first === undefined || last === undefined) throw invalid(field, text, 'is not an address range: both ends must be IP addresses');
    if (first.family !== last.family) throw invalid(field, text, 'is not an address range: both ends must be of one family');
    if (compareAddresses(first.address, last.address, first.family) > 0) throw invalid(field, text, 'is an address range whose first address is after its last');
    return { kind: 'range', text, first: first.address, last: last.address, family: first.family };
  }
  const address = normalizeAddress(text);
  if (address !== undefined) return { kind: 'address', text, address: address.address, family: address.family };
  if (!options.allowHostnames) throw invalid(field, text, 'is not an IP address, CIDR subnet or address range');
  if (text.includes('*') && !/^\*\.[^*]+$/.test(text)) throw invalid(field, text, 'has a "*" that is not one leading "*." before a hostname (write *.example.org, which matches one level of names under example.org)');
  if (!isHostnamePattern(text)) throw invalid(field, text, 'is not an IP address, CIDR subnet, address range or RFC 1123 hostname');
  return { kind: 'hostname', text, pattern: text.toLowerCase() };
}

/** RFC 1123 hostname, or `*.` followed by one; an all-numeric last label is refused (a bad IP). */
export function isHostnamePattern(text: string): boolean {
  const name = text.startsWith('*.') ? text.slice(2) : text;
  if (name.length === 0 || name.length > HOSTNAME_CHARS_MAX) return false;
  const labels = name.replace(/\.$/, '').split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? '');
}

/**
 * Validates an address as a client would be seen and folds IPv4-mapped IPv6 to IPv4. Undefined
 * for anything that is not an IP address.
 */
export function normalizeAddress(text: string): { address: string; family: AddressFamily; mappedFromIpv6?: boolean } | undefined {
  const version = isIP(text);
  if (version === 4) return { address: text, family: 'ipv4' };
  if (version !== 6 || text.includes('%')) return undefined;
  const groups = ipv6Groups(text);
  if (groups === undefined) return undefined;
  const isMapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (isMapped) {
    const high = groups[6] ?? 0;
    const low = groups[7] ?? 0;
    return { address: `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`, family: 'ipv4', mappedFromIpv6: true };
  }
  return { address: text.toLowerCase(), family: 'ipv6' };
}

/** The eight 16-bit groups of a valid IPv6 address (checked with isIP first). */
function ipv6Groups(text: string): number[] | undefined {
  let source = text;
  const lastColon = source.lastIndexOf(':');
  const tail = source.slice(lastColon + 1);
  if (isIP(tail) === 4) {
    const bytes = tail.split('.').map(Number);
    source = `${source.slice(0, lastColon + 1)}${(((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0)).toString(16)}:${(((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)).toString(16)}`;
  }
  const [head = '', rest] = source.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  if (rest === undefined ? missing !== 0 : missing < 0) return undefined;
  return [...headGroups, ...new Array<string>(missing).fill('0'), ...restGroups].map((group) => Number.parseInt(group, 16));
}

function compareAddresses(left: string, right: string, family: AddressFamily): number {
  if (family === 'ipv4') {
    const toNumber = (text: string) => text.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
    return toNumber(left) - toNumber(right);
  }
  const leftGroups = ipv6Groups(left) ?? [];
  const rightGroups = ipv6Groups(right) ?? [];
  for (let index = 0; index < 8; index++) {
    const difference = (leftGroups[index] ?? 0) - (rightGroups[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** How many addresses a rule admits, as a power of two's exponent (hostnames: 0, one host). */
export function ruleSizeBits(rule: AddressRule): number {
  switch (rule.kind) {
    case 'address':
    case 'hostname':
      return 0;
    case 'subnet':
      return (rule.family === 'ipv4' ? 32 : 128) - rule.prefixBits;
    case 'range': {
      if (rule.family === 'ipv4') return Math.ceil(Math.log2(compareAddresses(rule.last, rule.first, 'ipv4') + 1));
      const first = ipv6Groups(rule.first) ?? [];
      const last = ipv6Groups(rule.last) ?? [];
      const firstDiffering = first.findIndex((group, index) => group !== last[index]);
      if (firstDiffering < 0) return 0;
      return (8 - firstDiffering) * 16 - Math.clz32((last[firstDiffering] ?? 0) ^ (first[firstDiffering] ?? 0)) + 16;
    }
  }
}

/**
 * A compiled set of rules: address, subnet and range rules in a node:net BlockList (fast, checked
 * per connection), hostname patterns kept aside for callers that resolve client names (NFS).
 */
export class AddressMatcher {
  private readonly list = new BlockList();
  /** Lower case, without a final dot. */
  readonly hostnamePatterns: readonly string[];
  readonly isEmpty: boolean;

  constructor(rules: readonly AddressRule[]) {
    const hostnames: string[] = [];
    for (const rule of rules) {
      if (rule.kind === 'address') this.list.addAddress(rule.address, rule.family);
      else if (rule.kind === 'subnet') this.list.addSubnet(rule.network, rule.prefixBits, rule.family);
      else if (rule.kind === 'range') this.list.addRange(rule.first, rule.last, rule.family);
      else hostnames.push(rule.pattern.replace(/\.$/, ''));
    }
    this.hostnamePatterns = hostnames;
    this.isEmpty = rules.length === 0;
  }

  /** True when the address matches an address, subnet or range rule. Not an address: false. */
  matchesAddress(remoteAddress: string | undefined): boolean {
    if (remoteAddress === undefined) return false;
    const normalized = normalizeAddress(remoteAddress.split('%')[0] ?? '');
    if (normalized === undefined) return false;
    return this.list.check(normalized.address, normalized.family);
  }

  /**
   * True when a (reverse-resolved) client hostname matches a hostname rule; `*.` is one level.
   * Patterns are made canonical once, here, not on each of NFS's per-call checks.
   */
  matchesHostname(hostname: string): boolean {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    return this.hostnamePatterns.some((bare) => {
      if (!bare.startsWith('*.')) return bare === name;
      const suffix = bare.slice(1);
      return name.endsWith(suffix) && !name.slice(0, -suffix.length).includes('.') && name.length > suffix.length;
    });
  }
}

/** Parses a list of rules, each error naming `${field}[index]`. */
export function parseAddressRules(texts: readonly string[], options: ParseRuleOptions): AddressRule[] {
  return texts.map((text, index) => parseAddressRule(text, { ...options, field: `${options.field}[${index}]` }));
}
