import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Auditor } from '../../audit/auditor.js';
import type { AuditUser } from '../../audit/events.js';
import { changedFields } from '../../audit/changes.js';
import { callerIfAny } from './caller.js';
import { registeredRoutes, type ApiApp } from './route.js';

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
 * secrets) go in `details.params`. A PUT, PATCH or DELETE of a resource that has a GET at the same
 * URL (settings, users, quotas, file attributes and ACLs, ...) records `details.before` and
 * `details.after` of the fields that changed, read through that GET under the caller's identity
 * just before the handler runs and just after it answered (not atomic with the change: a change
 * made in between by someone else would show in this event too); secrets are redacted
 * (audit/changes.ts). Data events carry the file id, offset and size. The audit configuration audits its own changes, with the sinks
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
  'POST /v1/snapshots/:id/restore': 'snapshots_restore',
  'POST /v1/snapshots/policies': 'snapshots_create_policy',
  'PUT /v1/snapshots/policies/:id': 'snapshots_set_policy',
  'PATCH /v1/snapshots/policies/:id': 'snapshots_modify_policy',
  'DELETE /v1/snapshots/policies/:id': 'snapshots_delete_policy',
  'POST /v1/maintenance/fsck': 'maintenance_run_fsck',
  'PUT /v1/web-ui/settings': 'web_ui_set_settings',
  'PUT /v1/audit/retention': 'audit_set_retention',
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

/** Operations whose events carry no before/after: data, namespace changes, connectivity. */
const STATELESS_OPERATION = /^(fs_(read|write)_data|fs_create|fs_delete|fs_list_directory|fs_read_metadata|rest_)/;
/** Methods that change a resource that may have a previous state. */
const STATEFUL_METHODS = new Set(['PUT', 'PATCH', 'DELETE']);

/**
 * The state of the resource a request changes, read through the GET route at the same URL (the
 * resource's own view, so before and after have its shape), under the caller's identity.
 * Undefined when there is no such route or it cannot be read (the caller may not read it, it is
 * gone): the event then has no before (or after) rather than a guess. The GET handler runs with a
 * reply that sends nothing, so its headers (ETag) never reach the client of the change.
 */
async function readState(app: ApiApp, request: FastifyRequest, url: string): Promise<unknown> {
  const route = registeredRoutes(app).find((candidate) => candidate.method === 'GET' && candidate.url === url);
  if (route === undefined) return undefined;
  let sent: unknown;
  const reply = {
    code: () => reply,
    status: () => reply,
    header: () => reply,
    headers: () => reply,
    type: () => reply,
    removeHeader: () => reply,
    getHeader: () => undefined,
    hasHeader: () => false,
    send: (payload: unknown) => {
      sent = payload;
      return reply;
    },
  };
  try {
    const answer = await route.handler(request, reply as unknown as FastifyReply);
    const state = answer === reply ? sent : answer;
    return state === undefined ? undefined : (JSON.parse(JSON.stringify(state, (_name, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))) as unknown);
  } catch {
    return undefined;
  }
}

/** What the audit hook learnt about a request before its handler ran. */
interface PreState {
  /** The resource before the change (null: it did not exist). */
  before?: unknown;
  /** File id of a data request addressed by path. */
  fileId?: string;
}
const preStates = new WeakMap<FastifyRequest, PreState>();
/** The response body of a create whose event carries the created state (quotas). */
const createdStates = new WeakMap<FastifyRequest, string>();
const clientAddresses = new WeakMap<FastifyRequest, string>();

/** `bytes first-last/size` -> first (RFC 9110 §14.4). */
function rangeStart(header: unknown): number | undefined {
  const match = typeof header === 'string' ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header) : null;
  return match === null ? undefined : Number(match[1]);
}

