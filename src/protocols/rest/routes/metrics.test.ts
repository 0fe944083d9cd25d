import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fastify } from 'fastify';
import { generate } from 'selfsigned';
import { createEnclaveMetrics, OPENMETRICS_CONTENT_TYPE, type EnclaveMetrics } from '../../../ops/metrics.js';
import { assertOpenMetrics } from '../../../ops/openmetrics.test-support.js';
import type { ApiApp } from '../route.js';
import { as, openApiHarness, TEST_ADMIN, TEST_NOBODY, type TestCaller } from '../testing/api-harness.test-support.js';
import { httpsOptions } from '../tls.js';
import { instrumentApi, metricsRoutes, UNMATCHED_ROUTE } from './metrics.js';

const SCRAPER: TestCaller = { name: 'scraper', privileges: ['METRICS_READ'] };

describe('GET /v1/metrics', () => {
  let app: ApiApp;
  let metrics: EnclaveMetrics;

  before(async () => {
    metrics = createEnclaveMetrics();
    app = await openApiHarness(metricsRoutes({ metrics }), [TEST_ADMIN, TEST_NOBODY, SCRAPER]);
  });
  after(async () => {
    await app.close();
    metrics.close();
  });

  it('answers OpenMetrics text ending with # EOF to METRICS_READ', async () => {
    metrics.apiRequests.inc({ route: '/v1/version', method: 'GET', status: '200' });
    const response = await app.inject({ method: 'GET', url: '/v1/metrics', headers: as(SCRAPER) });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], OPENMETRICS_CONTENT_TYPE);
    assertOpenMetrics(response.body);
    assert.ok(response.body.includes('enclave_api_requests_total{route="/v1/version",method="GET",status="200"} 1\n'));
  });

  it('refuses callers without a session (401) or without METRICS_READ (403)', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/metrics' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/metrics', headers: as(TEST_NOBODY) })).statusCode, 403);
  });
});

describe('instrumentApi', () => {
  it('counts requests by route pattern, method and status, and times them', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const app: ApiApp = fastify({ https: httpsOptions({ certificate: pems.cert, privateKey: pems.private }) });
    const metrics = createEnclaveMetrics();
    try {
      instrumentApi(app, metrics);
      app.get('/v1/items/:id', async () => ({ ok: true }));
      await app.ready();
      for (const id of ['a', 'b', 'c']) assert.equal((await app.inject({ method: 'GET', url: `/v1/items/${id}` })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/no/such/thing/1' })).statusCode, 404);
      assert.equal((await app.inject({ method: 'GET', url: '/no/such/thing/2' })).statusCode, 404);
      assert.equal(metrics.apiRequests.value({ route: '/v1/items/:id', method: 'GET', status: '200' }), 3);
      assert.equal(metrics.apiRequests.value({ route: UNMATCHED_ROUTE, method: 'GET', status: '404' }), 2);
      assert.equal(metrics.apiRequestDuration.count({ route: '/v1/items/:id', method: 'GET' }), 3);
      const text = metrics.registry.render();
      assertOpenMetrics(text);
      assert.ok(!text.includes('/v1/items/a'), 'raw URLs never become labels');
      assert.ok(!text.includes('/no/such/thing'));
    } finally {
      await app.close();
      metrics.close();
    }
  });
});
