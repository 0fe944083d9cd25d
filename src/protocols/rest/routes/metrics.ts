import { OPENMETRICS_CONTENT_TYPE, type EnclaveMetrics } from '../../../ops/metrics.js';
import type { ApiApp, ApiRoute } from '../route.js';
import { binaryAnswer } from '../schemas.js';

/** Methods reported by name; anything else (a scanner's WEIRD verb) is folded into `other`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** The route label of requests no route matched (404s, scans): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every API request in `onResponse`, labelled by the route's pattern
 * (`/v1/files/:ref/data`), never the raw URL, so label cardinality is bounded by the route table.
 * Must be called before the app is ready (fastify refuses hooks afterwards).
 */
export function instrumentApi(app: ApiApp, metrics: EnclaveMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const method = KNOWN_METHODS.has(request.method) ? request.method : 'other';
    metrics.apiRequests.inc({ route, method, status: String(reply.statusCode) });
    metrics.apiRequestDuration.observe({ route, method }, reply.elapsedTime / 1_000);
  });
}

export interface MetricsRoutesDeps {
  readonly metrics: EnclaveMetrics;
}

export function metricsRoutes(deps: MetricsRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/metrics',
      privilege: 'METRICS_READ',
      summary: 'Request counts and durations by route, process memory, CPU and event-loop delay, in the OpenMetrics text format.',
      schema: { response: { 200: binaryAnswer(OPENMETRICS_CONTENT_TYPE.split(';')[0] as string, 'OpenMetrics text.') } },
      handler: async (_request, reply) => {
        reply.header('content-type', OPENMETRICS_CONTENT_TYPE);
        return deps.metrics.registry.render();
      },
    },
  ];
}
