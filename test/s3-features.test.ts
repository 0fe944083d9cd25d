import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  DeleteBucketPolicyCommand, DeleteObjectTaggingCommand, DeleteObjectsCommand, GetBucketPolicyCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand,
  ListObjectVersionsCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectTaggingCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { systemContext } from '../src/core/context.js';
import { createLogger } from '../src/ops/logger.js';
import { presign, rawRequest, startS3, type S3Fixture, s3ErrorName } from './support/s3-fixture.js';

const run = promisify(execFile);

describe('S3 tagging, versions, bucket policies, presigned URLs, s3cmd', () => {
  let fixture: S3Fixture;
  let alice: S3Client;
  let bob: S3Client;

  before(async () => {
    fixture = await startS3({ secure: false });
    alice = fixture.client(fixture.users.alice.credentials);
    bob = fixture.client(fixture.users.bob.credentials);
  });
  after(async () => fixture?.stop());

  const anonymous = (method: string, path: string, options: { body?: Buffer; plain?: boolean } = {}) => rawRequest(fixture.port, { method, path, ...options });
  const setPolicy = (statements: unknown[]) => alice.send(new PutBucketPolicyCommand({ Bucket: 'alpha', Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));

  it('object tagging: x-amz-tagging on PUT, Put/Get/DeleteObjectTagging, limits', async () => {
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'tags/one', Body: 'x', Tagging: 'project=enclave&tier=gold%20plus' }));
    const got = await alice.send(new GetObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one' }));
    assert.deepEqual(got.TagSet, [{ Key: 'project', Value: 'enclave' }, { Key: 'tier', Value: 'gold plus' }]);
    assert.equal((await alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'tags/one' }))).ETag, '"9dd4e461268c8034f5c8564e155c67a6"');
    await alice.send(new PutObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one', Tagging: { TagSet: [{ Key: 'only', Value: '1' }] } }));
    assert.deepEqual((await alice.send(new GetObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one' }))).TagSet, [{ Key: 'only', Value: '1' }]);
    const tooMany = Array.from({ length: 11 }, (_, index) => ({ Key: `k${index}`, Value: 'v' }));
    assert.equal(await s3ErrorName(alice.send(new PutObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one', Tagging: { TagSet: tooMany } }))), 'InvalidTag');
    assert.equal(await s3ErrorName(alice.send(new PutObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one', Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: 'v' }] } }))), 'InvalidTag');
    assert.equal(await s3ErrorName(alice.send(new PutObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one', Tagging: { TagSet: [{ Key: 'k', Value: 'v'.repeat(257) }] } }))), 'InvalidTag');
    assert.equal(await s3ErrorName(alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'tags/two', Body: 'x', Tagging: 'a=1&a=2' }))), 'InvalidTag');
    await alice.send(new DeleteObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one' }));
    assert.deepEqual((await alice.send(new GetObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/one' }))).TagSet ?? [], []);
    assert.equal(await s3ErrorName(alice.send(new GetObjectTaggingCommand({ Bucket: 'alpha', Key: 'tags/none' }))), 'NoSuchKey');
  });

  it('object metadata is published with the object (small and staged), and dropped when another protocol changes the data', async () => {
    const headers = { ContentType: 'text/plain', CacheControl: 'max-age=60', Metadata: { colour: 'blue' } };
    const large = randomBytes(9 * 1024 * 1024); // over the whole-object limit: staged, then renamed with its metadata
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'meta/small', Body: 'hello', ...headers }));
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'meta/large', Body: large, ...headers }));
    for (const [key, md5] of [['meta/small', '5d41402abc4b2a76b9719d911017c592'], ['meta/large', createHash('md5').update(large).digest('hex')]] as const) {
      const head = await alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: key }));
      assert.equal(head.ETag, `"${md5}"`, key);
      assert.equal(head.ContentType, 'text/plain', key);
      assert.equal(head.CacheControl, 'max-age=60', key);
      assert.deepEqual(head.Metadata, { colour: 'blue' }, key);
    }
    // The same file changed over another protocol (core directly, as NFS or SMB would).
    const fs = fixture.server.instance.fileSystem;
    const ctx = systemContext(createLogger({ level: 'silent' }));
    const file = await fs.resolvePath(ctx, '/s3/alpha/meta/small');
    await fs.write(ctx, file.handle, { offset: 0, data: new TextEncoder().encode('J') });
    const changed = await alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'meta/small' }));
    assert.notEqual(changed.ETag, '"5d41402abc4b2a76b9719d911017c592"');
    assert.notEqual(changed.ETag, `"${createHash('md5').update('Jello').digest('hex')}"`, 'a derived ETag is never an MD5');
    assert.equal(changed.ContentType, 'binary/octet-stream');
    assert.deepEqual(changed.Metadata ?? {}, {});
    const listed = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'meta/' }));
    assert.deepEqual(listed.Contents?.map((object) => object.ETag), [`"${createHash('md5').update(large).digest('hex')}"`, changed.ETag]);
  });

  it('stores verified upload checksums and answers them with x-amz-checksum-mode ENABLED, whole objects only', async () => {
    const small = Buffer.from('checksummed content');
    const large = randomBytes(9 * 1024 * 1024);
    const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('base64');
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'sums/small', Body: small, ChecksumAlgorithm: 'SHA256' }));
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'sums/large', Body: large, ChecksumAlgorithm: 'SHA256' }));
    for (const [key, data] of [['sums/small', small], ['sums/large', large]] as const) {
      const got = await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: key, ChecksumMode: 'ENABLED' }));
      assert.equal(got.ChecksumSHA256, sha256(data), key);
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), data);
      const head = await alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: key, ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumSHA256, sha256(data), key);
      const ranged = await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: key, Range: 'bytes=0-3', ChecksumMode: 'ENABLED' }));
      assert.equal(ranged.ChecksumSHA256, undefined, 'no full-object checksum for a range');
      await ranged.Body!.transformToByteArray();
    }
    // Changed over another protocol: the stored checksum goes with the stale metadata.
    const fs = fixture.server.instance.fileSystem;
    const ctx = systemContext(createLogger({ level: 'silent' }));
    await fs.write(ctx, (await fs.resolvePath(ctx, '/s3/alpha/sums/small')).handle, { offset: 0, data: new TextEncoder().encode('C') });
    assert.equal((await alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'sums/small', ChecksumMode: 'ENABLED' }))).ChecksumSHA256, undefined);
  });

  it('ListObjectVersions answers current objects as null versions; PutBucketVersioning is NotImplemented', async () => {
    for (const key of ['ver/a', 'ver/b', 'ver/c/d']) await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: key, Body: key }));
    const all = await alice.send(new ListObjectVersionsCommand({ Bucket: 'alpha', Prefix: 'ver/' }));
    assert.deepEqual(all.Versions?.map((version) => [version.Key, version.VersionId, version.IsLatest]), [['ver/a', 'null', true], ['ver/b', 'null', true], ['ver/c/d', 'null', true]]);
    assert.equal(all.DeleteMarkers, undefined);
    const page = await alice.send(new ListObjectVersionsCommand({ Bucket: 'alpha', Prefix: 'ver/', MaxKeys: 2 }));
    assert.equal(page.IsTruncated, true);
    const rest = await alice.send(new ListObjectVersionsCommand({ Bucket: 'alpha', Prefix: 'ver/', KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker }));
    assert.deepEqual(rest.Versions?.map((version) => version.Key), ['ver/c/d']);
    const delimited = await alice.send(new ListObjectVersionsCommand({ Bucket: 'alpha', Prefix: 'ver/', Delimiter: '/' }));
    assert.deepEqual(delimited.CommonPrefixes?.map((item) => item.Prefix), ['ver/c/']);
    // The cleanup pattern of tools: list versions, delete them by (key, null).
    await alice.send(new DeleteObjectsCommand({ Bucket: 'alpha', Delete: { Objects: (all.Versions ?? []).map((version) => ({ Key: version.Key!, VersionId: version.VersionId! })) } }));
    assert.equal((await alice.send(new ListObjectVersionsCommand({ Bucket: 'alpha', Prefix: 'ver/' }))).Versions, undefined);
    const refused = await s3ErrorName(alice.send(new PutBucketVersioningCommand({ Bucket: 'alpha', VersioningConfiguration: { Status: 'Enabled' } })));
    assert.equal(refused, 'NotImplemented');
  });

  it('bucket policies: validation, Get/Delete, owner only', async () => {
    assert.equal(await s3ErrorName(alice.send(new GetBucketPolicyCommand({ Bucket: 'alpha' }))), 'NoSuchBucketPolicy');
    assert.equal(await s3ErrorName(alice.send(new PutBucketPolicyCommand({ Bucket: 'alpha', Policy: 'not json' }))), 'MalformedPolicy');
    assert.equal(await s3ErrorName(setPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' }])), 'MalformedPolicy');
    assert.equal(await s3ErrorName(setPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/*', Condition: { StringLike: { 'aws:Referer': 'x' } } }])), 'MalformedPolicy');
    assert.equal(await s3ErrorName(setPolicy([{ Effect: 'Allow', NotPrincipal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/*' }])), 'MalformedPolicy');
    const policy = [{ Sid: 'public', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/public/*' }];
    await setPolicy(policy);
    assert.deepEqual(JSON.parse((await alice.send(new GetBucketPolicyCommand({ Bucket: 'alpha' }))).Policy ?? '').Statement, policy);
    assert.equal(await s3ErrorName(bob.send(new GetBucketPolicyCommand({ Bucket: 'alpha' }))), 'AccessDenied');
    assert.equal(await s3ErrorName(bob.send(new DeleteBucketPolicyCommand({ Bucket: 'alpha' }))), 'AccessDenied');
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: 'alpha' }));
    assert.equal(await s3ErrorName(alice.send(new GetBucketPolicyCommand({ Bucket: 'alpha' }))), 'NoSuchBucketPolicy');
  });

  it('anonymous access only where a policy allows "*", then as nobody through core ACLs', async () => {
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'public/hello.txt', Body: 'hello world' }));
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'public/locked.txt', Body: 'locked' }));
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'private/secret.txt', Body: 'secret' }));
    // No policy: anonymous is refused everywhere, and learns nothing about bucket existence.
    assert.equal((await anonymous('GET', '/alpha/public/hello.txt')).status, 403);
    assert.equal((await anonymous('GET', '/')).status, 403);
    assert.equal((await anonymous('GET', '/no-such-bucket/x')).status, 403);
    await setPolicy([{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::alpha/public/*' }]);
    const hello = await anonymous('GET', '/alpha/public/hello.txt');
    assert.equal(hello.status, 200);
    assert.equal(hello.body.toString(), 'hello world');
    assert.equal((await anonymous('GET', '/alpha/private/secret.txt')).status, 403);
    assert.equal((await anonymous('PUT', '/alpha/public/new.txt', { body: Buffer.from('x') })).status, 403);
    assert.equal((await anonymous('GET', '/alpha')).status, 403, 'ListBucket is not allowed');
    // The policy allows, core refuses nobody a file that is not world-readable.
    const fs = fixture.server.instance.fileSystem;
    const ctx = systemContext(createLogger({ level: 'silent' }));
    await fs.setattr(ctx, (await fs.resolvePath(ctx, '/s3/alpha/public/locked.txt')).handle, { mode: 0o640 });
    const locked = await anonymous('GET', '/alpha/public/locked.txt');
    assert.equal(locked.status, 403);
    assert.match(locked.body.toString(), /<Code>AccessDenied<\/Code>/);
    // Anonymous writes, if a policy allows them, still need core's permission for nobody.
    await setPolicy([{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:PutObject', Resource: 'arn:aws:s3:::alpha/public/*' }]);
    assert.equal((await anonymous('PUT', '/alpha/public/new.txt', { body: Buffer.from('x') })).status, 403);
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: 'alpha' }));
  });

  it('for authenticated users a Deny wins and an Allow cannot widen core ACLs; IP and TLS conditions', async () => {
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'team/doc.txt', Body: 'doc' }));
    assert.equal(await (await bob.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'team/doc.txt' }))).Body!.transformToString(), 'doc');
    await setPolicy([{ Effect: 'Deny', Principal: { AWS: ['arn:aws:iam::enclave:user/bob'] }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/team/*' }]);
    assert.equal(await s3ErrorName(bob.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'team/doc.txt' }))), 'AccessDenied');
    assert.equal(await (await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'team/doc.txt' }))).Body!.transformToString(), 'doc');
    // DeleteObjects checks each key against the policy.
    await setPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::alpha/team/*' }]);
    const deleted = await alice.send(new DeleteObjectsCommand({ Bucket: 'alpha', Delete: { Objects: [{ Key: 'team/doc.txt' }] } }));
    assert.equal(deleted.Errors?.[0]?.Code, 'AccessDenied');
    // An Allow for bob does not let him write where core refuses him (alice's 0755 directory).
    await setPolicy([{ Effect: 'Allow', Principal: { AWS: 'bob' }, Action: 's3:*', Resource: ['arn:aws:s3:::alpha', 'arn:aws:s3:::alpha/*'] }]);
    assert.equal(await s3ErrorName(bob.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'team/bob.txt', Body: 'x' }))), 'AccessDenied');
    // Conditions: deny everyone outside 10.0.0.0/8 -> we (127.0.0.1) are denied; NotIpAddress the other way.
    await setPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/*', Condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } } }]);
    assert.equal(await s3ErrorName(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'team/doc.txt' }))), 'AccessDenied');
    await setPolicy([{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }]);
    assert.equal(await (await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'team/doc.txt' }))).Body!.transformToString(), 'doc');
    // aws:SecureTransport: allow anonymous reads only over TLS.
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'public/tls.txt', Body: 'tls only' }));
    await setPolicy([{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/public/*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }]);
    assert.equal((await anonymous('GET', '/alpha/public/tls.txt')).status, 200);
    assert.equal((await anonymous('GET', '/alpha/public/tls.txt', { plain: true })).status, 403);
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: 'alpha' }));
  });

  it('a presigned GET URL (own SigV4 code) works until it expires; a tampered one does not', async () => {
    const data = randomBytes(100_000);
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'signed/blob.bin', Body: data }));
    const host = `127.0.0.1:${fixture.port}`;
    const path = presign({ method: 'GET', host, path: '/alpha/signed/blob.bin', credentials: fixture.users.alice.credentials, expiresSeconds: 300 });
    const got = await rawRequest(fixture.port, { method: 'GET', path });
    assert.equal(got.status, 200, got.body.toString());
    assert.ok(got.body.equals(data));
    assert.equal((await rawRequest(fixture.port, { method: 'GET', path: path.replace('blob.bin', 'blob.bim') })).status, 403);
    const old = presign({ method: 'GET', host, path: '/alpha/signed/blob.bin', credentials: fixture.users.alice.credentials, expiresSeconds: 60, now: new Date(Date.now() - 120_000) });
    const expired = await rawRequest(fixture.port, { method: 'GET', path: old });
    assert.equal(expired.status, 403);
    assert.match(expired.body.toString(), /Request has expired/);
    const tooLong = presign({ method: 'GET', host, path: '/alpha/signed/blob.bin', credentials: fixture.users.alice.credentials, expiresSeconds: 604_801 });
    assert.equal((await rawRequest(fixture.port, { method: 'GET', path: tooLong })).status, 400);
  });

  it('s3cmd puts, gets, lists and deletes (generated config, our CA)', async () => {
    const config = join(fixture.dataDir, 's3cmd.cfg');
    writeFileSync(config, [
      '[default]',
      `access_key = ${fixture.users.alice.credentials.accessKeyId}`,
      `secret_key = ${fixture.users.alice.credentials.secretAccessKey}`,
      `host_base = 127.0.0.1:${fixture.port}`,
      `host_bucket = 127.0.0.1:${fixture.port}`,
      'use_https = True',
      `ca_certs_file = ${fixture.caFile}`,
      'check_ssl_certificate = False',
      'check_ssl_hostname = False',
      'signature_v2 = False',
      'bucket_location = us-east-1',
      'multipart_chunk_size_mb = 5',
      '',
    ].join('\n'));
    const s3cmd = (...args: string[]) => run('/usr/bin/s3cmd', ['-c', config, ...args], { env: { ...process.env, HOME: fixture.dataDir } });
    const source = join(fixture.dataDir, 's3cmd-up.bin');
    const data = randomBytes(7 * 1024 * 1024 + 11);
    writeFileSync(source, data);
    await s3cmd('put', source, 's3://alpha/s3cmd/file.bin');
    const listed = await s3cmd('ls', 's3://alpha/s3cmd/');
    assert.match(listed.stdout, /s3:\/\/alpha\/s3cmd\/file\.bin/);
    const target = join(fixture.dataDir, 's3cmd-down.bin');
    await s3cmd('get', '--force', 's3://alpha/s3cmd/file.bin', target);
    assert.ok(readFileSync(target).equals(data));
    await s3cmd('del', 's3://alpha/s3cmd/file.bin');
    assert.doesNotMatch((await s3cmd('ls', 's3://alpha/s3cmd/')).stdout, /file\.bin/);
  });
});
