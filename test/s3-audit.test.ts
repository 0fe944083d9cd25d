import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CopyObjectCommand, DeleteBucketPolicyCommand, GetObjectCommand, PutBucketPolicyCommand, PutObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { testConfig } from './support/test-config.js';
import { createLogger } from '../src/ops/logger.js';
import { serve, type Server } from '../src/serve.js';
import { callApi } from './support/api-client.js';

const PASSWORD = 'Bucket-Audit-Trail-2026';

describe('S3 requests are audited', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-s3-audit-'));
  const lines: string[] = [];
  let server: Server;
  let token: string;
  let client: S3Client;
  const api = (method: string, path: string, body?: unknown) => callApi(server.ports.api as number, method, path, { token, ...(body === undefined ? {} : { body }) });

  before(async () => {
    server = await serve({
      config: { ...testConfig(), dataDir, apiPort: 0, s3Port: 0 },
      logger: createLogger({ level: 'silent' }),
      environment: { ENCLAVE_ADMIN_PASSWORD: PASSWORD },
      stdout: new Writable({ write: (chunk: Buffer, _encoding, callback) => { lines.push(chunk.toString()); callback(); } }),
    });
    token = (await callApi(server.ports.api as number, 'POST', '/v1/session/login', { body: { username: 'admin', password: PASSWORD } })).json().bearer_token;
    assert.equal((await api('PUT', '/v1/s3/settings', { enabled: true })).status, 200);
    const port = Number(/listening s3 127\.0\.0\.1:(\d+)/.exec(lines.join(''))?.[1]);
    const bucket = await api('POST', '/v1/s3/buckets', { name: 'ledger', owner: 'admin' });
    assert.ok(bucket.status === 200 || bucket.status === 201, bucket.body.toString());
    const key = (await api('POST', '/v1/s3/access-keys', { username: 'admin' })).json();
    client = new S3Client({
      endpoint: `https://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: key.access_key_id, secretAccessKey: key.secret_access_key },
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: server.instance.tls.certificate, checkServerIdentity: () => undefined }) }),
    });
  });
  after(async () => {
    client.destroy();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes, reads and failed reads reach the audit log with the user, the path and the S3 error', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'q1/report.txt', Body: 'figures' }));
    await (await client.send(new GetObjectCommand({ Bucket: 'ledger', Key: 'q1/report.txt' }))).Body?.transformToString();
    await assert.rejects(client.send(new GetObjectCommand({ Bucket: 'ledger', Key: 'missing.txt' })));
    let events: Array<{ operation: string; status: string; path?: string; user?: { name?: string } }> = [];
    for (let attempt = 0; attempt < 50 && events.length < 3; attempt++) {
      events = (await api('GET', '/v1/audit/events?protocol=s3&limit=100')).json().events;
      if (events.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const described = events.map((event) => `${event.operation} ${event.status} ${event.path ?? ''} ${event.user?.name ?? ''}`);
    assert.ok(described.includes('fs_write_data ok /ledger/q1/report.txt admin'), described.join('\n'));
    assert.ok(described.includes('fs_read_data ok /ledger/q1/report.txt admin'), described.join('\n'));
    assert.ok(described.includes('fs_read_data NoSuchKey /ledger/missing.txt admin'), described.join('\n'));
  });

  it('data events carry the file id, offset and size (a ranged GET its range); tagging records tags before and after', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'q2/data.bin', Body: Buffer.alloc(10_000, 3) }));
    const ranged = await client.send(new GetObjectCommand({ Bucket: 'ledger', Key: 'q2/data.bin', Range: 'bytes=100-299' }));
    assert.equal((await ranged.Body?.transformToByteArray())?.length, 200);
    await client.send(new PutObjectTaggingCommand({ Bucket: 'ledger', Key: 'q2/data.bin', Tagging: { TagSet: [{ Key: 'class', Value: 'secret-ish' }] } }));
    type Event = { operation: string; file_id?: string; details?: Record<string, unknown> };
    let events: Event[] = [];
    for (let attempt = 0; attempt < 50 && events.length < 3; attempt++) {
      events = (await api('GET', `/v1/audit/events?protocol=s3&path_prefix=${encodeURIComponent('/ledger/q2/')}&limit=100`)).json().events;
      if (events.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const write = events.find((event) => event.operation === 'fs_write_data');
    const read = events.find((event) => event.operation === 'fs_read_data');
    const tagging = events.find((event) => event.operation === 'fs_write_metadata');
    assert.match(write?.file_id ?? '', /^\d+$/, JSON.stringify(events));
    assert.deepEqual(write?.details, { bucket: 'ledger', offset: 0, size: 10_000 });
    assert.equal(read?.file_id, write?.file_id);
    assert.deepEqual(read?.details, { bucket: 'ledger', offset: 100, size: 200 });
    assert.equal(tagging?.file_id, write?.file_id);
    assert.deepEqual(tagging?.details, { bucket: 'ledger', before: { tags: [] }, after: { tags: [{ key: 'class', value: 'secret-ish' }] } });
  });

  it('a copy records the new file id and the bytes copied', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'ledger', Key: 'copies/source.bin', Body: Buffer.alloc(3_000, 9) }));
    await client.send(new CopyObjectCommand({ Bucket: 'ledger', Key: 'copies/target.bin', CopySource: 'ledger/copies/source.bin' }));
    type Event = { operation: string; file_id?: string; details?: Record<string, unknown> };
    let copy: Event | undefined;
    for (let attempt = 0; attempt < 50 && copy === undefined; attempt++) {
      const events: Event[] = (await api('GET', `/v1/audit/events?protocol=s3&operation=fs_copy_data&limit=100`)).json().events;
      copy = events.find((event) => event.details?.bucket === 'ledger');
      if (copy === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(copy?.file_id ?? '', /^\d+$/);
    assert.deepEqual(copy?.details, { bucket: 'ledger', offset: 0, size: 3_000 });
  });

  it('a bucket policy change records the policy before and after', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::ledger/public/*' }] });
    await client.send(new PutBucketPolicyCommand({ Bucket: 'ledger', Policy: policy }));
    await client.send(new DeleteBucketPolicyCommand({ Bucket: 'ledger' }));
    type Event = { operation: string; details?: Record<string, unknown> };
    let events: Event[] = [];
    for (let attempt = 0; attempt < 50 && events.length < 2; attempt++) {
      events = (await api('GET', '/v1/audit/events?protocol=s3&operation=s3_set_bucket_settings&limit=100')).json().events;
      if (events.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(
      events.map((event) => event.details),
      [
        { bucket: 'ledger', before: { policy: null }, after: { policy } },
        { bucket: 'ledger', before: { policy }, after: { policy: null } },
      ],
    );
  });
});
