import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { FsError } from '../../core/errors.js';
import { createLogger } from '../../ops/logger.js';
import { PUBLIC, type ApiApp, type ApiRoute } from './route.js';
import { createApiServer } from './server.js';

/** Collects the JSON log lines the server writes. */
function logSink(): { stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const text = () => chunks.join('');
  const lines = () => text().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, lines, text };
}

const testRoutes: ApiRoute[] = [
  { method: 'GET', url: '/v1/test/bug', privilege: PUBLIC, summary: 'throws a bug', handler: async () => { throw new TypeError('secret internals at line 42'); } },
  { method: 'GET', url: '/v1/test/missing', privilege: PUBLIC, summary: 'throws NotFound', handler: async () => { throw new FsError('NotFound', 'no such file /a'); } },
  { method: 'POST', url: '/v1/test/echo', privilege: PUBLIC, summary: 'echoes', handler: async (request) => ({ received: request.body !== undefined }) },
  { method: 'GET', url: '/v1/test/private', privilege: 'METRICS_READ', summary: 'needs a privilege', handler: async () => ({ ok: true }) },
];

describe('REST server', () => {
  let app: ApiApp;
  const sink = logSink();

  before(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    app = await createApiServer({
      tls: { certificate: pems.cert, privateKey: pems.private },
      logger: createLogger({ level: 'info', destination: sink.stream }),
      version: { name: 'enclave', version: '9.9.9' },
      bodyBytesMax: 1_024,
      routes: testRoutes,
    });
  });
  after(async () => app.close());

  it('serves the OpenAPI document and the interactive docs without authentication', async () => {
    const document = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(document.statusCode, 200);
    const body = document.json() as { openapi: string; paths: Record<string, unknown> };
    assert.equal(body.openapi, '3.0.3');
    assert.ok('/v1/version' in body.paths && '/v1/test/private' in body.paths);
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
  });

  it('GET /v1/version answers name and version without authentication', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/version' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { name: 'enclave', version: '9.9.9' });
    assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('an unknown route answers 404 with the JSON error body', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/nope?x=1' });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(response.json(), { error_class: 'http_not_found_error', description: 'no such API route: GET /v1/nope' });
  });

  it('a bug answers 500 internal_error without a stack trace, and logs the stack under the request id', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/test/bug' });
    assert.equal(response.statusCode, 500);
    const body = response.json() as { error_class: string; description: string };
    assert.equal(body.error_class, 'internal_error');
    assert.doesNotMatch(response.body, /secret internals|at line|\.ts:/);
    const logged = sink.lines().find((line) => line.msg === 'unexpected error in request');
    assert.ok(logged, 'the error is logged');
    assert.equal(logged.request_id, response.headers['x-request-id']);
    assert.match(JSON.stringify(logged.err), /secret internals/);
  });

  it('a core error is mapped through the complete table', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/test/missing' });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(response.json(), { error_class: 'fs_no_such_entry_error', description: 'no such file /a' });
  });

  it('a body over the limit answers 413 in the JSON error shape', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/test/echo', payload: { data: 'x'.repeat(2_000) } });
    assert.equal(response.statusCode, 413);
    assert.equal((response.json() as { error_class: string }).error_class, 'http_payload_too_large_error');
  });

  it('malformed JSON answers 400 in the JSON error shape', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: '{' });
    assert.equal(response.statusCode, 400);
    assert.equal((response.json() as { error_class: string }).error_class, 'http_bad_request_error');
  });

  it('a route that declares a privilege is refused with 401 until sessions exist', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/test/private', headers: { authorization: 'Bearer sekrit-token' } });
    assert.equal(response.statusCode, 401);
    assert.equal((response.json() as { error_class: string }).error_class, 'http_unauthorized_error');
  });

  it('request logs carry the request id and never the authorization header or the body', async () => {
    await app.inject({ method: 'POST', url: '/v1/test/echo', headers: { authorization: 'Bearer sekrit-token-2' }, payload: { password: 'hunter2-body' } });
    const text = sink.text();
    assert.doesNotMatch(text, /sekrit-token|hunter2-body/);
    const incoming = sink.lines().filter((line) => line.msg === 'incoming request');
    assert.ok(incoming.length > 0);
    assert.ok(incoming.every((line) => typeof line.request_id === 'string'));
  });

  it('responses carry security headers', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/version' });
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.match(String(response.headers['strict-transport-security']), /max-age=/);
  });
});
