import Type from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FsError } from '../../../core/errors.js';
import type { PolicyScheduler } from '../../../snapshots/policy-scheduler.js';
import type { PolicyStore } from '../../../snapshots/policy-store.js';
import { mergePolicyPatch, parsePolicyInput, PolicyInputSchema, ScheduleSchema, type StoredPolicy } from '../../../snapshots/policy.js';
import type { ApiRoute } from '../route.js';
import { answerSchema, NoContent } from '../schemas.js';
import { setVersionTag, versionedChange } from './settings-http.js';

/**
 * Snapshot policies (`/v1/snapshots/policies`, Qumulo's `/v3/snapshots/policies`) and their run
 * status. Bodies are checked strictly against their schema and by the policy module, whose error
 * is the answer: an unknown field, a wrong type, an unknown time zone or a malformed schedule is a
 * 400 naming the field. Answers carry an ETag;
 * PUT, PATCH and DELETE honour If-Match.
 */
export interface SnapshotPolicyRoutesDeps {
  readonly policies: PolicyStore;
  readonly scheduler: Pick<PolicyScheduler, 'status'>;
}

const IdParams = { params: Type.Object({ id: Type.String({ maxLength: 20 }) }) };

/** The body of POST and PUT: the module's input schema, with the schedule's shape spelled out. */
const PolicyBody = Type.Object({ ...PolicyInputSchema.properties, schedule: ScheduleSchema }, { additionalProperties: false });
const PolicyPatchBody = Type.Partial(PolicyBody);
const PolicySchema = answerSchema(Type.Object({
  id: Type.String(),
  name: Type.String(),
  source_path: Type.Optional(Type.String()),
  source_file_id: Type.Optional(Type.String()),
  schedule: ScheduleSchema,
  time_zone: Type.String({ description: 'IANA time zone' }),
  ttl: Type.Union([Type.Integer(), Type.Null()], { description: 'Seconds each snapshot lives; null keeps it until deleted.' }),
  enabled: Type.Boolean(),
  lock_key_ref: Type.Union([Type.String(), Type.Null()], { description: 'The id of the key that locks its snapshots.' }),
  created: Type.Union([Type.String(), Type.Null()]),
}));
const PolicyStatusSchema = Type.Object({
  id: Type.String(),
  enabled: Type.Boolean(),
  last_run: Type.Union([Type.String(), Type.Null()]),
  last_attempt: Type.Union([Type.String(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  last_snapshot_id: Type.Union([Type.String(), Type.Null()]),
  next_run: Type.Union([Type.String(), Type.Null()]),
});
/** The policy module checks every body itself: its error names the field. */
const explainPolicy = (request: FastifyRequest) => void parsePolicyInput(request.body);
const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function presentPolicy(policy: StoredPolicy): Record<string, unknown> {
  return {
    id: policy.id,
    name: policy.name,
    ...(policy.source_path !== undefined ? { source_path: policy.source_path } : {}),
    ...(policy.source_file_id !== undefined ? { source_file_id: policy.source_file_id } : {}),
    schedule: policy.schedule,
    time_zone: policy.time_zone,
    ttl: policy.ttl,
    enabled: policy.enabled,
    lock_key_ref: policy.lock_key_ref,
    created: iso(policy.created_ms),
  };
}

export function snapshotPolicyRoutes(deps: SnapshotPolicyRoutesDeps): ApiRoute[] {
  const { policies } = deps;
  const answer = (reply: FastifyReply, policy: StoredPolicy) => {
    setVersionTag(reply, policy.version);
    return presentPolicy(policy);
  };
  const existing = async (id: string) => {
    const policy = await policies.get(id);
    if (policy === undefined) throw new FsError('NotFound', `no snapshot policy ${id}`);
    return policy;
  };
  return [
    {
      method: 'GET',
      url: '/v1/snapshots/policies',
      privilege: 'SNAPSHOT_READ',
      summary: 'Every snapshot policy.',
      schema: { response: { 200: Type.Object({ entries: Type.Array(PolicySchema) }) } },
      handler: async () => ({ entries: (await policies.list()).map(presentPolicy) }),
    },
    {
      method: 'POST',
      url: '/v1/snapshots/policies',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Create a snapshot policy: {name, source_path | source_file_id, schedule, time_zone?, ttl?, enabled?, lock_key_ref?}.',
      schema: { body: PolicyBody, response: { 201: PolicySchema } },
      explainInvalidBody: explainPolicy,
      handler: async (request, reply) => answer(reply.code(201), await policies.create(request.body)),
    },
    {
      method: 'GET',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_READ',
      summary: 'One snapshot policy; the ETag header carries its version.',
      schema: { ...IdParams, response: { 200: PolicySchema } },
      handler: async (request, reply) => answer(reply, await existing(idOf(request))),
    },
    {
      method: 'PUT',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Replace a snapshot policy (the whole record; fields left out take their defaults).',
      schema: { ...IdParams, body: PolicyBody, response: { 200: PolicySchema } },
      explainInvalidBody: explainPolicy,
      handler: async (request, reply) => answer(reply, await versionedChange(request, (options) => policies.replace(idOf(request), request.body, options))),
    },
    {
      method: 'PATCH',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Change some fields of a snapshot policy.',
      schema: { ...IdParams, body: PolicyPatchBody, response: { 200: PolicySchema } },
      explainInvalidBody: async (request) => {
        const current = await policies.get(idOf(request));
        if (current !== undefined) parsePolicyInput(mergePolicyPatch(current, request.body));
      },
      handler: async (request, reply) => answer(reply, await versionedChange(request, (options) => policies.update(idOf(request), request.body, options))),
    },
    {
      method: 'DELETE',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Delete a snapshot policy (its snapshots stay).',
      schema: { ...IdParams, response: { 204: NoContent } },
      handler: async (request, reply) => {
        await versionedChange(request, (options) => policies.delete(idOf(request), options));
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: '/v1/snapshots/policies/:id/status',
      privilege: 'SNAPSHOT_READ',
      summary: 'A policy\'s runs: last run, last error, last snapshot, next run.',
      schema: { ...IdParams, response: { 200: PolicyStatusSchema } },
      handler: async (request) => {
        const status = await deps.scheduler.status(await existing(idOf(request)));
        return {
          id: status.id,
          enabled: status.enabled,
          last_run: iso(status.last_run_ms),
          last_attempt: iso(status.last_attempt_ms),
          last_error: status.last_error,
          last_snapshot_id: status.last_snapshot_id,
          next_run: iso(status.next_run_ms),
        };
      },
    },
  ];
}
