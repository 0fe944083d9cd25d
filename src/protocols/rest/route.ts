import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { TSchema } from 'typebox';
import type { Privilege } from '../../authz/privileges.js';

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
  readonly response?: Readonly<Record<number, TSchema>>;
}

export interface ApiRoute {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly privilege: RoutePrivilege;
  readonly summary: string;
  readonly schema?: RouteSchema;
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/**
 * Decides whether a request may run a route that needs `privilege`: resolves and throws ApiError
 * 401 or 403 otherwise. Injected so the server does not know how sessions work.
 */
export type Authorizer = (request: FastifyRequest, privilege: string) => Promise<void>;

const registered = new WeakMap<ApiApp, ApiRoute[]>();

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
      handler: route.handler,
    });
  }
}
