import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { ChunkStore } from '../src/storage/chunks/chunk-store.js';
import { startS3, type Credentials, type RawAnswer, type S3Fixture } from './support/s3-fixture.js';

/**
 * The S3 server at its edges: oversized and slow request headers, signed aws-chunked bodies,
 * presigned URLs made by a real client, stored content headers, and server-side assembly that
 * shares chunks instead of writing data.
 */

const run = promisify(execFile);
const MiB = 1024 * 1024;
const HEADERS_TIMEOUT_MS = 1_000;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/** Every chunk id in the store (paged as the ChunkStore contract has it). */
async function chunkIds(store: ChunkStore): Promise<Set<string>> {
  const ids = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await store.list({ ...(after === undefined ? {} : { after }), limit: 10_000 });
    for (const id of page) ids.add(id);
    if (page.length < 10_000) return ids;
    after = page.at(-1);
  }
}

/** A raw TLS connection: what a client that misbehaves at the HTTP level sends. */
function openTls(port: number): Promise<{ socket: TLSSocket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const opened = Date.now();
    let text = '';
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - opened)));
    socket.once('secureConnect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

/**
 * PutObject with a signed aws-chunked body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), written from
 * the S3 API reference ("Signature Calculations for the Authorization Header: Transferring Payload
 * in Multiple Chunks") independently of the server's code. None of the installed clients sends
 * this form (the AWS SDK v3 and the aws CLI send STREAMING-UNSIGNED-PAYLOAD-TRAILER over HTTPS,
 * s3cmd a whole-body hash), so the test signs it itself. `corruptChunk` flips one byte of that
 * chunk's data after signing.
 */
function putSignedChunked(port: number, credentials: Credentials, options: { bucket: string; key: string; chunks: Buffer[]; corruptChunk?: number }): Promise<RawAnswer> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, amzDate.slice(0, 8)), 'us-east-1'), 's3'), 'aws4_request');
  const chunks = [...options.chunks, Buffer.alloc(0)];
  const framing = (size: number) => `${size.toString(16)};chunk-signature=${'0'.repeat(64)}\r\n`.length + size + 2;
  const decodedLength = options.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'content-length': String(chunks.reduce((sum, chunk) => sum + framing(chunk.length), 0)),
    host: `127.0.0.1:${port}`,
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'x-amz-date': amzDate,
    'x-amz-decoded-content-length': String(decodedLength),
  };
  const names = Object.keys(headers).sort();
  const path = `/${options.bucket}/${options.key}`;
  const canonical = ['PUT', path, '', names.map((name) => `${name}:${headers[name]}\n`).join(''), names.join(';'), 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'].join('\n');
  let previous = createHmac('sha256', signingKey).update(['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${previous}`;
  const body = chunks.map((chunk, index) => {
    previous = createHmac('sha256', signingKey).update(['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, sha256(''), sha256(chunk)].join('\n')).digest('hex');
    const data = Buffer.from(chunk);
    if (index === options.corruptChunk) data[0] = (data[0] ?? 0) ^ 0xff;
    return Buffer.concat([Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`), data, Buffer.from('\r\n')]);
  });
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest({ host: '127.0.0.1', port, method: 'PUT', path, headers, agent: false, rejectUnauthorized: false }, (incoming) => {
      const parts: Buffer[] = [];
      incoming.on('data', (part: Buffer) => parts.push(part));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(parts) }));
    });
    outgoing.on('error', reject);
    // Chunk by chunk, as a streaming client sends it.
    for (const part of body) outgoing.write(part);
    outgoing.end();
  });
}

describe('S3 edges: header limits, signed chunks, presigned URLs, content headers, shared chunks', () => {
  let fixture: S3Fixture;
  let client: S3Client;
  let awsEnv: NodeJS.ProcessEnv;
  const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', `https://127.0.0.1:${fixture.port}`, ...args], { env: awsEnv });
  const curl = (...args: string[]) => run('curl', ['-sS', '--cacert', fixture.caFile, ...args]);
  const body = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: key }))).Body!.transformToByteArray());

  before(async () => {
    fixture = await startS3({ limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS } });
    client = fixture.client(fixture.users.alice.credentials);
    const { accessKeyId, secretAccessKey } = fixture.users.alice.credentials;
    awsEnv = { PATH: process.env.PATH, HOME: fixture.dataDir, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_CA_BUNDLE: fixture.caFile, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
  });
  after(async () => fixture?.stop());

  it('request headers over 16 KiB are answered 431 and the connection closed; other clients are served meanwhile', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'edges/kept.txt', Body: 'kept' }));
    const big = await openTls(fixture.port);
    big.socket.write(`PUT /alpha/edges/kept.txt HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 4\r\nx-amz-meta-padding: ${'p'.repeat(20 * 1024)}\r\n\r\ngone`);
    await big.closed;
    assert.match(big.received(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    // Headers just under the limit are parsed (and this unsigned request refused by S3 itself).
    const fits = await openTls(fixture.port);
    fits.socket.write(`GET /alpha/edges/kept.txt HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\nx-filler: ${'f'.repeat(12 * 1024)}\r\n\r\n`);
    await fits.closed;
    assert.match(fits.received(), /^HTTP\/1\.1 403 /);
    assert.equal((await body('edges/kept.txt')).toString(), 'kept', 'the refused PUT changed nothing');
  });

  it(`a client that has not finished its headers after ${HEADERS_TIMEOUT_MS} ms is answered 408 and cut off, though it keeps sending`, async () => {
    const slow = await openTls(fixture.port);
    slow.socket.write('GET /alpha/edges/kept.txt HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    // One header line every 100 ms: never idle, never done (slowloris).
    const trickle = setInterval(() => {
      if (slow.socket.writable) slow.socket.write(`x-slow-${Date.now()}: 1\r\n`);
    }, 100);
    try {
      // Another client is served while the slow one trickles.
      assert.equal((await body('edges/kept.txt')).toString(), 'kept');
      const closedAfterMs = await slow.closed;
      assert.ok(closedAfterMs >= HEADERS_TIMEOUT_MS - 50 && closedAfterMs < HEADERS_TIMEOUT_MS + 3_000, `cut after ${closedAfterMs} ms`);
      assert.match(slow.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      clearInterval(trickle);
      slow.socket.destroy();
    }
  });

  it('a signed aws-chunked PutObject (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) is verified chunk by chunk; a tampered chunk is refused and stores nothing', async () => {
    const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(1000)];
    const whole = Buffer.concat(chunks);
    const put = await putSignedChunked(fixture.port, fixture.users.alice.credentials, { bucket: 'alpha', key: 'edges/chunked.bin', chunks });
    assert.equal(put.status, 200, put.body.toString());
    assert.equal(put.headers.etag, `"${md5(whole)}"`);
    assert.deepEqual(await body('edges/chunked.bin'), whole);
    const head = await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'edges/chunked.bin' }));
    assert.equal(head.ContentLength, whole.length);
    assert.equal(head.ContentEncoding, undefined, 'aws-chunked is a transfer coding, not stored');

    const tampered = await putSignedChunked(fixture.port, fixture.users.alice.credentials, { bucket: 'alpha', key: 'edges/chunked.bin', chunks: [randomBytes(64 * 1024), randomBytes(10)], corruptChunk: 1 });
    assert.equal(tampered.status, 403);
    assert.match(tampered.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.deepEqual(await body('edges/chunked.bin'), whole, 'the earlier object is untouched');
    const other = await putSignedChunked(fixture.port, fixture.users.bob.credentials, { bucket: 'alpha', key: 'edges/bob.bin', chunks: [randomBytes(100)] });
    assert.equal(other.status, 403, 'a valid signature does not bypass core permissions');
    assert.match(other.body.toString(), /<Code>AccessDenied<\/Code>/);
  });

  it('a presigned URL made by the aws CLI (aws s3 presign) is fetched with curl until it expires; a tampered one is refused', async () => {
    const data = randomBytes(70_000);
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'edges/shared file.bin', Body: data }));
    const url = (await aws('s3', 'presign', 's3://alpha/edges/shared file.bin', '--expires-in', '300')).stdout.trim();
    assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
    assert.match(url, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
    const fetched = await run('curl', ['-sS', '--fail', '--cacert', fixture.caFile, url], { encoding: 'buffer', maxBuffer: 4 * MiB });
    assert.deepEqual(fetched.stdout, data);
    const status = async (target: string) => (await curl('-o', '/dev/null', '-w', '%{http_code}', target)).stdout;
    assert.equal(await status(url.replace('edges/shared', 'edges/other')), '403', 'the signature covers the key');
    assert.equal(await status(url.replace(/X-Amz-Signature=([0-9a-f])/, (_match, first: string) => `X-Amz-Signature=${first === '0' ? '1' : '0'}`)), '403');
    const shortLived = (await aws('s3', 'presign', 's3://alpha/edges/shared file.bin', '--expires-in', '1')).stdout.trim();
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const expired = await curl('-w', '\n%{http_code}', shortLived);
    assert.match(expired.stdout, /<Code>AccessDenied<\/Code>[\s\S]*expired[\s\S]*\n403$/);
  });

  it('Content-Encoding, Content-Disposition, Cache-Control and Content-Language set on PUT come back on GET and HEAD (AWS SDK and aws CLI)', async () => {
    const text = 'a report, gzip-compressed by the client\n'.repeat(50);
    const gzipped = gzipSync(text);
    // The SDK sends this as aws-chunked with a CRC32 trailer: Content-Encoding "gzip,aws-chunked" on the wire.
    await client.send(new PutObjectCommand({
      Bucket: 'alpha', Key: 'edges/report.txt.gz', Body: gzipped, ContentType: 'text/plain', ContentEncoding: 'gzip',
      ContentDisposition: 'attachment; filename="report.txt"', CacheControl: 'max-age=60', ContentLanguage: 'en-GB',
    }));
    for (const answer of [await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'edges/report.txt.gz' })), await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'edges/report.txt.gz' }))]) {
      assert.deepEqual(
        [answer.ContentType, answer.ContentEncoding, answer.ContentDisposition, answer.CacheControl, answer.ContentLanguage],
        ['text/plain', 'gzip', 'attachment; filename="report.txt"', 'max-age=60', 'en-GB'],
      );
    }
    assert.deepEqual(await body('edges/report.txt.gz'), gzipped, 'the stored bytes are the compressed ones');
    // A stream body of known length: the SDK sends it aws-chunked with a checksum trailer, and
    // Content-Encoding "gzip,aws-chunked" on the wire; the object keeps only "gzip".
    const streaming = fixture.client(fixture.users.alice.credentials);
    const sent: string[] = [];
    streaming.middlewareStack.add((next) => async (args) => {
      sent.push(String((args.request as { headers?: Record<string, string> }).headers?.['content-encoding'] ?? ''));
      return next(args);
    }, { step: 'finalizeRequest', name: 'recordContentEncoding' });
    await streaming.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'edges/streamed.txt.gz', Body: Readable.from([gzipped]), ContentLength: gzipped.length, ContentEncoding: 'gzip' }));
    assert.deepEqual(sent, ['gzip,aws-chunked']);
    assert.equal((await client.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'edges/streamed.txt.gz' }))).ContentEncoding, 'gzip');
    assert.deepEqual(await body('edges/streamed.txt.gz'), gzipped);

    const source = join(fixture.dataDir, 'cli-page.html');
    writeFileSync(source, '<p>inline</p>');
    await aws('s3', 'cp', source, 's3://alpha/edges/page.html', '--content-encoding', 'identity', '--content-disposition', 'inline', '--content-type', 'text/html');
    const head = JSON.parse((await aws('s3api', 'head-object', '--bucket', 'alpha', '--key', 'edges/page.html')).stdout) as Record<string, unknown>;
    assert.deepEqual([head.ContentEncoding, head.ContentDisposition, head.ContentType], ['identity', 'inline', 'text/html']);
    const headers = (await curl('-o', '/dev/null', '-D', '-', (await aws('s3', 'presign', 's3://alpha/edges/page.html')).stdout.trim())).stdout;
    assert.match(headers, /^content-encoding: identity\r$/im);
    assert.match(headers, /^content-disposition: inline\r$/im);
  });

  it('CompleteMultipartUpload and CopyObject write no chunk data: the new objects share the parts\' and the source\'s chunks', async () => {
    const store = fixture.server.instance.chunkStore;
    // The check can fail: a PutObject of new data adds chunks.
    const beforePut = await chunkIds(store);
    const data = randomBytes(3 * MiB);
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'edges/source.bin', Body: data }));
    const afterPut = await chunkIds(store);
    assert.ok([...afterPut].some((id) => !beforePut.has(id)), 'a PutObject writes chunks');

    await client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'edges/copy.bin', CopySource: 'alpha/edges/source.bin' }));
    await client.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'edges/copy-of-copy.bin', CopySource: 'alpha/edges/copy.bin' }));
    const afterCopy = await chunkIds(store);
    assert.deepEqual([...afterCopy].filter((id) => !afterPut.has(id)), [], 'CopyObject wrote no chunk');
    assert.deepEqual(await body('edges/copy-of-copy.bin'), data);

    const parts = [randomBytes(5 * MiB), randomBytes(MiB + 7)];
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'edges/assembled.bin' }));
    const etags: string[] = [];
    for (const [index, part] of parts.entries()) etags.push((await client.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'edges/assembled.bin', UploadId, PartNumber: index + 1, Body: part }))).ETag as string);
    const afterParts = await chunkIds(store);
    await client.send(new CompleteMultipartUploadCommand({ Bucket: 'alpha', Key: 'edges/assembled.bin', UploadId, MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) } }));
    const afterComplete = await chunkIds(store);
    assert.deepEqual([...afterComplete].filter((id) => !afterParts.has(id)), [], 'CompleteMultipartUpload wrote no chunk');
    assert.deepEqual(await body('edges/assembled.bin'), Buffer.concat(parts));
  });
});
