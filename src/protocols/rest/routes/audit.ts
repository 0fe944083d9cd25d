import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Auditor } from '../../../audit/auditor.js';
import type { EventPage, EventQuery } from '../../../audit/local-log.js';
import type { VerifyResult } from '../../../audit/verify.js';
import { publicView, SyslogConfigViewSchema, type SyslogSettings } from '../../../audit/syslog/syslog-config.js';
import type { Clock } from '../../../core/clock.js';
import { callerOf } from '../caller.js';
import { FsError } from '../../../core/errors.js';
import { ApiError, FS_ERROR_STATUS } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { setVersionTag, versionedChange } from './settings-http.js';

/**
 * The audit trail over REST: query (paginated with an opaque `after` cursor), verification of the
 * hash chain, and the syslog sinks. Changing the sinks is itself audited
 * (`audit_set_syslog_config`, with the sinks before and after, without client keys).
 */
export interface AuditRoutesDeps {
  readonly log: { query(query: EventQuery): Promise<EventPage>; verify(): Promise<VerifyResult>; publicKeyPem(): string };
  readonly syslog: SyslogSettings;
  readonly auditor: Auditor;
  readonly clock: Clock;
}

export const EVENTS_LIMIT_MAX = 1_000;
const PROTOCOLS = ['api', 'nfsv3', 'nfsv4.1', 'smb', 's3', 'ftp', 'internal'] as const;

const EventsQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    path_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    protocol: Type.Optional(Type.Union(PROTOCOLS.map((protocol) => Type.Literal(protocol)))),
    operation: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,64}$' })),
    status: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: EVENTS_LIMIT_MAX })),
  },
  { additionalProperties: false },
);

interface EventsQuery {
  from?: string;
  to?: string;
  user?: string;
  path_prefix?: string;
  protocol?: string;
  operation?: string;
  status?: string;
  after?: string;
  limit?: number;
}

function timeOf(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new ApiError(400, 'http_bad_request_error', `${name} is not a date-time`);
  return ms;
}

function auditUserOf(request: FastifyRequest) {
  const caller = callerOf(request);
  return { name: caller.name, uid: caller.principal.uid, id: caller.userId, ...(caller.principal.sid === undefined ? {} : { sid: caller.principal.sid }) };
}

export function auditRoutes(deps: AuditRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/audit/events',
      privilege: 'AUDIT_READ',
      summary: 'Audit events, oldest first, filtered by time [from, to), user, path prefix, protocol, operation and status; `next` is the `after` of the next page.',
      schema: { querystring: EventsQuerySchema },
      handler: async (request) => {
        const query = request.query as EventsQuery;
        const page = await deps.log.query({
          ...(query.from === undefined ? {} : { fromMs: timeOf(query.from, 'from') as number }),
          ...(query.to === undefined ? {} : { toMs: timeOf(query.to, 'to') as number }),
          ...(query.user === undefined ? {} : { user: query.user }),
          ...(query.path_prefix === undefined ? {} : { pathPrefix: query.path_prefix }),
          ...(query.protocol === undefined ? {} : { protocol: query.protocol }),
          ...(query.operation === undefined ? {} : { operation: query.operation }),
          ...(query.status === undefined ? {} : { status: query.status }),
          ...(query.after === undefined ? {} : { afterSeq: Number(query.after) }),
          limit: query.limit ?? 100,
        });
        return {
          events: page.events.map((event) => ({
            seq: event.seq,
            time: new Date(event.time).toISOString(),
            user: event.user,
            client_address: event.clientAddress,
            protocol: event.protocol,
            operation: event.operation,
            status: event.status,
            ...(event.fileId === undefined ? {} : { file_id: event.fileId }),
            ...(event.path === undefined ? {} : { path: event.path }),
            ...(event.targetPath === undefined ? {} : { target_path: event.targetPath }),
            ...(event.details === undefined ? {} : { details: event.details }),
          })),
          ...(page.next === undefined ? {} : { next: String(page.next) }),
        };
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/verify',
      privilege: 'AUDIT_READ',
      summary: 'Walks the hash chain and the signed checkpoints; names the first bad record. `public_key` lets a third party verify an exported trail.',
      handler: async () => {
        const result = await deps.log.verify();
        return { ok: result.ok, records: result.records, ...(result.first_bad === undefined ? {} : { first_bad: result.first_bad }), checkpoints: result.checkpoints, public_key: deps.log.publicKeyPem() };
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/public-key',
      privilege: 'AUDIT_READ',
      summary: "The instance's Ed25519 checkpoint public key (PEM), to verify an exported trail elsewhere.",
      handler: async () => ({ public_key: deps.log.publicKeyPem() }),
    },
    {
      method: 'GET',
      url: '/v1/audit/syslog/config',
      privilege: 'AUDIT_READ',
      summary: 'The syslog sinks (client keys are never returned).',
      schema: { response: { 200: SyslogConfigViewSchema } },
      handler: async (_request, reply) => {
        const current = await deps.syslog.get();
        setVersionTag(reply, current.version);
        return publicView(current.value);
      },
    },
    {
      method: 'PUT',
      url: '/v1/audit/syslog/config',
      privilege: 'AUDIT_WRITE',
      summary: 'Replace the syslog sinks. A sink given without client_key keeps the stored key of the same address, port and client certificate.',
      schema: { response: { 200: SyslogConfigViewSchema } },
      handler: async (request, reply) => {
        const user = auditUserOf(request);
        const before = publicView((await deps.syslog.get()).value);
        let next;
        try {
          next = await versionedChange(request, (options) => deps.syslog.put(request.body, options));
        } catch (error) {
          deps.auditor.emit({ time: deps.clock.nowMs(), user, clientAddress: request.ip, protocol: 'api', operation: 'audit_set_syslog_config', status: error instanceof ApiError ? error.errorClass : error instanceof FsError ? FS_ERROR_STATUS[error.code].errorClass : 'internal_error' });
          throw error;
        }
        const after = publicView(next.value);
        deps.auditor.emit({ time: deps.clock.nowMs(), user, clientAddress: request.ip, protocol: 'api', operation: 'audit_set_syslog_config', status: 'ok', details: { before, after } });
        setVersionTag(reply, next.version);
        return after;
      },
    },
  ];
}
