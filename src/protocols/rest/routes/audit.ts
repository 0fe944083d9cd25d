import Type from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Auditor } from '../../../audit/auditor.js';
import type { EventPage, EventQuery } from '../../../audit/local-log.js';
import type { VerifyResult } from '../../../audit/verify.js';
import { AuditRetentionSchema, type AuditRetentionSettings } from '../../../audit/retention-config.js';
import { publicView, SyslogConfigSchema, SyslogConfigViewSchema, syslogConfigDefinition, type SyslogSettings } from '../../../audit/syslog/syslog-config.js';
import type { Clock } from '../../../core/clock.js';
import { callerOf } from '../caller.js';
import { FsError } from '../../../core/errors.js';
import { ApiError, FS_ERROR_STATUS } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { answerSchema, withoutDefaults } from '../schemas.js';
import { setVersionTag, versionedChange } from './settings-http.js';

/**
 * The audit trail over REST: query (paginated with an opaque `after` cursor), verification of the
 * hash chain, and the syslog sinks. Changing the sinks is itself audited
 * (`audit_set_syslog_config`, with the sinks before and after, without client keys).
 */
export interface AuditRoutesDeps {
  readonly log: { query(query: EventQuery): Promise<EventPage>; verify(): Promise<VerifyResult>; publicKeyPem(): string };
  readonly syslog: SyslogSettings;
  /** Retention by age and size; the local log's trim reads it (management.ts). */
  readonly retention: AuditRetentionSettings;
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

const EventSchema = Type.Object({
  seq: Type.Integer(),
  time: Type.String({ description: 'RFC 3339' }),
  user: Type.Object({ name: Type.Optional(Type.String()), uid: Type.Optional(Type.Integer()), sid: Type.Optional(Type.String()), id: Type.Optional(Type.String()) }),
  client_address: Type.String(),
  protocol: Type.String(),
  operation: Type.String(),
  status: Type.String({ description: 'ok, or the error class the caller received' }),
  file_id: Type.Optional(Type.String()),
  path: Type.Optional(Type.String()),
  target_path: Type.Optional(Type.String()),
  details: Type.Optional(Type.Object({}, { additionalProperties: true })),
});
const EventsAnswer = Type.Object({ events: Type.Array(EventSchema), next: Type.Optional(Type.String({ description: 'the `after` of the next page' })) });
const VerifyAnswer = Type.Object({
  ok: Type.Boolean(),
  records: Type.Integer({ description: 'Records checked (up to and including the first bad one).' }),
  first_bad: Type.Optional(Type.Object({ seq: Type.Integer(), reason: Type.String() })),
  checkpoints: Type.Integer(),
  public_key: Type.String({ description: 'PEM, Ed25519' }),
});
const PublicKeyAnswer = Type.Object({ public_key: Type.String({ description: 'PEM, Ed25519' }) });
const SyslogAnswer = answerSchema(SyslogConfigViewSchema);

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

function auditRefusal(deps: AuditRoutesDeps, request: FastifyRequest, error: unknown): void {
  const status = error instanceof ApiError ? error.errorClass : error instanceof FsError ? FS_ERROR_STATUS[error.code].errorClass : 'internal_error';
  deps.auditor.emit({ time: deps.clock.nowMs(), user: auditUserOf(request), clientAddress: request.ip, protocol: 'api', operation: 'audit_set_syslog_config', status });
}

export function auditRoutes(deps: AuditRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/audit/events',
      privilege: 'AUDIT_READ',
      summary: 'Audit events, oldest first, filtered by time [from, to), user, path prefix, protocol, operation and status; `next` is the `after` of the next page.',
      schema: { querystring: EventsQuerySchema, response: { 200: EventsAnswer } },
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
            client_address: event.clientAddress ?? '',
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
      schema: { response: { 200: VerifyAnswer } },
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
      schema: { response: { 200: PublicKeyAnswer } },
      handler: async () => ({ public_key: deps.log.publicKeyPem() }),
    },
    {
      method: 'GET',
      url: '/v1/audit/retention',
      privilege: 'AUDIT_READ',
      summary: 'How long the local audit log keeps records: by age (days) and by the bytes they take; the oldest go first, only as a whole verified prefix.',
      schema: { response: { 200: answerSchema(AuditRetentionSchema) } },
      handler: async (_request, reply) => {
        const current = await deps.retention.get();
        setVersionTag(reply, current.version);
        return current.value;
      },
    },
    {
      method: 'PUT',
      url: '/v1/audit/retention',
      privilege: 'AUDIT_WRITE',
      summary: 'Set the retention of the local audit log: {max_age_days, max_size_bytes}, both required. Audited as audit_set_retention with before and after.',
      schema: { body: AuditRetentionSchema, response: { 200: answerSchema(AuditRetentionSchema) } },
      handler: async (request, reply) => {
        const next = await versionedChange(request, (options) => deps.retention.put(request.body, options));
        setVersionTag(reply, next.version);
        return next.value;
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/syslog/config',
      privilege: 'AUDIT_READ',
      summary: 'The syslog sinks (client keys are never returned).',
      schema: { response: { 200: SyslogAnswer } },
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
      schema: { body: withoutDefaults(SyslogConfigSchema) as typeof SyslogConfigSchema, response: { 200: SyslogAnswer } },
      // A refused change is audited too, whether the schema or the module refused it.
      explainInvalidBody: async (request) => {
        try {
          syslogConfigDefinition.parse(request.body, (await deps.syslog.get()).value);
        } catch (error) {
          auditRefusal(deps, request, error);
          throw error;
        }
        auditRefusal(deps, request, new ApiError(400, 'http_bad_request_error', 'invalid'));
      },
      handler: async (request, reply) => {
        const user = auditUserOf(request);
        const before = publicView((await deps.syslog.get()).value);
        let next;
        try {
          next = await versionedChange(request, (options) => deps.syslog.put(request.body, options));
        } catch (error) {
          auditRefusal(deps, request, error);
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
