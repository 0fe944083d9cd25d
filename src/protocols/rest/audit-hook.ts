import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Auditor } from '../../audit/auditor.js';
import { callerIfAny } from './caller.js';
import type { ApiApp } from './route.js';

/**
 * Management actions and file access through the REST API become audit events (issue 7): every
 * login (ok or not), every change (POST/PUT/PATCH/DELETE) and every file read. Operation names
 * are Qumulo's for file access and `<area>_<verb>` for management (`users_create`,
 * `auth_roles_members_create`, ...). The audit configuration audits its own changes.
 */
const FILE_OPERATIONS: Readonly<Record<string, string>> = {
  'GET /v1/files/:ref/data': 'fs_read_data',
  'PUT /v1/files/:ref/data': 'fs_write_data',
  'GET /v1/files/:ref/entries': 'fs_list_directory',
  'POST /v1/files/:ref/entries': 'fs_create',
  'GET /v1/files/:ref/info/attributes': 'fs_read_metadata',
  'PATCH /v1/files/:ref/info/attributes': 'fs_write_metadata',
  'GET /v1/files/:ref/info/acl': 'fs_read_metadata',
  'PUT /v1/files/:ref/info/acl': 'fs_write_metadata',
  'DELETE /v1/files/:ref': 'fs_delete',
  'POST /v1/files/quotas': 'fs_set_quota',
  'PUT /v1/files/quotas/:id': 'fs_set_quota',
  'DELETE /v1/files/quotas/:id': 'fs_set_quota',
};

const VERBS: Readonly<Record<string, string>> = { POST: 'create', PUT: 'set', PATCH: 'modify', DELETE: 'delete' };
const SELF_AUDITED = new Set(['PUT /v1/audit/syslog/config']);

export function operationOf(method: string, url: string): string | undefined {
  const route = `${method} ${url}`;
  if (route === 'POST /v1/session/login') return 'rest_login';
  const file = FILE_OPERATIONS[route];
  if (file !== undefined) return file;
  const verb = VERBS[method];
  if (verb === undefined || SELF_AUDITED.has(route)) return undefined;
  const area = url
    .replace(/^\/v1\//, '')
    .split('/')
    .filter((segment) => segment !== '' && !segment.startsWith(':'))
    .join('_')
    .replace(/-/g, '_')
    .toLowerCase();
  return `${area}_${verb}`.slice(0, 64);
}

export function auditApi(app: ApiApp, auditor: Auditor): void {
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.routeOptions.url;
    if (url === undefined) return;
    const operation = operationOf(request.method, url);
    if (operation === undefined) return;
    const caller = callerIfAny(request);
    const attemptedUser = (request.body as { username?: unknown } | undefined)?.username;
    const params = request.params as { ref?: string } | undefined;
    auditor.emit({
      time: Date.now(),
      user:
        caller !== undefined
          ? { name: caller.name, id: caller.userId, uid: caller.principal.uid, ...(caller.principal.sid === undefined ? {} : { sid: caller.principal.sid }) }
          : typeof attemptedUser === 'string'
            ? { name: attemptedUser.slice(0, 256) }
            : {},
      clientAddress: request.ip,
      protocol: 'api',
      operation,
      status: reply.statusCode < 400 ? 'ok' : `http_${reply.statusCode}`,
      ...(params?.ref === undefined ? {} : { path: decodedRef(params.ref) }),
    });
  });
}

function decodedRef(ref: string): string {
  try {
    return decodeURIComponent(ref).slice(0, 4096);
  } catch {
    return ref.slice(0, 4096);
  }
}
