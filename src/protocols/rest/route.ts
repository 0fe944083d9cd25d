import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { TSchema } from 'typebox';

/**
 * A management route. Every route declares the privilege it needs; PUBLIC is for the few calls
 * that need no authentication (version, OpenAPI document, login). Routes live in routes/, one file
 * per area, each exporting its list of ApiRoute.
 */
export type ApiApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>;

export const PUBLIC = 'PUBLIC';
/** Privilege names are defined by the RBAC issue (authz/); a string until then. */
export type RoutePrivilege = typeof PUBLIC | (string & { readonly privilegeName?: never });

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

export function registerRoutes(app: ApiApp, routes: readonly ApiRoute[], authorize: Authorizer): void {
  for (const route of routes) {
    const privilege = route.privilege;
    app.route({
      method: route.method,
      url: route.url,
      schema: { ...route.schema, summary: route.summary },
      ...(privilege === PUBLIC ? {} : { preHandler: async (request: FastifyRequest) => authorize(request, privilege) }),
      handler: route.handler,
    });
  }
}
