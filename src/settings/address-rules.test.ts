import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FsError } from '../core/errors.js';
import { AddressMatcher, isHostnamePattern, normalizeAddress, parseAddressRule, parseAddressRules, ruleSizeBits } from './address-rules.js';

const withHosts = { allowHostnames: true, field: 'hosts' };
const addressesOnly = { allowHostnames: false, field: 'allow' };

function refused(text: string, options = withHosts): string {
  try {
    parseAddressRule(text, options);
  } catch (error) {
    assert.ok(error instanceof FsError);
    assert.equal(error.code, 'InvalidArgument');
    return error.message;
  }
  assert.fail(`${text} was accepted`);
}

describe('address rules', () => {
  it('parses IPv4 and IPv6 addresses, subnets and ranges', () => {
    assert.deepEqual(parseAddressRule('10.0.0.1', addressesOnly), { kind: 'address', text: '10.0.0.1', address: '10.0.0.1', family: 'ipv4' });
    assert.deepEqual(parseAddressRule('10.0.0.0/8', addressesOnly), { kind: 'subnet', text: '10.0.0.0/8', network: '10.0.0.0', prefixBits: 8, family: 'ipv4' });
    assert.deepEqual(parseAddressRule('2001:DB8::/32', addressesOnly), { kind: 'subnet', text: '2001:DB8::/32', network: '2001:db8::', prefixBits: 32, family: 'ipv6' });
    assert.equal(parseAddressRule('10.0.0.1-10.0.0.20', addressesOnly).kind, 'range');
    assert.equal(parseAddressRule('::1-::9', addressesOnly).kind, 'range');
  });

  it('folds IPv4-mapped IPv6 addresses and subnets to IPv4', () => {
    assert.deepEqual(normalizeAddress('::ffff:192.0.2.7'), { address: '192.0.2.7', family: 'ipv4', mappedFromIpv6: true });
    assert.deepEqual(normalizeAddress('::ffff:c000:207'), { address: '192.0.2.7', family: 'ipv4', mappedFromIpv6: true });
    assert.deepEqual(parseAddressRule('::ffff:10.0.0.0/104', addressesOnly), { kind: 'subnet', text: '::ffff:10.0.0.0/104', network: '10.0.0.0', prefixBits: 8, family: 'ipv4' });
    assert.match(refused('::ffff:10.0.0.0/64', addressesOnly), /shorter than \/96/);
  });

  it('refuses malformed entries, each with the field and the reason', () => {
    assert.match(refused('10.0.0.0/33'), /hosts: "10.0.0.0\/33" has a prefix length over 32/);
    assert.match(refused('::/129'), /over 128/);
    assert.match(refused('10.0.0.0/x'), /prefix length is not a number/);
    assert.match(refused('10.0.0.0/08'), /prefix length is not a number/);
    assert.match(refused('300.1.1.1/8'), /not a CIDR subnet/);
    assert.match(refused('10.0.0.9-10.0.0.1'), /first address is after its last/);
    assert.match(refused('10.0.0.1-::1'), /one family/);
    assert.match(refused('fe80::1%eth0'), /zone id/);
    assert.match(refused(''), /is empty/);
    assert.match(refused('a'.repeat(301)), /longer than 300/);
    assert.match(refused('1.2.3.999'), /RFC 1123 hostname/);
    assert.match(refused('-bad.example.com'), /RFC 1123 hostname/);
    assert.match(refused('under_score.example'), /RFC 1123 hostname/);
    for (const wildcard of ['*', '*.', 'a.*.example.com', '*.*.example.com', 'node*.example.com']) assert.match(refused(wildcard), /"\*" that is not one leading "\*\." before a hostname/, wildcard);
    assert.match(refused('client.example.com', addressesOnly), /not an IP address, CIDR subnet or address range/);
    assert.throws(() => parseAddressRules(['10.0.0.1', 'nope!'], withHosts), /hosts\[1\]/);
  });

  it('accepts RFC 1123 hostnames and a one-level wildcard', () => {
    assert.equal(isHostnamePattern('client-1.example.com'), true);
    assert.equal(isHostnamePattern('*.example.com'), true);
    assert.equal(isHostnamePattern('localhost'), true);
    assert.equal(isHostnamePattern('a.*.example.com'), false);
    assert.equal(isHostnamePattern(`${'a'.repeat(64)}.example.com`), false);
    assert.equal(isHostnamePattern(`${'a.'.repeat(127)}com`), false);
  });

  it('a matcher admits addresses in its rules, in either IPv4 form, and no others', () => {
    const matcher = new AddressMatcher(parseAddressRules(['10.1.0.0/16', '2001:db8::/48', '192.0.2.10-192.0.2.20', '::ffff:198.51.100.1', '*.lab.example'], withHosts));
    assert.equal(matcher.matchesAddress('10.1.200.3'), true);
    assert.equal(matcher.matchesAddress('::ffff:10.1.200.3'), true);
    assert.equal(matcher.matchesAddress('10.2.0.1'), false);
    assert.equal(matcher.matchesAddress('2001:db8:0:1::5'), true);
    assert.equal(matcher.matchesAddress('2001:db8:1::5'), false);
    assert.equal(matcher.matchesAddress('192.0.2.15'), true);
    assert.equal(matcher.matchesAddress('192.0.2.21'), false);
    assert.equal(matcher.matchesAddress('198.51.100.1'), true);
    assert.equal(matcher.matchesAddress(undefined), false);
    assert.equal(matcher.matchesAddress('not-an-address'), false);
    assert.equal(matcher.matchesHostname('node1.lab.example'), true);
    assert.equal(matcher.matchesHostname('a.node1.lab.example'), false);
    assert.equal(matcher.matchesHostname('lab.example'), false);
  });

  it('measures how wide a rule is', () => {
    assert.equal(ruleSizeBits(parseAddressRule('10.0.0.1', withHosts)), 0);
    assert.equal(ruleSizeBits(parseAddressRule('10.0.0.0/24', withHosts)), 8);
    assert.equal(ruleSizeBits(parseAddressRule('0.0.0.0/0', withHosts)), 32);
    assert.equal(ruleSizeBits(parseAddressRule('10.0.0.0-10.0.3.255', withHosts)), 10);
    assert.equal(ruleSizeBits(parseAddressRule('::/0', withHosts)), 128);
    assert.equal(ruleSizeBits(parseAddressRule('::1-::ff', withHosts)), 8);
    assert.equal(ruleSizeBits(parseAddressRule('host.example', withHosts)), 0);
  });
});
