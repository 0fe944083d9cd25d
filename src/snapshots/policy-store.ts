import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { WriteOptions } from '../settings/settings-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { mergePolicyPatch, parsePolicyInput, POLICIES_MAX, type SnapshotPolicy, type StoredPolicy } from './policy.js';
import { RecordTable, SnapshotTag } from './record-table.js';
import type { KeyUsage } from './security-keys.js';

/**
 * Snapshot policies in the metadata store, with a version per policy (If-Match) and names unique.
 * The scheduler's per-policy state (last run, last error) is kept apart, so a run does not change
 * the policy's version under an administrator who is editing it.
 */

export interface PolicyRunState {
  /** The scheduled instant of the last run served (taken or failed), ms since the epoch. */
  readonly last_run_ms: number | null;
  /** When that run actually happened. */
  readonly last_attempt_ms: number | null;
  readonly last_error: string | null;
  readonly last_snapshot_id: string | null;
}

export const NO_RUNS: PolicyRunState = { last_run_ms: null, last_attempt_ms: null, last_error: null, last_snapshot_id: null };

export interface PolicyStoreOptions {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /**
   * Resolves a `lock_key_ref` (id or name) to a key id that may lock (exists, not disabled);
   * SecurityKeyStore.resolveForLocking. Throws NotFound or InvalidArgument.
   */
  readonly resolveLockKey: (ref: string) => Promise<{ readonly id: string }>;
}

type PolicyRecord = Omit<StoredPolicy, 'id'>;
export type PolicyChangeListener = () => void;

export class PolicyStore {
  private readonly table = new RecordTable<PolicyRecord>(SnapshotTag.policies, POLICIES_MAX);
  private readonly runs = new RecordTable<PolicyRunState>(SnapshotTag.policyRuns, POLICIES_MAX);
  private readonly listeners = new Set<PolicyChangeListener>();

  constructor(private readonly options: PolicyStoreOptions) {}

  async list(): Promise<StoredPolicy[]> {
    const records = await this.options.metadata.read((tx) => this.table.list(tx));
    return records.map((record) => ({ id: record.id, ...record.value }));
  }

  async get(id: string): Promise<StoredPolicy | undefined> {
    const record = await this.options.metadata.read((tx) => this.table.get(tx, id));
    return record === undefined ? undefined : { id, ...record };
  }

  async create(input: unknown): Promise<StoredPolicy> {
    const policy = await this.resolve(parsePolicyInput(input));
    const nowMs = this.options.clock.nowMs();
    const created = await this.options.metadata.write(async (tx) => {
      this.checkNameUnique(await this.table.list(tx), policy.name);
      const id = await this.table.nextId(tx, 'snapshot policy');
      const record: PolicyRecord = { ...policy, version: 1, created_ms: nowMs, baseline_ms: nowMs };
      this.table.put(tx, id, record);
      this.runs.delete(tx, id);
      return { id, ...record };
    });
    this.changed();
    return created;
  }

  /** PUT: the whole policy (fields left out take their defaults). */
  async replace(id: string, input: unknown, options?: WriteOptions): Promise<StoredPolicy> {
    return this.change(id, () => input, options);
  }

  /** PATCH: the fields given change, the others keep their values. */
  async update(id: string, patch: unknown, options?: WriteOptions): Promise<StoredPolicy> {
    return this.change(id, (current) => mergePolicyPatch(current, patch), options);
  }

  async delete(id: string, options?: WriteOptions): Promise<void> {
    await this.options.metadata.write(async (tx) => {
      const current = await this.table.get(tx, id);
      if (current === undefined) throw new FsError('NotFound', `no snapshot policy ${id}`);
      checkVersion(id, current.version, options);
      this.table.delete(tx, id);
      this.runs.delete(tx, id);
    });
    this.changed();
  }

  /** The policies that lock with key `keyId`, for the key store's usage check. */
  async usagesOf(keyId: string): Promise<KeyUsage[]> {
    return (await this.list()).filter((policy) => policy.lock_key_ref === keyId).map((policy) => ({ type: 'snapshot_policy', id: policy.id }));
  }

  async runState(id: string): Promise<PolicyRunState> {
    return (await this.options.metadata.read((tx) => this.runs.get(tx, id))) ?? NO_RUNS;
  }

  /** Records a run; ignored if the policy was deleted meanwhile. */
  async recordRun(id: string, state: PolicyRunState): Promise<void> {
    await this.options.metadata.write(async (tx) => {
      if ((await this.table.get(tx, id)) !== undefined) this.runs.put(tx, id, state);
    });
  }

  /** Calls `listener` after every change of a policy (the scheduler re-arms). Returns an unsubscriber. */
  onChange(listener: PolicyChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async change(id: string, build: (current: SnapshotPolicy) => unknown, options?: WriteOptions): Promise<StoredPolicy> {
    const before = await this.get(id);
    if (before === undefined) throw new FsError('NotFound', `no snapshot policy ${id}`);
    const policy = await this.resolve(parsePolicyInput(build(policyFields(before))));
    const nowMs = this.options.clock.nowMs();
    const changed = await this.options.metadata.write(async (tx) => {
      const current = await this.table.get(tx, id);
      if (current === undefined) throw new FsError('NotFound', `no snapshot policy ${id}`);
      checkVersion(id, current.version, options ?? { ifVersion: before.version });
      this.checkNameUnique((await this.table.list(tx)).filter((record) => record.id !== id), policy.name);
      const timingChanged =
        JSON.stringify(current.schedule) !== JSON.stringify(policy.schedule) || current.time_zone !== policy.time_zone || current.enabled !== policy.enabled;
      const record: PolicyRecord = { ...policy, version: current.version + 1, created_ms: current.created_ms, baseline_ms: timingChanged ? nowMs : current.baseline_ms };
      this.table.put(tx, id, record);
      return { id, ...record };
    });
    this.changed();
    return changed;
  }

  private async resolve(policy: SnapshotPolicy): Promise<SnapshotPolicy> {
    if (policy.lock_key_ref === null) return policy;
    try {
      const key = await this.options.resolveLockKey(policy.lock_key_ref);
      return { ...policy, lock_key_ref: key.id };
    } catch (error) {
      if (error instanceof FsError && error.code === 'NotFound') throw new FsError('InvalidArgument', `snapshot_policy.lock_key_ref: ${error.message}`);
      throw error;
    }
  }

  private checkNameUnique(records: ReadonlyArray<{ id: string; value: PolicyRecord }>, name: string): void {
    if (records.some((record) => record.value.name === name)) throw new FsError('Exists', `a snapshot policy named ${JSON.stringify(name)} exists`);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function checkVersion(id: string, actual: number, options: WriteOptions | undefined): void {
  if (options?.ifVersion !== undefined && options.ifVersion !== actual) {
    throw new FsError('Conflict', `snapshot policy ${id} changed since version ${options.ifVersion} (now ${actual}); read it again and retry`);
  }
}

/** The client-facing fields of a stored policy (what PATCH merges into). */
export function policyFields(policy: StoredPolicy): SnapshotPolicy {
  return {
    name: policy.name,
    ...(policy.source_path !== undefined ? { source_path: policy.source_path } : {}),
    ...(policy.source_file_id !== undefined ? { source_file_id: policy.source_file_id } : {}),
    schedule: policy.schedule,
    time_zone: policy.time_zone,
    ttl: policy.ttl,
    enabled: policy.enabled,
    lock_key_ref: policy.lock_key_ref,
  };
}
