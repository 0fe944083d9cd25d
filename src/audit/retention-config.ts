import Type, { type Static } from 'typebox';
import { checkSchema, type SettingsStore, type SingletonDefinition, type Versioned } from '../settings/settings-store.js';
import { DEFAULT_RETENTION, type RetentionPolicy } from './local-log.js';

/**
 * `/v1/audit/retention` (issue 7 item 2, "retention by age and size"): `{max_age_days,
 * max_size_bytes}`, stored as a settings singleton (tag 0x0e). Records older than `max_age_days`
 * and, while the stored records take more than `max_size_bytes`, the oldest ones are trimmed, only
 * ever as a whole verified prefix ending at a checkpoint (local-log.ts `trim`). Bounds: a day to
 * 100 years; 1 MiB (a few thousand events: less would trim what a SIEM outage still needs) to 1 PiB.
 * Both fields are required on PUT: a partial body is refused rather than half-applied.
 */
export const RETENTION_AGE_DAYS_MIN = 1;
export const RETENTION_AGE_DAYS_MAX = 36_500;
export const RETENTION_SIZE_BYTES_MIN = 1024 ** 2;
export const RETENTION_SIZE_BYTES_MAX = 1024 ** 5;
const DAY_MS = 86_400_000;

export const AuditRetentionSchema = Type.Object(
  {
    max_age_days: Type.Integer({ minimum: RETENTION_AGE_DAYS_MIN, maximum: RETENTION_AGE_DAYS_MAX, description: 'records older than this many days are removed (default 90)' }),
    max_size_bytes: Type.Integer({ minimum: RETENTION_SIZE_BYTES_MIN, maximum: RETENTION_SIZE_BYTES_MAX, description: 'the oldest records are removed while the log takes more bytes than this (default 4 GiB)' }),
  },
  { additionalProperties: false },
);
export type AuditRetention = Static<typeof AuditRetentionSchema>;

export const auditRetentionDefinition: SingletonDefinition<AuditRetention> = {
  tag: 0x0e,
  title: 'audit retention',
  defaults: () => ({ max_age_days: DEFAULT_RETENTION.ageMaxMs / DAY_MS, max_size_bytes: DEFAULT_RETENTION.sizeMaxBytes }),
  parse: (input) => {
    checkSchema(AuditRetentionSchema, input, 'retention');
    return input as AuditRetention;
  },
};

export function retentionPolicy(retention: AuditRetention): RetentionPolicy {
  return { ageMaxMs: retention.max_age_days * DAY_MS, sizeMaxBytes: retention.max_size_bytes };
}

export class AuditRetentionSettings {
  constructor(private readonly settings: SettingsStore) {}
  get(): Promise<Versioned<AuditRetention>> {
    return this.settings.get(auditRetentionDefinition);
  }
  put(input: unknown, options?: { ifVersion?: number }): Promise<Versioned<AuditRetention>> {
    return this.settings.put(auditRetentionDefinition, input, options);
  }
  async policy(): Promise<RetentionPolicy> {
    return retentionPolicy((await this.get()).value);
  }
}
