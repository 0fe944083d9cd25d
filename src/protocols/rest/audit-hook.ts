import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Auditor } from '../../audit/auditor.js';
import type { AuditUser } from '../../audit/events.js';
import { callerIfAny } from './caller.js';
import type { ApiApp } from './route.js';

/**
 * Management actions and file access through the REST API become audit events (issue 7): every
 * login and logout (ok or not), every change (POST/PUT/PATCH/DELETE) and every file read.
 *
 * Operation names: Qumulo's for file access (fs_read_data, fs_create_file, ...) and connectivity
 * (rest_login); `<area>_<verb>` for management. The important actions have a name in
 * MANAGEMENT_OPERATIONS (users_create, auth_assign_role, encryption_rotate_keys, ...); any other
 * change falls back to the route's fixed segments and the method's verb (`PUT /v1/nfs/settings`
 * -> `nfs_settings_set`), so no new route goes unaudited.
 *
 * Status is `ok` or the error class the caller received (`login_failed_error`,
 * `http_forbidden_error`, `fs_access_denied_error`, ...). The request body is never recorded: a
 * login records only the user name it tried; route parameters (ids and names from the URL, never
 * secrets) go in `details.params`. The audit configuration audits its own changes, with the sinks
 * before and after (routes/audit.ts), so its route is skipped here.
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

/** `POST /v1/files/:ref/entries` by `action`. */
const CREATE_OPERATIONS: Readonly<Record<string, string>> = {
  CREATE_FILE: 'fs_create_file',
  CREATE_DIRECTORY: 'fs_create_directory',
  CREATE_SYMLINK: 'fs_create_symlink',
};

/** Management actions by route: `<area>_<verb>[_<object>]`. */
export const MANAGEMENT_OPERATIONS: Readonly<Record<string, string>> = {
  'POST /v1/session/login': 'rest_login',
  'POST /v1/session/logout': 'rest_logout',
  'POST /v1/session/change-password': 'session_change_password',
  'POST /v1/session/mfa/enroll': 'session_mfa_enroll',
  'POST /v1/session/mfa/confirm': 'session_mfa_confirm',
  'POST /v1/session/mfa/disable': 'session_mfa_disable',
  'POST /v1/session/mfa/recovery-codes': 'session_mfa_create_recovery_codes',
  'POST /v1/session/s3-access-keys': 's3_create_access_key',
  'DELETE /v1/session/s3-access-keys/:id': 's3_delete_access_key',
  'POST /v1/users': 'users_create',
  'PATCH /v1/users/:id': 'users_modify',
  'PUT /v1/users/:id/password': 'users_set_password',
  'DELETE /v1/users/:id': 'users_delete',
  'DELETE /v1/users/:id/mfa': 'users_reset_mfa',
  'POST /v1/groups': 'groups_create',
  'PATCH /v1/groups/:id': 'groups_modify',
  'DELETE /v1/groups/:id': 'groups_delete',
  'POST /v1/groups/:id/members': 'groups_add_member',
  'DELETE /v1/groups/:id/members/:member_id': 'groups_remove_member',
  'POST /v1/auth/roles': 'auth_create_role',
  'PATCH /v1/auth/roles/:name': 'auth_modify_role',
  'DELETE /v1/auth/roles/:name': 'auth_delete_role',
  'POST /v1/auth/roles/:name/members': 'auth_assign_role',
  'DELETE /v1/auth/roles/:name/members/:member': 'auth_unassign_role',
  'POST /v1/auth/access-tokens': 'auth_create_access_token',
  'DELETE /v1/auth/access-tokens/:id': 'auth_delete_access_token',
  'POST /v1/encryption/rotate-keys': 'encryption_rotate_keys',
  'PUT /v1/security/mfa-policy': 'security_set_mfa_policy',
  'PUT /v1/security/tls/certificate': 'security_set_tls_certificate',
  'POST /v1/security/keys': 'security_create_key',
  'PATCH /v1/security/keys/:ref': 'security_modify_key',
  'DELETE /v1/security/keys/:ref': 'security_delete_key',
  'POST /v1/security/keys/:ref/key-replacement-challenge': 'security_create_key_replacement_challenge',
  'POST /v1/security/keys/:ref/replace': 'security_replace_key',
  'PUT /v1/network/access-rules': 'network_set_access_rules',
  'POST /v1/s3/access-keys': 's3_create_access_key',
  'DELETE /v1/s3/access-keys/:id': 's3_delete_access_key',
  'POST /v1/s3/buckets': 's3_create_bucket',
  'DELETE /v1/s3/buckets/:name': 's3_delete_bucket',
  'POST /v1/snapshots': 'snapshots_create',
  'PATCH /v1/snapshots/:id': 'snapshots_modify',
  'DELETE /v1/snapshots/:id': 'snapshots_delete',
  'POST /v1/snapshots/:id/lock': 'snapshots_lock',
  'POST /v1/snapshots/:id/unlock': 'snapshots_unlock',
  'POST /v1/snapshots/policies': 'snapshots_create_policy',
  'PUT /v1/snapshots/policies/:id': 'snapshots_set_policy',
  'PATCH /v1/snapshots/policies/:id': 'snapshots_modify_policy',
  'DELETE /v1/snapshots/policies/:id': 'snapshots_delete_policy',
  'POST /v1/maintenance/fsck': 'maintenance_run_fsck',
  'PUT /v1/web-ui/settings': 'web_ui_set_settings',
};

