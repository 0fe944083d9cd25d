import assert from 'node:assert/strict';
import { promises as dns } from 'node:dns';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../core/testing/core-fixture.test-support.js';
import { FakeResolver } from '../testing/fake-resolver.test-support.js';
import { ClientNames, dnsHostnameResolver, type ClientNameLimits, type HostnameResolver } from './client-names.js';

function namesWith(resolver: HostnameResolver, limits: Partial<ClientNameLimits> = {}) {
  const clock = { now: 1_000_000 };
  const names = new ClientNames({ resolver, nowMs: () => clock.now, logger: silentLogger, limits });
  return { names, clock };
}

describe('client names (forward-confirmed reverse DNS)', () => {
  it('keeps a PTR name only when it resolves back to the address, lower case without the final dot', async () => {
    const resolver = new FakeResolver(
      { '192.0.2.10': ['Build.Example.ORG.', 'spoofed.example.com'], '2001:db8::7': ['v6.example.org'] },
      { 'build.example.org': ['192.0.2.99', '192.0.2.10'], 'spoofed.example.com': ['198.51.100.1'], 'v6.example.org': ['2001:db8:0:0:0:0:0:7'] },
    );
    const { names } = namesWith(resolver);
    assert.deepEqual(await names.namesOf('192.0.2.10'), ['build.example.org']);
    assert.deepEqual(await names.namesOf('::ffff:192.0.2.10'), ['build.example.org'], 'an IPv4-mapped address is its IPv4 address');
    assert.deepEqual(await names.namesOf('2001:db8::7'), ['v6.example.org'], 'IPv6 addresses compare by value, not by spelling');
  });

  it('answers from the cache synchronously: one lookup per address per TTL, whatever the number of calls', async () => {
    const resolver = new FakeResolver({ '192.0.2.10': ['build.example.org'] }, { 'build.example.org': ['192.0.2.10'] });
    const { names, clock } = namesWith(resolver, { positiveTtlMs: 60_000 });
    const first = names.namesOf('192.0.2.10');
    const concurrent = names.namesOf('192.0.2.10');
    assert.ok(first instanceof Promise && concurrent instanceof Promise);
    assert.deepEqual(await Promise.all([first, concurrent]), [['build.example.org'], ['build.example.org']]);
    for (let call = 0; call < 100; call++) assert.deepEqual(names.namesOf('192.0.2.10'), ['build.example.org']);
    assert.deepEqual(resolver.queries, ['PTR 192.0.2.10', 'A build.example.org']);
    clock.now += 60_000;
    assert.ok(names.namesOf('192.0.2.10') instanceof Promise, 'an expired answer is looked up again');
  });

  it('caches "no name" for the negative TTL: no PTR, or a PTR name that does not resolve back', async () => {
    const resolver = new FakeResolver({ '192.0.2.20': ['liar.example.org'] }, { 'liar.example.org': ['203.0.113.5'] });
    const { names, clock } = namesWith(resolver, { negativeTtlMs: 5_000, positiveTtlMs: 60_000 });
    assert.deepEqual(await names.namesOf('192.0.2.20'), []);
    assert.deepEqual(await names.namesOf('192.0.2.21'), []);
    assert.deepEqual(names.namesOf('192.0.2.20'), []);
    assert.deepEqual(names.namesOf('192.0.2.21'), []);
    assert.equal(resolver.queries.length, 3);
    clock.now += 5_000;
    assert.ok(names.namesOf('192.0.2.21') instanceof Promise);
  });

  it('a lookup that outlasts lookupTimeoutMs is no name, cached negatively, and does not hold up others', async () => {
    const resolver = new FakeResolver({ '192.0.2.30': ['quick.example.org'] }, { 'quick.example.org': ['192.0.2.30'] });
    resolver.hanging.add('192.0.2.31');
    const { names } = namesWith(resolver, { lookupTimeoutMs: 30 });
    const started = Date.now();
    const slow = names.namesOf('192.0.2.31');
    assert.deepEqual(await names.namesOf('192.0.2.30'), ['quick.example.org']);
    assert.deepEqual(await slow, []);
    assert.ok(Date.now() - started < 1_000);
    assert.deepEqual(names.namesOf('192.0.2.31'), [], 'the timeout is remembered: the next call does not wait again');
  });

  it('beyond lookupsInFlightMax a new address has no names and nothing is cached for it', async () => {
    const resolver = new FakeResolver({ '192.0.2.41': ['b.example.org'] }, { 'b.example.org': ['192.0.2.41'] });
    resolver.hanging.add('192.0.2.40');
    const { names } = namesWith(resolver, { lookupsInFlightMax: 1, lookupTimeoutMs: 50 });
    const hanging = names.namesOf('192.0.2.40');
    assert.deepEqual(names.namesOf('192.0.2.41'), []);
    assert.ok(names.namesOf('192.0.2.40') instanceof Promise, 'the address being looked up still joins its lookup');
    await hanging;
    assert.deepEqual(await names.namesOf('192.0.2.41'), ['b.example.org']);
  });

  it('not an address: no names, no query', () => {
    const resolver = new FakeResolver({}, {});
    assert.deepEqual(namesWith(resolver).names.namesOf('unknown'), []);
    assert.deepEqual(resolver.queries, []);
  });

  it('through the real resolver, 127.0.0.1 is confirmed as localhost when this machine says so both ways', async (context) => {
    // The real resolver is c-ares: PTR answers may come from /etc/hosts, A answers only from DNS.
    const reverse = await new dns.Resolver({ timeout: 500, tries: 1 }).reverse('127.0.0.1').catch(() => [] as string[]);
    const forward = await new dns.Resolver({ timeout: 500, tries: 1 }).resolve4('localhost').catch(() => [] as string[]);
    if (!reverse.map((name) => name.toLowerCase()).includes('localhost') || !forward.includes('127.0.0.1')) {
      context.skip(`this machine's resolver does not confirm localhost both ways (PTR 127.0.0.1 -> [${reverse.join(', ')}], A localhost -> [${forward.join(', ')}]; c-ares reads /etc/hosts for PTR only)`);
      return;
    }
    const { names } = namesWith(dnsHostnameResolver({ queryTimeoutMs: 500, queryTries: 1 }));
    assert.ok((await names.namesOf('127.0.0.1')).includes('localhost'));
  });
});
