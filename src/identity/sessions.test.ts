import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { ManualClock } from '../core/testing/core-fixture.test-support.js';
import { AccessTokens } from './access-tokens.js';
import { LAST_USE_RESOLUTION_MS, Sessions } from './sessions.js';

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
  it('a session unused for longer than the inactivity timeout is refused and ended; each use restarts the wait', async () => {
    const clock = new ManualClock();
    let idleMinutes = 15;
    const store = new Sessions({ metadata: new MemoryMetadataStore(), clock, signingKey: new Uint8Array(32).fill(1), lifetimeMs: async () => 10 * 3_600_000, idleTimeoutMs: async () => idleMinutes * 60_000 });
    const { token, session } = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    assert.equal(session.lastUsedAtMs, session.createdAtMs);
    for (let use = 0; use < 4; use++) {
      clock.advanceMs(14 * 60_000);
      const used = await store.verify(token);
      assert.equal(used?.lastUsedAtMs, clock.nowMs(), `use ${use} after 14 idle minutes is recorded`);
    }
    clock.advanceMs(15 * 60_000 + 1);
    assert.equal(await store.verify(token), undefined, 'refused after 15 idle minutes');
    clock.advanceMs(-(15 * 60_000 + 1));
    assert.equal(await store.verify(token), undefined, 'and ended: the user must log in again');
    const second = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    idleMinutes = 1;
    clock.advanceMs(61_000);
    assert.equal(await store.verify(second.token), undefined, 'a shorter timeout applies to live sessions at once');
  });

  it('uses within LAST_USE_RESOLUTION_MS of the recorded one do not rewrite it', async () => {
    const clock = new ManualClock();
    const store = new Sessions({ metadata: new MemoryMetadataStore(), clock, signingKey: new Uint8Array(32).fill(1), lifetimeMs: async () => 3_600_000, idleTimeoutMs: async () => 60_000 });
    const { token, session } = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    clock.advanceMs(LAST_USE_RESOLUTION_MS - 1);
    assert.equal((await store.verify(token))?.lastUsedAtMs, session.createdAtMs);
    clock.advanceMs(1);
    assert.equal((await store.verify(token))?.lastUsedAtMs, clock.nowMs());
  });

  it('the lifetime is read at each login: a changed lifetime applies to new sessions only', async () => {
    const clock = new ManualClock();
    let lifetimeMs = 10 * 3_600_000;
    const store = new Sessions({ metadata: new MemoryMetadataStore(), clock, signingKey: new Uint8Array(32).fill(1), lifetimeMs: async () => lifetimeMs });
    const before = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    lifetimeMs = 30 * 60_000;
    const after = await store.create({ userId: 'u1', scope: 'full', clientAddress: '127.0.0.1' });
    assert.equal(after.session.expiresAtMs - after.session.createdAtMs, 30 * 60_000);
    clock.advanceMs(30 * 60_000 + 1);
    assert.equal(await store.verify(after.token), undefined);
    assert.equal((await store.verify(before.token))?.userId, 'u1', 'an existing session keeps its expiry');
  });
});
