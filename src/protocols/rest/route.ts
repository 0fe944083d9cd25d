import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { TSchema } from 'typebox';
import type { Privilege } from '../../authz/privileges.js';
import { ApiError } from './errors.js';

/**
 * A management route. Every route declares the privilege it needs; PUBLIC is for the few calls
 * that need no authentication (version, OpenAPI document, login). Routes live in routes/, one file
 * per area, each exporting its list of ApiRoute.
 */
export type ApiApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>;

export const PUBLIC = 'PUBLIC';
/** Any signed-in user, about themselves (who-am-i, change password, logout, their own MFA). */
export const SELF = 'SELF';
/** What a route needs: nothing, a signed-in user, or a privilege of the catalogue (authz/). */
export type RoutePrivilege = typeof PUBLIC | typeof SELF | Privilege;

export interface RouteSchema {
  readonly params?: TSchema;
  readonly querystring?: TSchema;
  readonly body?: TSchema;
  /** One schema per success status (schemas.ts: NoContent for 204, binaryAnswer for bytes). */
  readonly response?: Readonly<Record<number, TSchema>>;
}

export interface ApiRoute {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly privilege: RoutePrivilege;
  readonly summary: string;
  readonly schema?: RouteSchema;
  /**
   * For a body that an area's own module checks as well (settings, policies, keys): runs when the
   * body fails its schema, and throws the error the module gives for it, so the answer keeps the
   * module's error class and its message naming the field. Must not change anything (call the
   * module's pure parse only). If it returns, the schema's own 400 is sent.
   */
  readonly explainInvalidBody?: (request: FastifyRequest) => void | Promise<void>;
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/**
 * Decides whether a request may run a route that needs `privilege`: resolves and throws ApiError
 * 401 or 403 otherwise. Injected so the server does not know how sessions work.
 */
export type Authorizer = (request: FastifyRequest, privilege: string) => Promise<void>;

const registered = new WeakMap<ApiApp, ApiRoute[]>();
const everyRoute = new WeakMap<ApiApp, Array<{ method: string; url: string }>>();

/**
 * Records every route fastify serves, ApiRoutes and the rest (the OpenAPI document, /docs and its
 * assets), so a test can prove that nothing beyond the declared public routes answers without a
 * login. Call before any route is added.
 */
export function recordEveryRoute(app: ApiApp): void {
  const routes: Array<{ method: string; url: string }> = [];
  everyRoute.set(app, routes);
  app.addHook('onRoute', (options) => {
    for (const method of [options.method].flat()) routes.push({ method, url: options.url });
  });
}

/** Every method and URL pattern served by `app` (HEAD included), when recordEveryRoute ran. */
export function servedRoutes(app: ApiApp): ReadonlyArray<{ method: string; url: string }> {
  return everyRoute.get(app) ?? [];
}

/** Every route registered on `app` (the RBAC test walks them all). */
export function registeredRoutes(app: ApiApp): readonly ApiRoute[] {
  return registered.get(app) ?? [];
}

export function registerRoutes(app: ApiApp, routes: readonly ApiRoute[], authorize: Authorizer): void {
  registered.set(app, [...(registered.get(app) ?? []), ...routes]);
  for (const route of routes) {
    const privilege = route.privilege;
    app.route({
      method: route.method,
      url: route.url,
      schema: { ...route.schema, summary: route.summary, ...(privilege === PUBLIC ? {} : { security: [{ bearer: [] }] }), description: `Needs: ${privilege}.` },
      // onRequest: callers are authenticated and authorised before their body is read or validated.
      ...(privilege === PUBLIC ? {} : { onRequest: async (request: FastifyRequest) => authorize(request, privilege) }),
      ...(route.explainInvalidBody === undefined ? { handler: route.handler } : { attachValidation: true, handler: explainingHandler(route, route.explainInvalidBody) }),
    });
  }
}

/** With attachValidation, fastify runs the handler on invalid input: refuse it here first. */
function explainingHandler(route: ApiRoute, explain: (request: FastifyRequest) => void | Promise<void>): ApiRoute['handler'] {
  return async (request, reply) => {
    const invalid = request.validationError;
    if (invalid !== undefined && invalid !== null) {
      if (invalid.validationContext === 'body') await explain(request);
      throw new ApiError(400, 'http_bad_request_error', invalid.message);
    }
    return route.handler(request, reply);
  };
}
