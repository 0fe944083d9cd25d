import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { testConfig } from './test-config.js';
import { systemContext } from '../../src/core/context.js';
import type { S3AccessKeys } from '../../src/identity/s3-access-keys.js';
import { createLogger } from '../../src/ops/logger.js';
import { type BucketStore, ensureDirectory } from '../../src/protocols/s3/buckets.js';
import { MultipartStore } from '../../src/protocols/s3/multipart.js';
import { S3Server, type S3ServerLimits } from '../../src/protocols/s3/server.js';
import { serve, type Server } from '../../src/serve.js';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3Fixture {
  readonly server: Server;
  readonly s3Server: S3Server;
  readonly port: number;
  readonly dataDir: string;
  readonly caFile: string;
  readonly ca: string;
  readonly users: Record<'alice' | 'bob', { credentials: Credentials; uid: number }>;
  readonly buckets: BucketStore;
  readonly accessKeys: S3AccessKeys;
  /** Moves the server's clock (multipart expiry tests). */
  clockOffsetMs: number;
  client(credentials: Credentials): S3Client;
  stop(): Promise<void>;
}

const quiet = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

/** A running instance with the S3 server: users alice and bob, bucket `alpha` (/s3/alpha) owned by alice. */
export async function startS3(options: { secure?: boolean; limits?: Partial<S3ServerLimits> } = {}): Promise<S3Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-s3-'));
  const logger = createLogger({ level: (process.env.S3_TEST_LOG as 'warn' | undefined) ?? 'silent' });
  const server = await serve({ config: { ...testConfig(), dataDir, apiPort: 0 }, logger, environment: { ENCLAVE_ADMIN_PASSWORD: 'Correct-Horse-Battery-Staple-9' }, stdout: quiet() });
  const { instance } = server;
  // The instance's own stores: their caches are exact only when every writer shares them, so
  // tests that change keys or buckets through the management API see it at the next S3 request.
  const accessKeys = server.management.s3AccessKeys;
  const users = {} as S3Fixture['users'];
  let gid: number | undefined;
  for (const [name, password] of [['alice', 'violet-Quarry-Lantern-42'], ['bob', 'amber-Harbour-Compass-17']] as const) {
    const user = await instance.users.createUser({ name, password });
    const created = await accessKeys.create({ userId: user.id });
    users[name] = { credentials: { accessKeyId: created.accessKey.id, secretAccessKey: created.secret }, uid: user.uid };
    if (name === 'alice') gid = user.primaryGid;
  }
  const buckets = server.management.buckets;
  const ctx = systemContext(logger);
  const dir = await ensureDirectory(instance.fileSystem, ctx, '/s3/alpha', { mustCreate: true, uid: users.alice.uid, ...(gid === undefined ? {} : { gid }) });
  const attributes = await instance.fileSystem.getattr(ctx, dir.handle);
  await buckets.add({ name: 'alpha', path: '/s3/alpha', rootId: attributes.id, rootGeneration: attributes.generation, createdAtMs: Date.now(), ownerUid: users.alice.uid });
  await instance.fileSystem.setattr(ctx, (await instance.fileSystem.resolvePath(ctx, '/s3')).handle, { uid: users.alice.uid });
  const fixture = { clockOffsetMs: 0 } as { clockOffsetMs: number };
  const s3Server = new S3Server({
    fs: instance.fileSystem,
    buckets,
    uploads: new MultipartStore({ metadata: instance.metadata }),
    accessKeys,
    findUser: async (id) => instance.users.get(id),
    groupsOf: (id) => instance.groups.groupsOf(id),
    tls: instance.tls,
    settings: async () => ({ secure: options.secure ?? true, base_path: '/s3' }),
    networkAccess: { isAllowed: () => true },
    logger,
    nowMs: () => Date.now() + fixture.clockOffsetMs,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const port = await s3Server.listen('127.0.0.1', 0);
  const caFile = join(dataDir, 'ca.pem');
  writeFileSync(caFile, instance.tls.certificate);
  const clients: S3Client[] = [];
  return Object.assign(fixture, {
    server,
    s3Server,
    port,
    dataDir,
    caFile,
    ca: instance.tls.certificate,
    users,
    buckets,
    accessKeys,
    client(credentials: Credentials) {
      const client = new S3Client({
        endpoint: `https://127.0.0.1:${port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials,
        requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: instance.tls.certificate, checkServerIdentity: () => undefined }) }),
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.destroy();
      await s3Server.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One plain request (HTTPS unless `plain`), no SDK: for anonymous, presigned and fuzz tests. */
export function rawRequest(port: number, options: { method: string; path: string; headers?: Record<string, string>; body?: Buffer; plain?: boolean; ca?: string }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const common = { host: '127.0.0.1', port, method: options.method, path: options.path, headers: { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(options.body.length) }) } };
    const onAnswer = (incoming: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }));
      incoming.on('error', reject);
    };
    const outgoing = options.plain === true ? httpRequest({ ...common, agent: false }, onAnswer) : httpsRequest({ ...common, agent: false, rejectUnauthorized: false }, onAnswer);
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const encode = (text: string, keepSlash: boolean) =>
  Buffer.from(text, 'utf8').reduce((out, byte) => {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(char) || (keepSlash && char === '/')) return out + char;
    return `${out}%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }, '');

/**
 * A SigV4 presigned URL path+query (S3 API reference, "Authenticating Requests: Using Query
 * Parameters"), written independently of the server's code.
 */
export function presign(options: { method: string; host: string; path: string; credentials: Credentials; expiresSeconds: number; now?: Date }): string {
  const now = options.now ?? new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/us-east-1/s3/aws4_request`;
  const query: Array<[string, string]> = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${options.credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(options.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  const canonicalQuery = query.map(([name, value]) => `${encode(name, false)}=${encode(value, false)}`).sort().join('&');
  const canonicalPath = encode(options.path, true);
  const canonical = [options.method, canonicalPath, canonicalQuery, `host:${options.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${options.credentials.secretAccessKey}`, date), 'us-east-1'), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return `${canonicalPath}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

/**
 * One SigV4-signed request (Authorization header form) without the SDK, for the edge cases SDKs
 * refuse to send (a malformed Content-MD5, no Content-Length, odd query parameters). `key` and the
 * query values are given decoded; the signed payload hash is the SHA-256 of the body unless
 * `payloadHash` says otherwise. Written independently of the server's SigV4 code.
 */
export function signedRequest(port: number, credentials: Credentials, options: { method: string; bucket?: string; key?: string; query?: Array<[string, string]>; headers?: Record<string, string>; body?: Buffer; payloadHash?: string; now?: Date }): Promise<RawAnswer> {
  const now = options.now ?? new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/us-east-1/s3/aws4_request`;
  const path = `/${options.bucket === undefined ? '' : encode(options.bucket, false)}${options.key === undefined ? '' : `/${encode(options.key, true)}`}`;
  const query = (options.query ?? []).map(([name, value]) => `${encode(name, false)}=${encode(value, false)}`).sort().join('&');
  const payloadHash = options.payloadHash ?? createHash('sha256').update(options.body ?? Buffer.alloc(0)).digest('hex');
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  const names = Object.keys(headers).sort();
  const canonical = [options.method, path, query, names.map((name) => `${name}:${(headers[name] as string).trim()}\n`).join(''), names.join(';'), payloadHash].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), 'us-east-1'), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return rawRequest(port, { method: options.method, path: query === '' ? path : `${path}?${query}`, headers, ...(options.body === undefined ? {} : { body: options.body }) });
}

/** The S3 error code an SDK call failed with (the exception's name), or 'no error'. */
export async function s3ErrorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof S3ServiceException)) throw error;
    return error.name;
  }
  return 'no error';
}
