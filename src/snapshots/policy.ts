import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { checkSchema } from '../settings/settings-store.js';

/**
 * Snapshot policies, modelled on Qumulo's (`/v3/snapshots/policies`: one creation schedule in an
 * IANA time zone, a time to live, enabled, an optional lock key). This module only defines and
 * checks the record; policy-store.ts keeps them and schedule.ts computes when they run.
 *
 * A schedule is exactly one of:
 * - `{every: {minutes: N} | {hours: N}, window?: {start, end}, days?}`: every N minutes or hours
 *   of elapsed time from the window's start, up to and including its end, on the chosen days (the
 *   day a window starts on decides; a window whose end is not after its start runs past
 *   midnight). No window means the whole day (00:00 to 24:00).
 * - `{daily: {at, days?}}`: once a day at `at` (local time), on the chosen days (default all).
 * - `{weekly: {at, days}}`: at `at` on each of the chosen days.
 * - `{monthly: {at, day_of_month}}`: day 1-31; a month that is shorter runs on its last day.
 * Times are `HH:MM` local wall-clock times in `time_zone`; a window may end at `24:00`.
 */

export const POLICY_NAME_CHARS_MAX = 64;
export const POLICIES_MAX = 1_000;
export const EVERY_MINUTES_MAX = 1_440;
export const EVERY_HOURS_MAX = 24;
/** The shortest time to live: a snapshot that expires sooner than this is a mistake. */
export const TTL_SECONDS_MIN = 60;
/** 100 years, Qumulo's "<n<100> months" rounded up. */
export const TTL_SECONDS_MAX = 100 * 366 * 24 * 3_600;
export const PATH_CHARS_MAX = 32_760;

export const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const TIME = '^([01][0-9]|2[0-3]):[0-5][0-9]$';
const TimeSchema = Type.String({ pattern: TIME, description: 'HH:MM, 24-hour local time' });
const WindowEndSchema = Type.String({ pattern: `${TIME.slice(0, -1)}|^24:00$`, description: 'HH:MM, or 24:00 for the end of the day' });
const DaysSchema = Type.Array(Type.Enum([...WEEKDAYS]), { minItems: 1, maxItems: 7, uniqueItems: true });

const EverySchema = Type.Object(
  {
    every: Type.Union([
      Type.Object({ minutes: Type.Integer({ minimum: 1, maximum: EVERY_MINUTES_MAX }) }, { additionalProperties: false }),
      Type.Object({ hours: Type.Integer({ minimum: 1, maximum: EVERY_HOURS_MAX }) }, { additionalProperties: false }),
    ]),
    window: Type.Optional(Type.Object({ start: TimeSchema, end: WindowEndSchema }, { additionalProperties: false })),
    days: Type.Optional(DaysSchema),
  },
  { additionalProperties: false },
);
const DailySchema = Type.Object({ daily: Type.Object({ at: TimeSchema, days: Type.Optional(DaysSchema) }, { additionalProperties: false }) }, { additionalProperties: false });
const WeeklySchema = Type.Object({ weekly: Type.Object({ at: TimeSchema, days: DaysSchema }, { additionalProperties: false }) }, { additionalProperties: false });
const MonthlySchema = Type.Object(
  { monthly: Type.Object({ at: TimeSchema, day_of_month: Type.Integer({ minimum: 1, maximum: 31 }) }, { additionalProperties: false }) },
  { additionalProperties: false },
);

export const ScheduleSchema = Type.Union([EverySchema, DailySchema, WeeklySchema, MonthlySchema]);
export type Schedule = Static<typeof ScheduleSchema>;

