import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { ManualClock } from '../core/testing/core-fixture.test-support.js';
import { AccessTokens } from './access-tokens.js';
import { Sessions } from './sessions.js';

function sessions(clock = new ManualClock(), signingKey = new Uint8Array(32).fill(1)) {
  return new Sessions({ metadata: new MemoryMetadataStore(), clock, signingKey, lifetimeMs: async () => 10 * 3_600_000 });
}

describe('sessions', () => {
  it('a token verifies until it expires, is revoked, or all sessions of its user end', async () => {
    const clock = new ManualClock();
    const store = sessions(clock);
    const first = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    const second = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    assert.equal((await store.verify(first.token))?.userId, 'u1');
    await store.revoke(first.session.id);
    assert.equal(await store.verify(first.token), undefined);
    assert.equal(await store.revokeAllOf('u1'), 1);
    assert.equal(await store.verify(second.token), undefined);
    const third = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    clock.advanceMs(10 * 3_600_000 + 1);
    assert.equal(await store.verify(third.token), undefined, 'expired after 10 h');
  });

  it('refuses forged, tampered and foreign tokens', async () => {
    const store = sessions();
    const { token } = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    const [version, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, uid: 'admin' })).toString('base64url');
    assert.equal(await store.verify(`${version}.${forged}.${signature}`), undefined);
    assert.equal(await store.verify(`${version}.${payload}.${signature.slice(0, -2)}AA`), undefined);
    assert.equal(await store.verify('v1.e30.AAAA'), undefined);
    assert.equal(await store.verify('x'.repeat(5000)), undefined);
    const other = sessions(new ManualClock(), new Uint8Array(32).fill(2));
    assert.equal(await other.verify(token), undefined, 'another instance key');
  });
});

describe('access tokens', () => {
  it('verify by secret, expire, record last use, and stop at once when revoked', async () => {
    const clock = new ManualClock();
    const metadata = new MemoryMetadataStore();
    const tokens = new AccessTokens({ metadata, clock });
    const { token, bearer } = await tokens.create({ userId: 'u1', expiresAtMs: clock.nowMs() + 60_000, description: 'ci' });
    assert.match(bearer, /^enat_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    assert.equal((await tokens.verify(bearer))?.id, token.id);
    assert.ok((await tokens.get(token.id))?.lastUsedAtMs !== undefined);
    assert.equal(await tokens.verify(`${bearer.slice(0, -1)}${bearer.endsWith('A') ? 'B' : 'A'}`), undefined);
    const stored = JSON.stringify(await metadata.read((tx) => tx.scan({ start: new Uint8Array([0]), end: new Uint8Array([0xff]), limit: 100 })));
    assert.ok(!stored.includes(bearer.split('.')[1] as string), 'the secret is not stored');
    clock.advanceMs(60_001);
    assert.equal(await tokens.verify(bearer), undefined, 'expired');
    const fresh = await tokens.create({ userId: 'u1' });
    await tokens.revoke(fresh.token.id);
    assert.equal(await tokens.verify(fresh.bearer), undefined, 'revoked');
    await assert.rejects(tokens.create({ userId: 'u1', expiresAtMs: clock.nowMs() - 1 }));
  });
});