const VERBS: Readonly<Record<string, string>> = { POST: 'create', PUT: 'set', PATCH: 'modify', DELETE: 'delete' };
const SELF_AUDITED = new Set(['PUT /v1/audit/syslog/config']);
const PATH_LENGTH_MAX = 4096;

/** The operation for a route (its URL pattern), or undefined when the request is not audited. */
export function operationOf(method: string, url: string, body?: unknown): string | undefined {
  const route = `${method} ${url}`;
  if (route === 'POST /v1/files/:ref/entries') {
    const action = (body as { action?: unknown } | undefined)?.action;
    return (typeof action === 'string' ? CREATE_OPERATIONS[action] : undefined) ?? 'fs_create';
  }
  const named = FILE_OPERATIONS[route] ?? MANAGEMENT_OPERATIONS[route];
  if (named !== undefined) return named;
  const verb = VERBS[method];
  if (verb === undefined || SELF_AUDITED.has(route)) return undefined;
  const area = url
    .replace(/^\/v1\//, '')
    .split('/')
    .filter((segment) => segment !== '' && !segment.startsWith(':'))
    .join('_')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
  return `${area}_${verb}`.slice(0, 64);
}

const errorClasses = new WeakMap<FastifyRequest, string>();

export function auditApi(app: ApiApp, auditor: Auditor): void {
  // The error class is in the error body (errors.ts sendError); read it as it goes out.
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length < 65_536) {
      try {
        const errorClass = (JSON.parse(payload) as { error_class?: unknown }).error_class;
        if (typeof errorClass === 'string' && /^[a-z0-9_]{1,128}$/.test(errorClass)) errorClasses.set(request, errorClass);
      } catch {
        // Not a JSON error body: the status falls back to the HTTP status.
      }
    }
    return payload;
  });
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.routeOptions.url;
    if (url === undefined) return;
    const operation = operationOf(request.method, url, request.body);
    if (operation === undefined) return;
    const caller = callerIfAny(request);
    const body = request.body as { username?: unknown; name?: unknown } | undefined;
    const user: AuditUser =
      caller !== undefined
        ? { name: caller.name, id: caller.userId, uid: caller.principal.uid, ...(caller.principal.sid === undefined ? {} : { sid: caller.principal.sid }) }
        : typeof body?.username === 'string'
          ? { name: body.username.slice(0, 256) }
          : {};
    const { ref, ...params } = (request.params ?? {}) as Record<string, unknown> & { ref?: string };
    // Fastify has already decoded the parameter (`%2Fhome` is `/home`).
    const target = ref === undefined ? undefined : ref.slice(0, PATH_LENGTH_MAX);
    let path: string | undefined;
    let fileId: string | undefined;
    if (target !== undefined) {
      if (target.startsWith('/')) path = operation.startsWith('fs_create') && typeof body?.name === 'string' ? childPath(target, body.name) : target;
      else fileId = target;
    }
    const details: Record<string, unknown> = {};
    if (Object.keys(params).length > 0) details.params = params;
    if (operation === 'fs_write_data' || operation === 'fs_read_data') {
      const size = Number(operation === 'fs_write_data' ? request.headers['content-length'] : reply.getHeader('content-length'));
      if (Number.isSafeInteger(size)) Object.assign(details, { offset: 0, size });
    }
    auditor.emit({
      time: Date.now(),
      user,
      clientAddress: request.ip,
      protocol: 'api',
      operation,
      status: reply.statusCode < 400 ? 'ok' : (errorClasses.get(request) ?? `http_${reply.statusCode}`),
      ...(fileId === undefined ? {} : { fileId }),
      ...(path === undefined ? {} : { path: path.slice(0, PATH_LENGTH_MAX) }),
      ...(Object.keys(details).length === 0 ? {} : { details }),
    });
  });
}

function childPath(parent: string, name: string): string {
  return `${parent.endsWith('/') ? parent : `${parent}/`}${name}`;
}
