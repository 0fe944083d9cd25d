import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { Agent } from 'node:https';
import { connect, type LookupFunction, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Server } from '../src/serve.js';
import { serveForTest } from './support/served.js';
import { callApi, type ApiAnswer } from './support/api-client.js';
import { rawRequest, s3ErrorName, type Credentials } from './support/s3-fixture.js';

/**
 * S3 as an administrator runs it: a whole instance, configured only through the management API
 * (`/v1/s3/settings`, `/v1/s3/buckets`, `/v1/session/s3-access-keys`), used with the AWS SDK, the
 * aws CLI and raw sockets.
 */

const run = promisify(execFile);
const ADMIN_PASSWORD = 'Served-Bucket-Keeper-61';
const DANA_PASSWORD = 'Rows-The-Canal-Boat-42';
const ERIN_PASSWORD = 'Counts-Many-Lighthouses-7';
const DOMAIN = 's3.enclave.test';

/** Every name resolves to the loopback address: virtual-hosted names without touching /etc/hosts. */
const loopbackLookup = ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

/**
 * A CONNECT proxy on loopback that tunnels every host to the S3 port and records the host each
 * client asked for: how the aws CLI reaches `<bucket>.<domain>` names no resolver knows.
 */
async function startTunnel(targetPort: () => number): Promise<{ port: number; targets: string[]; close(): Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createHttpServer((_request, response) => response.writeHead(405).end());
  proxy.on('connect', (request, client: Socket, head: Buffer) => {
    targets.push(request.url ?? '');
    const upstream = connect({ host: '127.0.0.1', port: targetPort() }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    targets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describe('S3 on a served instance, configured through the management API', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'enclave-s3-served-'));
  const lines: string[] = [];
  const clients: S3Client[] = [];
  let server: Server;
  let apiPort: number;
  let adminToken: string;
  let danaToken: string;
  /** Dana's S3 key for the tests after the self-service one (a user has two active keys at most). */
  let danaCredentials: Credentials | undefined;

  const api = (method: string, path: string, options: { token?: string; body?: unknown; rawBody?: Buffer } = {}): Promise<ApiAnswer> =>
    callApi(apiPort, method, path, { token: options.token ?? adminToken, ...(options.body === undefined ? {} : { body: options.body }), ...(options.rawBody === undefined ? {} : { rawBody: options.rawBody, headers: { 'content-type': 'application/octet-stream' } }) });
  /** The port of the S3 listener's latest start (it moves when a change restarts it: port 0). */
  const s3Port = (): number => {
    const line = lines.filter((candidate) => candidate.startsWith('listening s3 ')).at(-1);
    assert.ok(line !== undefined, `S3 is not listening: ${lines.join(' | ')}`);
    return Number(line.split(':').at(-1));
  };
  const putSettings = async (body: Record<string, unknown>) => {
    const answer = await api('PUT', '/v1/s3/settings', { body });
    assert.equal(answer.status, 200, answer.body.toString());
    return answer.json<Record<string, unknown>>();
  };
  const sdk = (credentials: Credentials, options: { virtualHosted?: boolean } = {}): S3Client => {
    const client = new S3Client({
      endpoint: options.virtualHosted === true ? `https://${DOMAIN}:${s3Port()}` : `https://127.0.0.1:${s3Port()}`,
      region: 'us-east-1',
      forcePathStyle: options.virtualHosted !== true,
      credentials,
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: server.instance.tls.certificate, checkServerIdentity: () => undefined, lookup: loopbackLookup }) }),
    });
    clients.push(client);
    return client;
  };
  const ownKey = async (token: string): Promise<Credentials & { body: Record<string, unknown> }> => {
    const created = await api('POST', '/v1/session/s3-access-keys', { token, body: {} });
    assert.equal(created.status, 201, created.body.toString());
    const body = created.json<Record<string, unknown>>();
    return { accessKeyId: body.access_key_id as string, secretAccessKey: body.secret_access_key as string, body };
  };

  before(async () => {
    ({ server, token: adminToken } = await serveForTest({ dataDir, adminPassword: ADMIN_PASSWORD, lines }));
    apiPort = server.ports.api as number;
    for (const [name, password] of [['dana', DANA_PASSWORD], ['erin', ERIN_PASSWORD]] as const) {
      const created = await api('POST', '/v1/users', { body: { name, password } });
      assert.equal(created.status, 201, created.body.toString());
    }
    // Own S3 keys need S3_SELF_WRITE: a custom role holding only that, given to dana (erin gets it later).
    assert.equal((await api('POST', '/v1/auth/roles', { body: { name: 'S3Users', privileges: ['S3_SELF_WRITE'] } })).status, 201);
    assert.equal((await api('POST', '/v1/auth/roles/S3Users/members', { body: { member: 'dana' } })).status, 200);
    danaToken = (await callApi(apiPort, 'POST', '/v1/session/login', { body: { username: 'dana', password: DANA_PASSWORD } })).json().bearer_token;
    // An existing tree with data written over REST by the administrator; its directories are
    // open to everyone (mode 0777), so dana may read the files and add objects over S3.
    for (const [parent, name] of [['/', 'projects'], ['/projects', 'legacy'], ['/projects/legacy', 'nested']] as const) {
      assert.equal((await api('POST', `/v1/files/${encodeURIComponent(parent)}/entries`, { body: { name, action: 'CREATE_DIRECTORY' } })).status, 201);
    }
    for (const [path, content] of [['/projects/legacy/report.txt', 'written over REST'], ['/projects/legacy/nested/data.csv', 'a,b\n1,2\n']] as const) {
      const slash = path.lastIndexOf('/');
      assert.equal((await api('POST', `/v1/files/${encodeURIComponent(path.slice(0, slash))}/entries`, { body: { name: path.slice(slash + 1), action: 'CREATE_FILE' } })).status, 201);
      assert.equal((await api('PUT', `/v1/files/${encodeURIComponent(path)}/data`, { rawBody: Buffer.from(content) })).status, 200);
    }
    for (const path of ['/projects/legacy', '/projects/legacy/nested']) {
      const changed = await api('PATCH', `/v1/files/${encodeURIComponent(path)}/info/attributes`, { body: { mode: '0777' } });
      assert.equal(changed.status, 200, changed.body.toString());
    }
    await putSettings({ enabled: true });
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('virtual_host_domains is validated, answered and documented by the settings resource', async () => {
    const initial = await api('GET', '/v1/s3/settings');
    assert.deepEqual(initial.json().virtual_host_domains, []);
    for (const [bad, reason] of [[['S3.Example.com'], /virtual_host_domains\[0\] "S3.Example.com" is not a lower-case DNS name/], [['10.0.0.1'], /is an IP address/], [['s3.example.com:9000'], /not a lower-case DNS name/], ['s3.example.com', /virtual_host_domains/]] as const) {
      const refused = await api('PUT', '/v1/s3/settings', { body: { virtual_host_domains: bad } });
      assert.equal(refused.status, 400, `${JSON.stringify(bad)}: ${refused.body.toString()}`);
      assert.match(refused.json().description, reason);
    }
    const tooMany = await api('PUT', '/v1/s3/settings', { body: { virtual_host_domains: Array.from({ length: 17 }, (_, index) => `s${index}.example`) } });
    assert.equal(tooMany.status, 400);
    assert.equal((await api('GET', '/v1/s3/settings')).headers.etag, initial.headers.etag, 'a refused change changes nothing');
    assert.equal((await api('PUT', '/v1/s3/settings', { token: danaToken, body: { virtual_host_domains: [DOMAIN] } })).status, 403);
    const openapi = (await callApi(apiPort, 'GET', '/openapi.json')).json<{ paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { maxItems?: number }> } }> }> } }> }>();
    const documented = openapi.paths['/v1/s3/settings']?.get.responses['200']?.content['application/json']?.schema.properties.virtual_host_domains;
    assert.equal(documented?.maxItems, 16);
  });

  it('plain HTTP is refused while secure is true (the default), served once secure is false, refused again at once when secure is true', async () => {
    const plain = () => rawRequest(s3Port(), { method: 'GET', path: '/', plain: true });
    const refused = await plain();
    assert.equal(refused.status, 400);
    assert.equal(refused.headers['x-amz-request-id'], undefined, 'the request never reached S3');
    assert.equal(refused.headers.connection, 'close');
    const tls = await rawRequest(s3Port(), { method: 'GET', path: '/' });
    assert.equal(tls.status, 403, 'HTTPS on the same port answers (anonymous ListBuckets is AccessDenied)');
    assert.ok(tls.headers['x-amz-request-id'] !== undefined);

    await putSettings({ secure: false });
    const served = await plain();
    assert.equal(served.status, 403);
    assert.match(served.body.toString(), /<Code>AccessDenied<\/Code>/);
    // Turning plain HTTP off again applies without a disable/enable: the listener restarts.
    await putSettings({ secure: true });
    assert.equal((await plain()).status, 400);
    assert.equal((await rawRequest(s3Port(), { method: 'GET', path: '/' })).status, 403);
  });

  it('a user manages their own access keys under /v1/session/s3-access-keys: creates, lists, uses, deletes; never sees or deletes others\'', async () => {
    const erinToken = (await callApi(apiPort, 'POST', '/v1/session/login', { body: { username: 'erin', password: ERIN_PASSWORD } })).json().bearer_token as string;
    assert.equal((await api('POST', '/v1/session/s3-access-keys', { token: erinToken, body: {} })).status, 403, 'a login alone does not give S3 keys');
    assert.equal((await api('POST', '/v1/auth/roles/S3Users/members', { body: { member: 'erin' } })).status, 200);
    const erinKey = await ownKey(erinToken);
    const dana = await ownKey(danaToken);
    assert.equal(dana.body.username, 'dana');
    assert.match(dana.secretAccessKey, /^.{20,}$/);
    const listed = (await api('GET', '/v1/session/s3-access-keys', { token: danaToken })).json<{ entries: Array<Record<string, unknown>> }>().entries;
    assert.deepEqual(listed.map((key) => key.access_key_id), [dana.accessKeyId]);
    assert.ok(listed.every((key) => !('secret_access_key' in key)), 'a secret is shown only when created');
    // S3_SELF_WRITE reaches only dana's own keys: not everyone's list, not erin's key.
    assert.equal((await api('GET', '/v1/s3/access-keys', { token: danaToken })).status, 403);
    assert.equal((await api('DELETE', `/v1/s3/access-keys/${erinKey.accessKeyId}`, { token: danaToken })).status, 403);
    assert.equal((await api('DELETE', `/v1/session/s3-access-keys/${erinKey.accessKeyId}`, { token: danaToken })).status, 404);
    assert.equal((await api('GET', '/v1/session/s3-access-keys', { token: erinToken })).json().entries.length, 1, 'erin still has her key');
    // Two active keys at most, for rotation.
    const second = await ownKey(danaToken);
    const third = await api('POST', '/v1/session/s3-access-keys', { token: danaToken, body: {} });
    assert.equal(third.status, 409);
    assert.match(third.json().description, /at most 2 active S3 access keys/);
    // The key works over S3 and stops working the moment it is deleted.
    const client = sdk(dana);
    assert.ok(Array.isArray((await client.send(new ListBucketsCommand({}))).Buckets));
    assert.equal((await api('DELETE', `/v1/session/s3-access-keys/${dana.accessKeyId}`, { token: danaToken })).status, 204);
    assert.equal(await s3ErrorName(client.send(new ListBucketsCommand({}))), 'InvalidAccessKeyId');
    assert.deepEqual((await api('GET', '/v1/session/s3-access-keys', { token: danaToken })).json<{ entries: Array<Record<string, unknown>> }>().entries.map((key) => key.access_key_id), [second.accessKeyId]);
    danaCredentials = second;
  });

  it('POST /v1/s3/buckets {name, path} attaches an existing directory: the files already in it are objects', async () => {
    assert.equal((await api('POST', '/v1/s3/buckets', { body: { name: 'legacy', path: '/projects/missing' } })).status, 404);
    assert.equal((await api('POST', '/v1/s3/buckets', { body: { name: 'legacy', path: '/projects/legacy/report.txt' } })).status, 409, 'a file is not a directory');
    const attached = await api('POST', '/v1/s3/buckets', { body: { name: 'legacy', path: '/projects/legacy' } });
    assert.equal(attached.status, 201, attached.body.toString());
    assert.deepEqual([attached.json().name, attached.json().path], ['legacy', '/projects/legacy']);
    danaCredentials ??= await ownKey(danaToken);
    const client = sdk(danaCredentials);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'legacy' }));
    assert.deepEqual(listed.Contents?.map((item) => [item.Key, item.Size]), [['nested/data.csv', 8], ['report.txt', 17]]);
    const got = await client.send(new GetObjectCommand({ Bucket: 'legacy', Key: 'report.txt' }));
    assert.equal(await got.Body!.transformToString(), 'written over REST');
    // Writes over S3 land in the same directory, visible over REST.
    await client.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'nested/from-s3.txt', Body: 'written over S3' }));
    assert.equal((await api('GET', `/v1/files/${encodeURIComponent('/projects/legacy/nested/from-s3.txt')}/data`)).body.toString(), 'written over S3');
  });

  it('virtual-hosted-style addressing: <bucket>.<domain> for each configured domain, with the AWS SDK and the aws CLI', async () => {
    danaCredentials ??= await ownKey(danaToken);
    const credentials = danaCredentials;
    const hosted = sdk(credentials, { virtualHosted: true });
    const requested: string[] = [];
    hosted.middlewareStack.add((next) => async (args) => {
      const request = args.request as { hostname?: string; path?: string };
      requested.push(`${request.hostname ?? ''}${request.path ?? ''}`);
      return next(args);
    }, { step: 'finalizeRequest', name: 'recordHost' });
    // Before the domain is configured, legacy.s3.enclave.test is just a host: path-style, and
    // `/virtual.txt` names a bucket that does not exist.
    assert.equal(await s3ErrorName(hosted.send(new GetObjectCommand({ Bucket: 'legacy', Key: 'virtual.txt' }))), 'NoSuchBucket');

    assert.deepEqual((await putSettings({ virtual_host_domains: ['enclave.test', DOMAIN] })).virtual_host_domains, ['enclave.test', DOMAIN]);
    await hosted.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'virtual.txt', Body: 'by host name' }));
    const got = await hosted.send(new GetObjectCommand({ Bucket: 'legacy', Key: 'virtual.txt' }));
    assert.equal(await got.Body!.transformToString(), 'by host name');
    const listed = await hosted.send(new ListObjectsV2Command({ Bucket: 'legacy', Prefix: 'virtual' }));
    assert.deepEqual(listed.Contents?.map((item) => item.Key), ['virtual.txt']);
    assert.ok(requested.length >= 4);
    assert.ok(requested.every((request) => request.startsWith(`legacy.${DOMAIN}/`)), `virtual-hosted requests: ${requested.join(', ')}`);
    assert.ok(requested.includes(`legacy.${DOMAIN}/virtual.txt`));
    // Path-style requests keep working beside it.
    assert.equal(await (await sdk(credentials).send(new GetObjectCommand({ Bucket: 'legacy', Key: 'virtual.txt' }))).Body!.transformToString(), 'by host name');

    const tunnel = await startTunnel(s3Port);
    try {
      const config = join(dataDir, 'aws-virtual.config');
      writeFileSync(config, '[default]\ns3 =\n  addressing_style = virtual\n');
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH, HOME: dataDir, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: '/dev/null', HTTPS_PROXY: `http://127.0.0.1:${tunnel.port}`,
      };
      // The certificate names 127.0.0.1, not the bucket's host name: --no-verify-ssl (loopback only).
      const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', `https://${DOMAIN}:${s3Port()}`, '--no-verify-ssl', ...args], { env });
      const object = join(dataDir, 'cli-virtual.txt');
      writeFileSync(object, 'from the aws CLI');
      await aws('s3', 'cp', object, 's3://legacy/cli/virtual.txt');
      assert.match((await aws('s3', 'ls', 's3://legacy/cli/')).stdout, /virtual\.txt/);
      assert.equal((await aws('s3', 'cp', 's3://legacy/cli/virtual.txt', '-')).stdout, 'from the aws CLI');
      assert.ok(tunnel.targets.length > 0 && tunnel.targets.every((target) => target === `legacy.${DOMAIN}:${s3Port()}`), `CLI connections: ${tunnel.targets.join(', ')}`);
    } finally {
      await tunnel.close();
    }

    // Removing the domain applies at the next request, without a restart.
    await putSettings({ virtual_host_domains: [] });
    assert.equal(await s3ErrorName(hosted.send(new GetObjectCommand({ Bucket: 'legacy', Key: 'virtual.txt' }))), 'NoSuchBucket');
  });
});