/** What a client sends to create or replace a policy (PUT takes the whole record). */
export const PolicyInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: POLICY_NAME_CHARS_MAX }),
    source_path: Type.Optional(Type.String({ minLength: 1, maxLength: PATH_CHARS_MAX })),
    source_file_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    schedule: Type.Unknown(),
    time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    ttl: Type.Optional(Type.Union([Type.Integer({ minimum: TTL_SECONDS_MIN, maximum: TTL_SECONDS_MAX }), Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
    lock_key_ref: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type PolicyInput = Static<typeof PolicyInputSchema>;

/** A stored policy; `lock_key_ref` holds the key's id (a name given on input is resolved). */
export interface SnapshotPolicy {
  readonly name: string;
  readonly source_path?: string;
  readonly source_file_id?: string;
  readonly schedule: Schedule;
  readonly time_zone: string;
  /** Seconds each snapshot lives, or null to keep it until deleted. */
  readonly ttl: number | null;
  readonly enabled: boolean;
  readonly lock_key_ref: string | null;
}

export interface StoredPolicy extends SnapshotPolicy {
  readonly id: string;
  readonly version: number;
  /** When the policy was created, ms since the epoch. */
  readonly created_ms: number;
  /**
   * Runs before this instant are never caught up: it moves to "now" whenever the schedule, the
   * time zone or `enabled` changes, so enabling a policy does not fire for a slot it missed
   * while disabled.
   */
  readonly baseline_ms: number;
}

/** The IANA name, canonicalised (`utc` -> `UTC`); throws InvalidArgument for an unknown zone. */
export function checkTimeZone(zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new FsError('InvalidArgument', `snapshot_policy.time_zone ${JSON.stringify(zone)} is not an IANA time zone (for example Europe/London or UTC)`);
  }
}

export function minutesOf(time: string): number {
  const [hours, minutes] = time.split(':');
  return Number(hours) * 60 + Number(minutes);
}

export function checkSchedule(input: unknown): Schedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FsError('InvalidArgument', 'snapshot_policy.schedule must be an object with one of every, daily, weekly, monthly');
  }
  const kinds = ['every', 'daily', 'weekly', 'monthly'].filter((kind) => Object.hasOwn(input, kind));
  const [kind] = kinds;
  if (kinds.length !== 1 || kind === undefined) {
    throw new FsError('InvalidArgument', `snapshot_policy.schedule must have exactly one of every, daily, weekly, monthly (it has ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
  }
  const schemas = { every: EverySchema, daily: DailySchema, weekly: WeeklySchema, monthly: MonthlySchema } as const;
  checkSchema(schemas[kind as keyof typeof schemas], input, 'snapshot_policy.schedule');
  const schedule = input as Schedule;
  if ('every' in schedule && schedule.window !== undefined && minutesOf(schedule.window.start) === minutesOf(schedule.window.end) % 1_440) {
    throw new FsError('InvalidArgument', 'snapshot_policy.schedule.window start and end are the same time; for the whole day leave the window out');
  }
  return structuredClone(schedule);
}

/**
 * Checks a whole policy input (create and PUT) and completes it with defaults: time_zone UTC,
 * ttl null, enabled true, no lock key. The lock key reference is returned as given; the store
 * resolves it. Throws FsError InvalidArgument naming the field.
 */
export function parsePolicyInput(input: unknown): SnapshotPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FsError('InvalidArgument', 'snapshot_policy must be a JSON object');
  checkSchema(PolicyInputSchema, input, 'snapshot_policy');
  const body = input as PolicyInput;
  if ((body.source_path === undefined) === (body.source_file_id === undefined)) {
    throw new FsError('InvalidArgument', 'snapshot_policy needs exactly one of source_path and source_file_id');
  }
  if (body.source_path !== undefined && !body.source_path.startsWith('/')) {
    throw new FsError('InvalidArgument', 'snapshot_policy.source_path must be an absolute path');
  }
  return {
    name: body.name,
    ...(body.source_path !== undefined ? { source_path: body.source_path } : {}),
    ...(body.source_file_id !== undefined ? { source_file_id: body.source_file_id } : {}),
    schedule: checkSchedule(body.schedule),
    time_zone: checkTimeZone(body.time_zone ?? 'UTC'),
    ttl: body.ttl ?? null,
    enabled: body.enabled ?? true,
    lock_key_ref: body.lock_key_ref ?? null,
  };
}

/** A PATCH: the fields given replace the current ones (a source given replaces the other source). */
export function mergePolicyPatch(current: SnapshotPolicy, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new FsError('InvalidArgument', 'snapshot_policy must be a JSON object');
  const base: Record<string, unknown> = { ...current };
  if (Object.hasOwn(patch, 'source_path') || Object.hasOwn(patch, 'source_file_id')) {
    delete base.source_path;
    delete base.source_file_id;
  }
  return { ...base, ...patch };
}
