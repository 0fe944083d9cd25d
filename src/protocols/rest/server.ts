import { randomUUID } from 'node:crypto';
import { LogController, fastify, type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiError, errorBody, sendError } from './errors.js';
import { recordEveryRoute, registerRoutes, type ApiApp, type ApiRoute, type Authorizer } from './route.js';
import { versionRoutes, type VersionInfo } from './routes/version.js';
import { httpsOptions, type TlsIdentity } from './tls.js';
import { registerOpenApi } from './openapi.js';
import { createValidatorCompiler } from './validation.js';
import { addFileUploadParser, FILE_REF_PARAM_CHARACTERS_MAX } from './files-server.js';

export interface ApiServerOptions {
  readonly tls: TlsIdentity;
  readonly logger: Logger;
  readonly version: VersionInfo;
  readonly bodyBytesMax: number;
  /** Defaults to refusing every non-public route with 401 (no sessions exist yet). */
  readonly authorize?: Authorizer;
  /** Extra route areas; the version area is always present. */
  readonly routes?: readonly ApiRoute[];
  readonly generateRequestId?: () => string;
  /** Hooks that must be added before the routes (metrics instrumentation). */
  readonly instrument?: (app: ApiApp) => void;
}

/** Until sessions land (login issue), a route that needs a privilege is refused to everyone. */
const refuseAll: Authorizer = async () => {
  throw new ApiError(401, 'http_unauthorized_error', 'authentication is required');
};

/**
 * The HTTPS management API. Returns a server that is ready but not listening; the caller listens
 * and closes it. Each request gets a child logger carrying its request id (`request_id`), also
 * returned as the `x-request-id` header. Request logs carry method, URL and addresses only; the
 * logger's redaction keeps authorization headers and bodies out even if a serializer adds them.
 */
export async function createApiServer(options: ApiServerOptions): Promise<ApiApp> {
  const app: ApiApp = fastify({
    https: httpsOptions(options.tls),
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    genReqId: options.generateRequestId ?? (() => randomUUID()),
    // A request id chosen by the client would let it forge log correlation; ignore the header.
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    bodyLimit: options.bodyBytesMax,
    return503OnClosing: true,
    routerOptions: { maxParamLength: FILE_REF_PARAM_CHARACTERS_MAX },
    forceCloseConnections: 'idle',
  });
  app.addHook('onSend', async (request: FastifyRequest, reply, payload) => {
    reply.header('x-request-id', request.id);
    reply.header('strict-transport-security', 'max-age=31536000');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
    return payload;
  });
  recordEveryRoute(app);
  app.setErrorHandler((error, request, reply) => sendError(error as Error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('http_not_found_error', `no such API route: ${request.method} ${request.url.split('?')[0]}`)),
  );
  app.setValidatorCompiler(createValidatorCompiler());
  // Answers are checked against their response schema before they are sent (openapi.ts), then
  // written as they are: fastify's schema-driven serializer would silently drop any field a
  // schema does not list, and a field missing from the documentation must not vanish from the API.
  app.setSerializerCompiler(() => (data: unknown) => JSON.stringify(data));
  addFileUploadParser(app);
  options.instrument?.(app);
  await registerOpenApi(app, options.version);
  registerRoutes(app, [...versionRoutes(options.version), ...(options.routes ?? [])], options.authorize ?? refuseAll);
  await app.ready();
  return app;
}
