import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../core/testing/core-fixture.test-support.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { ACCESS_KEY_ID_PATTERN, S3AccessKeys } from './s3-access-keys.js';

describe('S3 access keys', () => {
  it('a secret is 40 characters, returned once, stored encrypted, and opens only with the key', async () => {
    const metadata = new MemoryMetadataStore();
    const clock = new ManualClock();
    const keys = new S3AccessKeys({ metadata, clock, key: randomBytes(32) });
    const created = await keys.create({ userId: 'u1' });
    assert.match(created.accessKey.id, ACCESS_KEY_ID_PATTERN);
    assert.equal(created.accessKey.id.length, 20);
    assert.equal(created.secret.length, 40);
    assert.equal((await keys.secretOf(created.accessKey.id))?.secret, created.secret);
    const everything = await metadata.read((tx) => tx.scan({ start: new Uint8Array([0]), end: new Uint8Array([0xff]), limit: 1000 }));
    for (const entry of everything) assert.ok(!Buffer.from(entry.value).toString('latin1').includes(created.secret));
    const otherKey = new S3AccessKeys({ metadata, clock, key: randomBytes(32) });
    await assert.rejects(otherKey.secretOf(created.accessKey.id));
  });

  it('at most two active keys per user; expiry and revocation take effect at once', async () => {
    const clock = new ManualClock();
    const keys = new S3AccessKeys({ metadata: new MemoryMetadataStore(), clock, key: randomBytes(32) });
    const first = await keys.create({ userId: 'u1', expiresAtMs: clock.nowMs() + 60_000 });
    const second = await keys.create({ userId: 'u1' });
    await assert.rejects(keys.create({ userId: 'u1' }), /at most 2/);
    await keys.create({ userId: 'u2' });
    clock.advanceMs(61_000);
    assert.equal(await keys.secretOf(first.accessKey.id), undefined);
    await keys.create({ userId: 'u1' });
    await keys.revoke(second.accessKey.id);
    assert.equal(await keys.secretOf(second.accessKey.id), undefined);
    await assert.rejects(keys.revoke(second.accessKey.id), /no S3 access key/);
    const other = (await keys.list({ userId: 'u2' }))[0];
    assert.ok(other !== undefined);
    await assert.rejects(keys.revoke(other.id, { userId: 'u1' }), /no S3 access key/);
  });

  it('secrets are cached, yet a revocation takes effect at the very next lookup', async () => {
    const metadata = new MemoryMetadataStore();
    let reads = 0;
    const counting: MetadataStore = { read: (fn) => (reads++, metadata.read(fn)), write: (fn) => metadata.write(fn), close: () => metadata.close() };
    const keys = new S3AccessKeys({ metadata: counting, clock: new ManualClock(), key: randomBytes(32) });
    const { accessKey, secret } = await keys.create({ userId: 'u1' });
    assert.equal((await keys.secretOf(accessKey.id))?.secret, secret);
    const before = reads;
    for (let request = 0; request < 5; request++) assert.equal((await keys.secretOf(accessKey.id))?.secret, secret);
    assert.equal(reads, before, 'served from memory');
    await keys.revoke(accessKey.id);
    assert.equal(await keys.secretOf(accessKey.id), undefined);
    const second = await keys.create({ userId: 'u1' });
    await keys.secretOf(second.accessKey.id);
    await keys.revokeAllOf('u1');
    assert.equal(await keys.secretOf(second.accessKey.id), undefined);
  });

  it('a cached key still expires on time: the expiry is checked against the clock at each use', async () => {
    const clock = new ManualClock();
    const keys = new S3AccessKeys({ metadata: new MemoryMetadataStore(), clock, key: randomBytes(32) });
    const { accessKey } = await keys.create({ userId: 'u1', expiresAtMs: clock.nowMs() + 1_000 });
    assert.ok(await keys.secretOf(accessKey.id));
    clock.advanceMs(1_000);
    assert.equal(await keys.secretOf(accessKey.id), undefined);
  });

  it('a lookup that read the key before its revocation committed does not cache it past the revocation', async () => {
    const metadata = new MemoryMetadataStore();
    let hold: Promise<void> | undefined;
    // Reads complete against the store at once, then wait: the answer is the pre-revocation state.
    const slow: MetadataStore = {
      read: async (fn) => {
        const result = await metadata.read(fn);
        if (hold !== undefined) await hold;
        return result;
      },
      write: (fn) => metadata.write(fn),
      close: () => metadata.close(),
    };
    const keys = new S3AccessKeys({ metadata: slow, clock: new ManualClock(), key: randomBytes(32) });
    const { accessKey, secret } = await keys.create({ userId: 'u1' });
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    const racing = keys.secretOf(accessKey.id);
    await new Promise((resolve) => setImmediate(resolve));
    await keys.revoke(accessKey.id);
    release();
    hold = undefined;
    assert.equal((await racing)?.secret, secret, 'the request that raced the revocation read it before the commit');
    assert.equal(await keys.secretOf(accessKey.id), undefined, 'the next request sees the revocation');
  });
});
