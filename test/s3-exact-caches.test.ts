import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { systemContext } from '../src/core/context.js';
import { createLogger } from '../src/ops/logger.js';
import { ensureDirectory } from '../src/protocols/s3/buckets.js';
import { callApi } from './support/api-client.js';
import { startS3, type S3Fixture, s3ErrorName } from './support/s3-fixture.js';

/**
 * The S3 server keeps access keys, users, group lists and bucket records in memory (ExactCache):
 * each change must show at the very next request, through the management API as well as through
 * the stores themselves. Every case warms the caches with a successful request first.
 */
describe('S3 caches are exact: changes take effect at the next request', () => {
  let fixture: S3Fixture;
  let alice: S3Client;
  let token: string;
  const ctx = systemContext(createLogger({ level: 'silent' }));
  const api = (method: string, path: string, body?: unknown) => callApi(fixture.server.ports.api as number, method, path, { token, ...(body === undefined ? {} : { body }) });

  before(async () => {
    fixture = await startS3();
    alice = fixture.client(fixture.users.alice.credentials);
    token = (await callApi(fixture.server.ports.api as number, 'POST', '/v1/session/login', { body: { username: 'admin', password: 'Correct-Horse-Battery-Staple-9' } })).json().bearer_token;
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'hello.txt', Body: 'hello' }));
  });
  after(async () => fixture?.stop());

  const read = (client: S3Client, bucket: string, key: string) => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then((answer) => answer.Body?.transformToString());
  const newKey = async (name: string) => {
    const user = await fixture.server.instance.users.findByName(name);
    assert.ok(user);
    const created = await fixture.accessKeys.create({ userId: user.id });
    return { id: created.accessKey.id, client: fixture.client({ accessKeyId: created.accessKey.id, secretAccessKey: created.secret }) };
  };

  it('an access key revoked in the store is refused at the next request', async () => {
    const key = await newKey('alice');
    assert.equal(await read(key.client, 'alpha', 'hello.txt'), 'hello');
    await fixture.accessKeys.revoke(key.id);
    assert.equal(await s3ErrorName(read(key.client, 'alpha', 'hello.txt')), 'InvalidAccessKeyId');
  });

  it('an access key revoked through the management API is refused at the next request', async () => {
    const key = await newKey('alice');
    assert.equal(await read(key.client, 'alpha', 'hello.txt'), 'hello');
    assert.equal((await api('DELETE', `/v1/s3/access-keys/${key.id}`)).status, 204);
    assert.equal(await s3ErrorName(read(key.client, 'alpha', 'hello.txt')), 'InvalidAccessKeyId');
  });

  it('a bucket removed from the store, or through the management API, is gone at the next request', async () => {
    for (const [name, remove] of [
      ['beta', () => fixture.buckets.remove('beta')],
      ['gamma', async () => assert.equal((await api('DELETE', '/v1/s3/buckets/gamma')).status, 204)],
    ] as const) {
      await alice.send(new CreateBucketCommand({ Bucket: name }));
      await alice.send(new PutObjectCommand({ Bucket: name, Key: 'x.txt', Body: 'x' }));
      assert.equal(await read(alice, name, 'x.txt'), 'x');
      await remove();
      assert.equal(await s3ErrorName(read(alice, name, 'x.txt')), 'NoSuchBucket', name);
    }
  });

  it('a bucket whose directory was deleted answers NoSuchBucket, whatever the request', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'delta' }));
    await alice.send(new PutObjectCommand({ Bucket: 'delta', Key: 'folder/x.txt', Body: 'x' }));
    assert.equal(await read(alice, 'delta', 'folder/x.txt'), 'x');
    const fs = fixture.server.instance.fileSystem;
    const folder = (await fs.resolvePath(ctx, '/s3/delta/folder')).handle;
    await fs.remove(ctx, folder, 'x.txt');
    await fs.rmdir(ctx, (await fs.resolvePath(ctx, '/s3/delta')).handle, 'folder');
    await fs.rmdir(ctx, (await fs.resolvePath(ctx, '/s3')).handle, 'delta');
    assert.equal(await s3ErrorName(read(alice, 'delta', 'folder/x.txt')), 'NoSuchBucket');
    assert.equal(await s3ErrorName(alice.send(new ListObjectsV2Command({ Bucket: 'delta' }))), 'NoSuchBucket');
    assert.equal(await s3ErrorName(alice.send(new ListObjectsV2Command({ Bucket: 'delta', Prefix: 'folder/' }))), 'NoSuchBucket');
    assert.equal(await s3ErrorName(alice.send(new ListObjectsV2Command({ Bucket: 'delta', MaxKeys: 0 }))), 'NoSuchBucket');
    assert.equal(await s3ErrorName(alice.send(new HeadBucketCommand({ Bucket: 'delta' }))), 'NotFound');
    // A directory made again at the same path is another node: the bucket stays gone.
    await ensureDirectory(fs, ctx, '/s3/delta', { mustCreate: true });
    assert.equal(await s3ErrorName(alice.send(new ListObjectsV2Command({ Bucket: 'delta' }))), 'NoSuchBucket');
  });

  it('a group membership added or removed shows in the caller\'s groups at the next request', async () => {
    const { users, groups, fileSystem: fs } = fixture.server.instance;
    const bob = await users.findByName('bob');
    assert.ok(bob);
    const team = await groups.createGroup({ name: 'team' });
    const dir = await ensureDirectory(fs, ctx, '/s3/alpha/team', { mustCreate: true, uid: fixture.users.alice.uid, gid: team.gid });
    await fs.setattr(ctx, dir.handle, { mode: 0o770 });
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'team/plan.txt', Body: 'plan' }));
    const bobClient = fixture.client(fixture.users.bob.credentials);
    assert.equal(await s3ErrorName(read(bobClient, 'alpha', 'team/plan.txt')), 'AccessDenied');
    await groups.addMember(team.id, bob.id);
    assert.equal(await read(bobClient, 'alpha', 'team/plan.txt'), 'plan');
    await groups.removeMember(team.id, bob.id);
    assert.equal(await s3ErrorName(read(bobClient, 'alpha', 'team/plan.txt')), 'AccessDenied');
    await groups.addMember(team.id, bob.id);
    assert.equal(await read(bobClient, 'alpha', 'team/plan.txt'), 'plan');
    await fs.setattr(ctx, dir.handle, { gid: 100 });
    assert.equal((await api('DELETE', `/v1/groups/${team.id}`)).status, 204);
    assert.deepEqual(await groups.groupsOf(bob.id), []);
  });

  it('a deleted user\'s key is refused at the next request', async () => {
    const { users } = fixture.server.instance;
    const carol = await users.createUser({ name: 'carol', password: 'ember-Lattice-Orchard-31' });
    const created = await fixture.accessKeys.create({ userId: carol.id });
    const client = fixture.client({ accessKeyId: created.accessKey.id, secretAccessKey: created.secret });
    assert.equal(await read(client, 'alpha', 'hello.txt'), 'hello');
    // Straight to the store, which leaves the key in place: the user lookup itself must see it.
    await users.deleteUser(carol.id);
    assert.equal(await s3ErrorName(read(client, 'alpha', 'hello.txt')), 'InvalidAccessKeyId');
  });
});
