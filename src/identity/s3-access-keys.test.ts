import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../core/testing/core-fixture.test-support.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
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
});
