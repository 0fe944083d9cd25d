import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, S3Client, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { systemContext } from '../src/core/context.js';
import { createLogger } from '../src/ops/logger.js';
import { startS3, type S3Fixture, s3ErrorName } from './support/s3-fixture.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const multipartEtag = (parts: Buffer[]) => `"${createHash('md5').update(Buffer.concat(parts.map((part) => createHash('md5').update(part).digest()))).digest('hex')}-${parts.length}"`;

describe('S3 multipart upload and CopyObject by shared chunks', () => {
  let fixture: S3Fixture;
  let client: S3Client;
  let bob: S3Client;

  before(async () => {
    fixture = await startS3({ limits: { multipartExpiryMs: 3_600_000 } });
    client = fixture.client(fixture.users.alice.credentials);
    bob = fixture.client(fixture.users.bob.credentials);
  });
  after(async () => fixture?.stop());

  const body = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: key }))).Body!.transformToByteArray());

  it('the SDK uploads 3 parts; the object is assembled with the -N ETag; staging is invisible and removed', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB + 3), randomBytes(1234)];
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/three', ContentType: 'application/x-test', Metadata: { origin: 'multipart' }, Tagging: 'kind=big' }));
    assert.match(UploadId ?? '', /^[0-9a-f]{32}$/);
    const etags: string[] = [];
    for (const [index, part] of parts.entries()) {
      const answer = await client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/three', UploadId, PartNumber: index + 1, Body: part }));
      assert.equal(answer.ETag, `"${md5(part)}"`);
      etags.push(answer.ETag as string);
    }
    // Parts are hidden files: not listed as objects.
    const during = await client.send(new ListObjectsV2Command({ Bucket: 'alpha' }));
    assert.deepEqual((during.Contents ?? []).map((item) => item.Key), []);
    const listedParts = await client.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp/three', UploadId }));
    assert.deepEqual(listedParts.Parts?.map((part) => [part.PartNumber, part.Size, part.ETag]), parts.map((part, index) => [index + 1, part.length, etags[index]]));
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: 'alpha' }));
    assert.deepEqual(uploads.Uploads?.map((upload) => [upload.Key, upload.UploadId]), [['mp/three', UploadId]]);
    const done = await client.send(new CompleteMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/three', UploadId, MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) } }));
    assert.equal(done.ETag, multipartEtag(parts));
    assert.match(done.Location ?? '', /^https:\/\/(127\.0\.0\.1|localhost):\d+\/alpha\/mp\/three$/, 'an absolute URL, as S3 answers');
    assert.deepEqual(await body('mp/three'), Buffer.concat(parts));
    const head = await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'mp/three' }));
    assert.equal(head.ETag, done.ETag);
    assert.equal(head.ContentType, 'application/x-test');
    assert.deepEqual(head.Metadata, { origin: 'multipart' });
    assert.equal(head.PartsCount, 3);
    const ranged = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'mp/three', Range: `bytes=${5 * MiB - 2}-${5 * MiB + 1}` }));
    assert.deepEqual(Buffer.from(await ranged.Body!.transformToByteArray()), Buffer.concat(parts).subarray(5 * MiB - 2, 5 * MiB + 2));
    // GET and HEAD by partNumber answer that part's bytes (206, Content-Range, parts count).
    for (const [index, part] of parts.entries()) {
      const got = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'mp/three', PartNumber: index + 1 }));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), part, `part ${index + 1}`);
      const offset = parts.slice(0, index).reduce((sum, earlier) => sum + earlier.length, 0);
      assert.equal(got.ContentRange, `bytes ${offset}-${offset + part.length - 1}/${Buffer.concat(parts).length}`);
      assert.equal(got.PartsCount, 3);
      assert.equal((await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'mp/three', PartNumber: index + 1 }))).ContentLength, part.length);
    }
    assert.equal(await s3ErrorName(client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'mp/three', PartNumber: 4 }))), 'InvalidPartNumber');
    assert.equal((await client.send(new ListMultipartUploadsCommand({ Bucket: 'alpha' }))).Uploads, undefined);
    assert.equal(await s3ErrorName(client.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp/three', UploadId }))), 'NoSuchUpload');
    // The staging directory of the upload is gone.
    const fs = fixture.server.instance.fileSystem;
    const ctx = systemContext(createLogger({ level: 'silent' }));
    const staging = await fs.resolvePath(ctx, '/s3/alpha/.enclave-multipart');
    assert.equal((await fs.readdir(ctx, staging.handle, { limit: 10 })).entries.length, 0);
  });

  it('Complete checks part ETags, order and the 5 MiB minimum; Abort removes the upload', async () => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/bad' }));
    const small = Buffer.alloc(1000, 1);
    const first = await client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/bad', UploadId, PartNumber: 1, Body: small }));
    const second = await client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/bad', UploadId, PartNumber: 2, Body: small }));
    const complete = (Parts: Array<{ ETag: string; PartNumber: number }>) => client.send(new CompleteMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/bad', UploadId, MultipartUpload: { Parts } }));
    assert.equal(await s3ErrorName(complete([{ ETag: first.ETag!, PartNumber: 1 }, { ETag: second.ETag!, PartNumber: 2 }])), 'EntityTooSmall');
    assert.equal(await s3ErrorName(complete([{ ETag: second.ETag!, PartNumber: 2 }, { ETag: first.ETag!, PartNumber: 1 }])), 'InvalidPartOrder');
    assert.equal(await s3ErrorName(complete([{ ETag: '"00000000000000000000000000000000"', PartNumber: 1 }])), 'InvalidPart');
    assert.equal(await s3ErrorName(complete([{ ETag: first.ETag!, PartNumber: 3 }])), 'InvalidPart');
    assert.equal(await s3ErrorName(client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/bad', UploadId, PartNumber: 10_001, Body: small }))), 'InvalidArgument');
    assert.equal(await s3ErrorName(client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/other-key', UploadId, PartNumber: 1, Body: small }))), 'NoSuchUpload');
    // Another user cannot add parts to or abort alice's upload: core refuses them the upload directory.
    assert.equal(await s3ErrorName(bob.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/bad', UploadId, PartNumber: 1, Body: small }))), 'AccessDenied');
    assert.equal(await s3ErrorName(bob.send(new AbortMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/bad', UploadId }))), 'AccessDenied');
    // A single small part is fine (the last part may be small).
    const single = await complete([{ ETag: first.ETag!, PartNumber: 1 }]);
    assert.equal(single.ETag, multipartEtag([small]));
    const { UploadId: abandoned } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/aborted' }));
    await client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/aborted', UploadId: abandoned, PartNumber: 1, Body: small }));
    await client.send(new AbortMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/aborted', UploadId: abandoned }));
    assert.equal(await s3ErrorName(client.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp/aborted', UploadId: abandoned }))), 'NoSuchUpload');
    assert.equal(await s3ErrorName(client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'mp/aborted' }))), 'NotFound');
  });

  it('UploadPartCopy shares chunks of a range of an existing object', async () => {
    const source = randomBytes(6 * MiB);
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'mp/source', Body: source }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/copied' }));
    const one = await client.send(new UploadPartCopyCommand({ Bucket: 'alpha', Key: 'mp/copied', UploadId, PartNumber: 1, CopySource: 'alpha/mp/source' }));
    assert.equal(one.CopyPartResult?.ETag, `"${md5(source)}"`);
    const two = await client.send(new UploadPartCopyCommand({ Bucket: 'alpha', Key: 'mp/copied', UploadId, PartNumber: 2, CopySource: 'alpha/mp/source', CopySourceRange: 'bytes=100-199' }));
    assert.equal(two.CopyPartResult?.ETag, `"${md5(source.subarray(100, 200))}"`);
    assert.equal(await s3ErrorName(client.send(new UploadPartCopyCommand({ Bucket: 'alpha', Key: 'mp/copied', UploadId, PartNumber: 3, CopySource: 'alpha/mp/source', CopySourceRange: `bytes=0-${6 * MiB}` }))), 'InvalidRange');
    assert.equal(await s3ErrorName(client.send(new UploadPartCopyCommand({ Bucket: 'alpha', Key: 'mp/copied', UploadId, PartNumber: 3, CopySource: 'alpha/mp/source', CopySourceIfMatch: '"nope"' }))), 'PreconditionFailed');
    await client.send(new CompleteMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/copied', UploadId, MultipartUpload: { Parts: [{ ETag: one.CopyPartResult!.ETag!, PartNumber: 1 }, { ETag: two.CopyPartResult!.ETag!, PartNumber: 2 }] } }));
    assert.deepEqual(await body('mp/copied'), Buffer.concat([source, source.subarray(100, 200)]));
  });

  it('CopyObject shares chunks, keeps or replaces metadata, honours x-amz-copy-source-if-*', async () => {
    const data = randomBytes(2 * MiB + 5);
    const put = await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'cp/source', Body: data, ContentType: 'text/x-source', Metadata: { a: '1' }, Tagging: 'team=core' }));
    const copied = await client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/copy', CopySource: 'alpha/cp/source' }));
    assert.equal(copied.CopyObjectResult?.ETag, put.ETag);
    assert.deepEqual(await body('cp/copy'), data);
    const head = await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'cp/copy' }));
    assert.equal(head.ContentType, 'text/x-source');
    assert.deepEqual(head.Metadata, { a: '1' });
    assert.equal(head.TagCount, 1);
    await client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/replaced', CopySource: 'alpha/cp/source', MetadataDirective: 'REPLACE', ContentType: 'text/x-new', Metadata: { b: '2' } }));
    const replaced = await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'cp/replaced' }));
    assert.equal(replaced.ContentType, 'text/x-new');
    assert.deepEqual(replaced.Metadata, { b: '2' });
    // Conditions: If-Match wrong, If-None-Match right, If-Modified-Since in the future all fail with 412.
    assert.equal(await s3ErrorName(client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/c1', CopySource: 'alpha/cp/source', CopySourceIfMatch: '"abc"' }))), 'PreconditionFailed');
    assert.equal(await s3ErrorName(client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/c1', CopySource: 'alpha/cp/source', CopySourceIfNoneMatch: put.ETag }))), 'PreconditionFailed');
    assert.equal(await s3ErrorName(client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/c1', CopySource: 'alpha/cp/source', CopySourceIfModifiedSince: new Date(Date.now() + 86_400_000) }))), 'PreconditionFailed');
    assert.equal(await s3ErrorName(client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/c1', CopySource: 'alpha/cp/source', CopySourceIfUnmodifiedSince: new Date(Date.now() - 86_400_000) }))), 'PreconditionFailed');
    await client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/c1', CopySource: 'alpha/cp/source', CopySourceIfMatch: put.ETag, CopySourceIfUnmodifiedSince: new Date(Date.now() - 86_400_000) }));
    assert.deepEqual(await body('cp/c1'), data);
    assert.equal(await s3ErrorName(client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/source', CopySource: 'alpha/cp/source' }))), 'InvalidRequest');
    assert.equal(await s3ErrorName(client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'cp/x', CopySource: 'alpha/cp/missing' }))), 'NoSuchKey');
  });

  it('abandoned uploads expire: the sweep removes uploads older than the configured age', async () => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp/abandoned' }));
    await client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp/abandoned', UploadId, PartNumber: 1, Body: Buffer.alloc(10) }));
    assert.equal(await fixture.s3Server.sweepMultipart(), 0);
    fixture.clockOffsetMs = 3_600_001;
    try {
      assert.equal(await fixture.s3Server.sweepMultipart(), 1);
    } finally {
      fixture.clockOffsetMs = 0;
    }
    assert.equal(await s3ErrorName(client.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp/abandoned', UploadId }))), 'NoSuchUpload');
    assert.equal((await client.send(new ListMultipartUploadsCommand({ Bucket: 'alpha' }))).Uploads, undefined);
  });

  it('the aws CLI copies a 20 MiB file up (multipart) and down byte-equal', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: fixture.users.alice.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: fixture.users.alice.credentials.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_CA_BUNDLE: fixture.caFile, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', `https://localhost:${fixture.port}`, ...args], { env, maxBuffer: 16 * MiB });
    const source = join(fixture.dataDir, 'cli-20m.bin');
    const data = randomBytes(20 * MiB);
    writeFileSync(source, data);
    await aws('s3', 'cp', source, 's3://alpha/cli/20m.bin');
    const head = JSON.parse((await aws('s3api', 'head-object', '--bucket', 'alpha', '--key', 'cli/20m.bin')).stdout) as { ETag: string; ContentLength: number };
    assert.match(head.ETag, /-\d+"$/, 'the CLI used multipart');
    assert.equal(head.ContentLength, data.length);
    const target = join(fixture.dataDir, 'cli-20m-down.bin');
    await aws('s3', 'cp', 's3://alpha/cli/20m.bin', target);
    assert.ok(readFileSync(target).equals(data));
    // A server-side copy through the CLI (CopyObject).
    await aws('s3', 'cp', 's3://alpha/cli/20m.bin', 's3://alpha/cli/20m-copy.bin');
    assert.ok((await body('cli/20m-copy.bin')).equals(data));
  });
});
