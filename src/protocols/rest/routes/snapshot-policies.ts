import Type from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FsError } from '../../../core/errors.js';
import type { PolicyScheduler } from '../../../snapshots/policy-scheduler.js';
import type { PolicyStore } from '../../../snapshots/policy-store.js';
import type { StoredPolicy } from '../../../snapshots/policy.js';
import type { ApiRoute } from '../route.js';
import { setVersionTag, versionedChange } from './settings-http.js';

/**
 * Snapshot policies (`/v1/snapshots/policies`, Qumulo's `/v3/snapshots/policies`) and their run
 * status. Bodies are checked strictly by the policy module: an unknown field, a wrong type, an
 * unknown time zone or a malformed schedule is a 400 naming the field. Answers carry an ETag;
 * PUT, PATCH and DELETE honour If-Match.
 */
export interface SnapshotPolicyRoutesDeps {
  readonly policies: PolicyStore;
  readonly scheduler: Pick<PolicyScheduler, 'status'>;
}

const IdParams = { params: Type.Object({ id: Type.String({ maxLength: 20 }) }) };
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
      handler: async () => ({ entries: (await policies.list()).map(presentPolicy) }),
    },
    {
      method: 'POST',
      url: '/v1/snapshots/policies',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Create a snapshot policy: {name, source_path | source_file_id, schedule, time_zone?, ttl?, enabled?, lock_key_ref?}.',
      handler: async (request, reply) => answer(reply.code(201), await policies.create(request.body)),
    },
    {
      method: 'GET',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_READ',
      summary: 'One snapshot policy; the ETag header carries its version.',
      schema: IdParams,
      handler: async (request, reply) => answer(reply, await existing(idOf(request))),
    },
    {
      method: 'PUT',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Replace a snapshot policy (the whole record; fields left out take their defaults).',
      schema: IdParams,
      handler: async (request, reply) => answer(reply, await versionedChange(request, (options) => policies.replace(idOf(request), request.body, options))),
    },
    {
      method: 'PATCH',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Change some fields of a snapshot policy.',
      schema: IdParams,
      handler: async (request, reply) => answer(reply, await versionedChange(request, (options) => policies.update(idOf(request), request.body, options))),
    },
    {
      method: 'DELETE',
      url: '/v1/snapshots/policies/:id',
      privilege: 'SNAPSHOT_WRITE',
      summary: 'Delete a snapshot policy (its snapshots stay).',
      schema: IdParams,
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
      schema: IdParams,
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
