import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketLocationCommand,
  GetBucketVersioningCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { testConfig } from './support/test-config.js';
import { systemContext } from '../src/core/context.js';
import { S3AccessKeys } from '../src/identity/s3-access-keys.js';
import { createLogger } from '../src/ops/logger.js';
import { BucketStore, ensureDirectory } from '../src/protocols/s3/buckets.js';
import { MultipartStore } from '../src/protocols/s3/multipart.js';
import { S3Server } from '../src/protocols/s3/server.js';
import { serve, type Server } from '../src/serve.js';

const run = promisify(execFile);
const quiet = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

describe('S3 API with the AWS SDK v3 and the aws CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-s3-'));
  let server: Server;
  let s3Server: S3Server;
  let port: number;
  let client: S3Client;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  let caFile: string;

  before(async () => {
    const logger = createLogger({ level: 'silent' });
    server = await serve({ config: { ...testConfig(), dataDir, apiPort: 0 }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: 'Correct-Horse-Battery-Staple-9' }, stdout: quiet() });
    const { instance } = server;
    const alice = await instance.users.createUser({ name: 'alice', password: 'violet-Quarry-Lantern-42' });
    const accessKeys = new S3AccessKeys({ metadata: instance.metadata, clock: instance.clock, key: instance.deriveKey('s3-secrets/v1') });
    const created = await accessKeys.create({ userId: alice.id });
    credentials = { accessKeyId: created.accessKey.id, secretAccessKey: created.secret };
    const buckets = new BucketStore({ metadata: instance.metadata });
    const ctx = systemContext(logger);
    const dir = await ensureDirectory(instance.fileSystem, ctx, '/s3/alpha', { mustCreate: true, uid: alice.uid, gid: alice.primaryGid });
    const attributes = await instance.fileSystem.getattr(ctx, dir.handle);
    await buckets.add({ name: 'alpha', path: '/s3/alpha', rootId: attributes.id, rootGeneration: attributes.generation, createdAtMs: Date.now(), ownerUid: alice.uid });
    // CreateBucket over S3 makes directories under base_path as the caller: give alice /s3.
    await instance.fileSystem.setattr(ctx, (await instance.fileSystem.resolvePath(ctx, '/s3')).handle, { uid: alice.uid });
    s3Server = new S3Server({
      fs: instance.fileSystem,
      buckets,
      uploads: new MultipartStore({ metadata: instance.metadata }),
      accessKeys,
      findUser: async (id) => instance.users.get(id),
      groupsOf: (id) => instance.groups.groupsOf(id),
      tls: instance.tls,
      settings: async () => ({ secure: true, base_path: '/s3' }),
      networkAccess: { isAllowed: () => true },
      logger,
      nowMs: () => Date.now(),
    });
    port = await s3Server.listen('127.0.0.1', 0);
    caFile = join(dataDir, 'ca.pem');
    writeFileSync(caFile, instance.tls.certificate);
    client = new S3Client({
      endpoint: `https://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: instance.tls.certificate, checkServerIdentity: () => undefined }) }),
    });
  });
  after(async () => {
    client?.destroy();
    await s3Server?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const errorName = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof S3ServiceException, String(error));
      return error.$metadata.httpStatusCode === 304 ? '304' : error.name;
    }
    return 'no error';
  };

  it('PutObject (aws-chunked with a CRC32 trailer, the SDK default), GetObject, HeadObject with metadata and ETag = MD5', async () => {
    const body = Buffer.alloc(300_000, 'enclave ');
    const put = await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt', Body: body, ContentType: 'text/plain', Metadata: { project: 'enclave' } }));
    const { createHash } = await import('node:crypto');
    assert.equal(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`);
    const got = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
    assert.equal(got.ContentType, 'text/plain');
    assert.deepEqual(got.Metadata, { project: 'enclave' });
    const head = await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt' }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, put.ETag);
    const range = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt', Range: 'bytes=8-15' }));
    assert.equal(Buffer.from(await range.Body!.transformToByteArray()).toString(), 'enclave ');
    assert.equal(range.ContentRange, `bytes 8-15/${body.length}`);
    assert.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt', Range: `bytes=${body.length}-` }))), 'InvalidRange');
    assert.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt', IfNoneMatch: put.ETag }))), '304');
    assert.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'docs/readme.txt', IfMatch: '"0000"' }))), 'PreconditionFailed');
  });

  it('errors: NoSuchKey, NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch, bad keys', async () => {
    assert.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'missing' }))), 'NoSuchKey');
    assert.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'nope', Key: 'missing' }))), 'NoSuchBucket');
    const clientWith = (keys: { accessKeyId: string; secretAccessKey: string }) =>
      new S3Client({ endpoint: `https://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: keys, requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: server.instance.tls.certificate, checkServerIdentity: () => undefined }) }) });
    const wrongSecret = clientWith({ ...credentials, secretAccessKey: 'x'.repeat(40) });
    assert.equal(await errorName(wrongSecret.send(new ListBucketsCommand({}))), 'SignatureDoesNotMatch');
    const unknownKey = clientWith({ accessKeyId: 'EKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) });
    assert.equal(await errorName(unknownKey.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId');
    assert.equal(await errorName(client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'a/../b', Body: 'x' }))), 'InvalidArgument');
    assert.equal(await errorName(client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'a//b', Body: 'x' }))), 'InvalidArgument');
    assert.equal(await errorName(client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'k'.repeat(1025), Body: 'x' }))), 'KeyTooLongError');
  });

  it('lists in key order with prefix, delimiter, pages and start-after (V2 and V1)', async () => {
    const keys = ['list/a0', 'list/a-b', 'list/a/c', 'list/a/d/e', 'list/b', 'list/a.x'];
    for (const key of keys) await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: key, Body: key }));
    const all: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'list/', MaxKeys: 2, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      all.push(...(page.Contents ?? []).map((item) => item.Key as string));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    assert.deepEqual(all, [...keys].sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right))));
    const delimited = await client.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'list/', Delimiter: '/' }));
    assert.deepEqual(delimited.Contents?.map((item) => item.Key), ['list/a-b', 'list/a.x', 'list/a0', 'list/b']);
    assert.deepEqual(delimited.CommonPrefixes?.map((item) => item.Prefix), ['list/a/']);
    const after = await client.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'list/', StartAfter: 'list/a/c' }));
    assert.deepEqual(after.Contents?.map((item) => item.Key), ['list/a/d/e', 'list/a0', 'list/b']);
    const v1 = await client.send(new ListObjectsCommand({ Bucket: 'alpha', Prefix: 'list/a', Delimiter: '/' }));
    assert.deepEqual(v1.Contents?.map((item) => item.Key), ['list/a-b', 'list/a.x', 'list/a0']);
    assert.deepEqual(v1.CommonPrefixes?.map((item) => item.Prefix), ['list/a/']);
  });

  it('CopyObject, DeleteObject, DeleteObjects (quiet, VersionId null)', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'copy/source', Body: 'copied bytes', Metadata: { kept: 'yes' } }));
    await client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'copy/target', CopySource: 'alpha/copy/source' }));
    const copied = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'copy/target' }));
    assert.equal(await copied.Body!.transformToString(), 'copied bytes');
    assert.deepEqual(copied.Metadata, { kept: 'yes' });
    await client.send(new DeleteObjectCommand({ Bucket: 'alpha', Key: 'copy/target' }));
    assert.equal(await errorName(client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'copy/target' }))), 'NotFound');
    const deleted = await client.send(new DeleteObjectsCommand({ Bucket: 'alpha', Delete: { Objects: [{ Key: 'copy/source', VersionId: 'null' }, { Key: 'never/was' }] } }));
    assert.deepEqual(deleted.Deleted?.map((item) => item.Key).sort(), ['copy/source', 'never/was']);
    const quietly = await client.send(new DeleteObjectsCommand({ Bucket: 'alpha', Delete: { Quiet: true, Objects: [{ Key: 'list/b' }] } }));
    assert.equal(quietly.Deleted, undefined);
    const left = await client.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'copy/' }));
    assert.equal(left.KeyCount, 0);
  });

  it('buckets: CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, GetBucketVersioning, DeleteBucket (empty only)', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'beta' }));
    assert.equal(await errorName(client.send(new CreateBucketCommand({ Bucket: 'beta' }))), 'BucketAlreadyOwnedByYou');
    await client.send(new HeadBucketCommand({ Bucket: 'beta' }));
    const list = await client.send(new ListBucketsCommand({}));
    assert.deepEqual(list.Buckets?.map((bucket) => bucket.Name), ['alpha', 'beta']);
    assert.equal((await client.send(new GetBucketLocationCommand({ Bucket: 'beta' }))).LocationConstraint, undefined);
    assert.equal((await client.send(new GetBucketVersioningCommand({ Bucket: 'beta' }))).Status, undefined);
    await client.send(new PutObjectCommand({ Bucket: 'beta', Key: 'x', Body: 'x' }));
    assert.equal(await errorName(client.send(new DeleteBucketCommand({ Bucket: 'beta' }))), 'BucketNotEmpty');
    await client.send(new DeleteObjectCommand({ Bucket: 'beta', Key: 'x' }));
    await client.send(new DeleteBucketCommand({ Bucket: 'beta' }));
    assert.equal(await errorName(client.send(new HeadBucketCommand({ Bucket: 'beta' }))), 'NotFound');
  });

  it('a file made unreadable by ACL through core is AccessDenied over S3', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'secret/plans.txt', Body: 'classified' }));
    const fs = server.instance.fileSystem;
    const ctx = systemContext(createLogger({ level: 'silent' }));
    const file = await fs.resolvePath(ctx, '/s3/alpha/secret/plans.txt');
    await fs.setattr(ctx, file.handle, { mode: 0o000 });
    assert.equal(await errorName(client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'secret/plans.txt' }))), 'AccessDenied');
    await fs.setattr(ctx, file.handle, { mode: 0o644 });
    assert.equal(await (await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'secret/plans.txt' }))).Body!.transformToString(), 'classified');
  });

  it('the aws CLI (Debian awscli) copies up and down, lists and removes', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_CA_BUNDLE: caFile, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
    const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', `https://localhost:${port}`, ...args], { env });
    const source = join(dataDir, 'cli-up.bin');
    writeFileSync(source, Buffer.alloc(3 * 1024 * 1024 + 17, 7));
    await aws('s3', 'cp', source, 's3://alpha/cli/big.bin');
    const listed = await aws('s3', 'ls', 's3://alpha/cli/');
    assert.match(listed.stdout, /big\.bin/);
    const target = join(dataDir, 'cli-down.bin');
    await aws('s3', 'cp', 's3://alpha/cli/big.bin', target);
    assert.deepEqual(readFileSync(target), readFileSync(source));
    await aws('s3', 'rm', 's3://alpha/cli/big.bin');
    const head = await aws('s3api', 'head-object', '--bucket', 'alpha', '--key', 'cli/big.bin').then(() => 'found', (error: { stderr: string }) => error.stderr);
    assert.match(head, /404|Not Found/);
  });
});