export function auditApi(app: ApiApp, auditor: Auditor): void {
  // The client's address, taken while its connection is open: Node forgets a socket's remote
  // address once it closes, which a client may do before onResponse has read the after-state.
  app.addHook('onRequest', async (request: FastifyRequest) => {
    clientAddresses.set(request, request.ip);
  });
  // Before and after of metadata and settings changes; the file id of data requests by path.
  app.addHook('preHandler', async (request: FastifyRequest) => {
    const url = request.routeOptions.url;
    if (url === undefined) return;
    const operation = operationOf(request.method, url, request.body);
    if (operation === undefined) return;
    const ref = (request.params as { ref?: unknown } | undefined)?.ref;
    if ((operation === 'fs_read_data' || operation === 'fs_write_data') && typeof ref === 'string' && ref.startsWith('/')) {
      const attributes = (await readState(app, request, '/v1/files/:ref/info/attributes')) as { id?: unknown } | undefined;
      if (typeof attributes?.id === 'string') preStates.set(request, { fileId: attributes.id });
      return;
    }
    if (!STATEFUL_METHODS.has(request.method) || STATELESS_OPERATION.test(operation)) return;
    const before = await readState(app, request, url);
    if (before !== undefined) preStates.set(request, { before });
  });
  // The error class is in the error body (errors.ts sendError); read it as it goes out.
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length < 65_536) {
      try {
        const errorClass = (JSON.parse(payload) as { error_class?: unknown }).error_class;
        if (typeof errorClass === 'string' && /^[a-z0-9_]{1,128}$/.test(errorClass)) errorClasses.set(request, errorClass);
      } catch {
        // Not a JSON error body: the status falls back to the HTTP status.
      }
    } else if (request.method === 'POST' && request.routeOptions.url === '/v1/files/quotas' && typeof payload === 'string' && payload.length < 65_536) {
      createdStates.set(request, payload);
    }
    return payload;
  });
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.routeOptions.url;
    if (url === undefined) return;
    const operation = operationOf(request.method, url, request.body);
    if (operation === undefined) return;
    const caller = callerIfAny(request);
    const body = request.body as { username?: unknown; name?: unknown; target_path?: unknown } | undefined;
    const user: AuditUser =
      caller !== undefined
        ? { name: caller.name, id: caller.userId, uid: caller.principal.uid, ...(caller.principal.sid === undefined ? {} : { sid: caller.principal.sid }) }
        : typeof body?.username === 'string'
          ? { name: body.username.slice(0, 256) }
          : {};
    const { ref, ...params } = (request.params ?? {}) as Record<string, unknown> & { ref?: string };
    // Fastify has already decoded the parameter (`%2Fhome` is `/home`).
    const target = ref === undefined ? undefined : ref.slice(0, PATH_LENGTH_MAX);
    const pre = preStates.get(request);
    const ok = reply.statusCode < 400;
    let path: string | undefined;
    let fileId = pre?.fileId;
    if (target !== undefined) {
      if (target.startsWith('/')) path = operation.startsWith('fs_create') && typeof body?.name === 'string' ? childPath(target, body.name) : target;
      else fileId = target;
    }
    const details: Record<string, unknown> = {};
    if (Object.keys(params).length > 0) details.params = params;
    if (operation === 'fs_read_data') {
      // A Range read answers 206 with Content-Range: the offset is where the range starts.
      const size = Number(reply.getHeader('content-length'));
      if (Number.isSafeInteger(size)) Object.assign(details, { offset: rangeStart(reply.getHeader('content-range')) ?? 0, size });
    } else if (operation === 'fs_write_data') {
      // PUT replaces the content: written from offset 0.
      const size = Number(request.headers['content-length']);
      Object.assign(details, { offset: 0, ...(Number.isSafeInteger(size) ? { size } : {}) });
    }
    if (pre !== undefined && 'before' in pre) {
      const after = !ok ? pre.before : request.method === 'DELETE' ? null : await readState(app, request, url);
      if (ok) Object.assign(details, changedFields(pre.before, after ?? null));
      else details.before = changedFields(pre.before, null).before;
    } else if (ok && createdStates.has(request)) {
      Object.assign(details, changedFields(null, parseJson(createdStates.get(request) as string)));
    }
    auditor.emit({
      time: Date.now(),
      user,
      clientAddress: clientAddresses.get(request) ?? request.ip ?? '',
      protocol: 'api',
      operation,
      status: ok ? 'ok' : (errorClasses.get(request) ?? `http_${reply.statusCode}`),
      ...(fileId === undefined ? {} : { fileId }),
      ...(path === undefined ? {} : { path: path.slice(0, PATH_LENGTH_MAX) }),
      // Where a request wrote, when its body names it (a snapshot restore's target).
      ...(typeof body?.target_path === 'string' ? { targetPath: body.target_path.slice(0, PATH_LENGTH_MAX) } : {}),
      ...(Object.keys(details).length === 0 ? {} : { details }),
    });
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function childPath(parent: string, name: string): string {
  return `${parent.endsWith('/') ? parent : `${parent}/`}${name}`;
}
