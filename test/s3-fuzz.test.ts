import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { rawRequest, startS3, type S3Fixture } from './support/s3-fixture.js';

/** A small deterministic generator, so a failure can be replayed from its seed. */
function generator(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return { next, pick, int: (max: number) => Math.floor(next() * max) };
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'];
const PATHS = ['/', '/alpha', '/alpha/', '/alpha/key', '/alpha/a/b/c', '/alpha/..%2f..', '/alpha/%00', '/alpha/%ff%fe', '/alpha//x', '/nope/x', '/alpha/.enclave-multipart/x', `/alpha/${'k'.repeat(2000)}`, '/%', '/alpha/a?b'];
const QUERIES = ['', '?uploads', '?uploadId=0123456789abcdef0123456789abcdef&partNumber=1', '?uploadId=zz', '?tagging', '?policy', '?versions', '?versioning', '?delete', '?list-type=2&max-keys=-1', '?acl', '?partNumber=99999', '?X-Amz-Algorithm=AWS4-HMAC-SHA256', '?X-Amz-Signature=00&X-Amz-Credential=a/b', '?AWSAccessKeyId=x&Signature=y', '?location', '?continuation-token=%%%'];
const HEADERS: Array<[string, () => string]> = [
  ['authorization', () => 'AWS4-HMAC-SHA256 Credential=EKIAAAAAAAAAAAAAAAAA/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00'],
  ['authorization', () => 'AWS abc:def'],
  ['authorization', () => 'garbage'],
  ['x-amz-content-sha256', () => 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'],
  ['x-amz-content-sha256', () => 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'],
  ['x-amz-content-sha256', () => 'nothex'],
  ['x-amz-date', () => '99999999T999999Z'],
  ['x-amz-copy-source', () => '/alpha/../../etc/passwd'],
  ['x-amz-copy-source-range', () => 'bytes=9-1'],
  ['x-amz-tagging', () => '%%%=%'],
  ['range', () => 'bytes=5-1,0-'],
  ['content-md5', () => 'not base64!'],
  ['x-amz-decoded-content-length', () => '-5'],
  ['content-type', () => '\u00e9'],
];

describe('S3 request path fuzz', () => {
  let fixture: S3Fixture;
  let client: S3Client;

  before(async () => {
    fixture = await startS3();
    client = fixture.client(fixture.users.alice.credentials);
    await client.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'steady', Body: 'steady state' }));
  });
  after(async () => fixture?.stop());

  it('random methods, paths, headers and bodies get S3 errors; the server stays up; other clients are unaffected', async () => {
    const seed = Number(process.env.S3_FUZZ_SEED ?? Date.now() % 1_000_000);
    const random = generator(seed);
    let stop = false;
    let steadyOk = 0;
    // A well-behaved client keeps working throughout.
    const steady = (async () => {
      while (!stop) {
        const got = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'steady' }));
        assert.equal(await got.Body!.transformToString(), 'steady state');
        steadyOk++;
      }
    })();
    const statuses = new Map<number, number>();
    for (let round = 0; round < 400; round++) {
      const headers: Record<string, string> = {};
      for (let count = random.int(4); count > 0; count--) {
        const [name, value] = random.pick(HEADERS);
        headers[name] = value();
      }
      const bodyKind = random.int(4);
      const body = bodyKind === 0 ? undefined : bodyKind === 1 ? randomBytes(random.int(2000)) : bodyKind === 2 ? Buffer.from('<Delete><Object><Key>x</Key></Object>'.repeat(random.int(5))) : Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><CompleteMultipartUpload/>');
      const method = random.pick(METHODS);
      const path = random.pick(PATHS) + random.pick(QUERIES);
      let answer;
      try {
        answer = await rawRequest(fixture.port, { method, path, headers, ...(body === undefined ? {} : { body }) });
      } catch (error) {
        // The server may cut a connection whose body it refused; that is an answer too.
        assert.match(String((error as NodeJS.ErrnoException).code), /ECONNRESET|EPIPE|HPE_/, `seed ${seed} round ${round}: ${String(error)}`);
        continue;
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status >= 400 && answer.status < 600 && answer.status !== 500, `seed ${seed} round ${round}: ${method} ${path} -> ${answer.status} ${answer.body.toString().slice(0, 300)}`);
      if (method !== 'HEAD' && answer.body.length > 0) assert.match(answer.body.toString(), /^<\?xml[^>]*>\s*<Error><Code>[A-Za-z]+<\/Code>/, `seed ${seed} round ${round}: ${method} ${path}`);
      if (method !== 'HEAD' && answer.status !== 400 && answer.status !== 431) assert.ok(answer.headers['x-amz-request-id'] !== undefined);
    }
    // Raw garbage over TLS, and a slow half-sent request, do not disturb anything either.
    for (let index = 0; index < 20; index++) {
      await new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: fixture.port, rejectUnauthorized: false }, () => socket.end(randomBytes(random.int(4000))));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    stop = true;
    await steady;
    assert.ok(steadyOk > 0);
    const final = await client.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'steady' }));
    assert.equal(await final.Body!.transformToString(), 'steady state');
    assert.ok(statuses.size > 1, `seed ${seed}: ${JSON.stringify([...statuses])}`);
  });
});
