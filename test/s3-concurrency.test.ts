import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3, type S3Fixture } from './support/s3-fixture.js';

describe('S3 concurrent writes', () => {
  let fixture: S3Fixture;
  before(async () => {
    fixture = await startS3();
  });
  after(async () => {
    await fixture.stop();
  });

  it('16 concurrent PUTs into a new prefix all succeed: the folders they race to create are found', { timeout: 120_000 }, async () => {
    const alice = fixture.client(fixture.users.alice.credentials);
    for (let round = 0; round < 5; round++) {
      const prefix = `race-${round}/a/b`;
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, (_, index) => alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: `${prefix}/o${index}`, Body: 'x'.repeat(4_096) }))),
      );
      const failures = results.filter((result) => result.status === 'rejected').map((result) => String((result as PromiseRejectedResult).reason));
      assert.deepEqual(failures, [], `round ${round}`);
      const listed = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: `${prefix}/` }));
      assert.equal(listed.KeyCount, 16);
    }
  });
});
