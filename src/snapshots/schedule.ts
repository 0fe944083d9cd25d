import { minutesOf, WEEKDAYS, type Schedule, type Weekday } from './policy.js';

/**
 * When a snapshot policy runs: pure functions of the schedule, its time zone and an instant (ms
 * since the epoch); no clock is read here.
 *
 * Local wall-clock times become instants like this (the rule of RFC 5545 §3.3.5 and of cron
 * implementations that handle DST):
 * - a time that occurs twice (the fall-back hour) runs at its first occurrence only;
 * - a time that does not exist (the spring-forward gap) runs at the instant the gap ends, once
 *   (02:30 on the day New York springs forward runs at 03:00 EDT).
 * `every` schedules count elapsed time from the window's start, so every hour across the
 * fall-back night runs at 01:00 EDT and again at 01:00 EST, and nothing runs twice at one instant.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** The longest a monthly schedule waits is 62 days; anything else finds its run within 8. */
const DAYS_SCANNED_MAX = 70;

interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** Wall-clock fields of a zone, one Intl formatter per calendar (formatters are costly to build). */
export class ZoneCalendar {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** The zone's offset from UTC at `instantMs`, in ms (whole seconds). */
  offsetMs(instantMs: number): number {
    const wholeSecondsMs = Math.floor(instantMs / 1_000) * 1_000;
    const fields: Record<string, number> = {};
    for (const part of this.format.formatToParts(wholeSecondsMs)) {
      if (part.type !== 'literal') fields[part.type] = Number(part.value);
    }
    const wall = Date.UTC(fields.year ?? 1970, (fields.month ?? 1) - 1, fields.day ?? 1, fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0);
    return wall - wholeSecondsMs;
  }

  localDate(instantMs: number): LocalDate {
    return dateOfWall(instantMs + this.offsetMs(instantMs));
  }

  /** The instant of a local wall-clock time, by the first-occurrence and end-of-gap rules. */
  instantOf(date: LocalDate, minuteOfDay: number): number {
    const wallMs = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * MINUTE_MS;
    const before = this.offsetMs(wallMs - DAY_MS);
    const after = this.offsetMs(wallMs + DAY_MS);
    const matches = [wallMs - before, wallMs - after].filter((instant) => instant + this.offsetMs(instant) === wallMs);
    if (matches.length > 0) return Math.min(...matches);
    // In the gap: the offset grows from `before` to `after` somewhere in (low, high]; find where.
    let low = wallMs - after;
    let high = wallMs - before;
    while (high - low > 1_000) {
      const middle = low + Math.floor((high - low) / 2_000) * 1_000;
      if (this.offsetMs(middle) === before) low = middle;
      else high = middle;
    }
    return high;
  }
}

function dateOfWall(wallMs: number): LocalDate {
  const date = new Date(wallMs);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

function addDays(date: LocalDate, days: number): LocalDate {
  return dateOfWall(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
}

function weekdayOf(date: LocalDate): (typeof WEEKDAYS)[number] {
  return WEEKDAYS[new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay()] ?? 'SUN';
}

function daysInMonth(date: LocalDate): number {
  return new Date(Date.UTC(date.year, date.month, 0)).getUTCDate();
}

/** The runs a schedule starts on local date `date` (an `every` window may end the next day), ascending. */
export function runsStartingOn(schedule: Schedule, calendar: ZoneCalendar, date: LocalDate): number[] {
  if ('daily' in schedule) {
    const days = schedule.daily.days;
    return days === undefined || days.includes(weekdayOf(date)) ? [calendar.instantOf(date, minutesOf(schedule.daily.at))] : [];
  }
  if ('weekly' in schedule) {
    return schedule.weekly.days.includes(weekdayOf(date)) ? [calendar.instantOf(date, minutesOf(schedule.weekly.at))] : [];
  }
  if ('monthly' in schedule) {
    const day = Math.min(schedule.monthly.day_of_month, daysInMonth(date));
    return date.day === day ? [calendar.instantOf(date, minutesOf(schedule.monthly.at))] : [];
  }
  if (schedule.days !== undefined && !schedule.days.includes(weekdayOf(date))) return [];
  const startMinute = minutesOf(schedule.window?.start ?? '00:00');
  const endMinute = minutesOf(schedule.window?.end ?? '24:00');
  const startMs = calendar.instantOf(date, startMinute);
  const endMs = endMinute > startMinute ? calendar.instantOf(date, endMinute) : calendar.instantOf(addDays(date, 1), endMinute);
  const stepMs = ('minutes' in schedule.every ? schedule.every.minutes : schedule.every.hours * 60) * MINUTE_MS;
  const runs: number[] = [];
  for (let instant = startMs; instant <= endMs; instant += stepMs) runs.push(instant);
  return runs;
}

/**
 * The first run strictly after `instantMs`, or null if the schedule never runs again (it always
 * does; null guards a zone database that says otherwise).
 */
export function nextRunAfter(policy: { schedule: Schedule; time_zone: string }, instantMs: number): number | null {
  const calendar = new ZoneCalendar(policy.time_zone);
  // Start a day early: yesterday's window may run past midnight into today.
  let date = addDays(calendar.localDate(instantMs), -1);
  for (let scanned = 0; scanned < DAYS_SCANNED_MAX; scanned++, date = addDays(date, 1)) {
    const found = runsStartingOn(policy.schedule, calendar, date).find((run) => run > instantMs);
    if (found === undefined) continue;
    // A window of one day can still overlap the next day's first run by DST: take the earlier.
    const following = runsStartingOn(policy.schedule, calendar, addDays(date, 1)).find((run) => run > instantMs);
    return following === undefined ? found : Math.min(found, following);
  }
  return null;
}

/** The latest run at or before `instantMs`, or null if there is none within the scan. */
export function latestRunAtOrBefore(policy: { schedule: Schedule; time_zone: string }, instantMs: number): number | null {
  const calendar = new ZoneCalendar(policy.time_zone);
  let date = addDays(calendar.localDate(instantMs), 1);
  const latestOn = (day: LocalDate) => runsStartingOn(policy.schedule, calendar, day).filter((run) => run <= instantMs).at(-1);
  for (let scanned = 0; scanned < DAYS_SCANNED_MAX; scanned++, date = addDays(date, -1)) {
    const found = latestOn(date);
    if (found === undefined) continue;
    const previous = latestOn(addDays(date, -1));
    return previous === undefined ? found : Math.max(found, previous);
  }
  return null;
}

/**
 * The runs due at `nowMs` for a policy whose runs up to `sinceMs` are done (its last run, or the
 * instant it was created or enabled): AT MOST ONE, the most recent missed one. After downtime the
 * scheduler takes one catch-up snapshot, never a burst.
 */
export function dueRuns(policy: { schedule: Schedule; time_zone: string }, sinceMs: number, nowMs: number): number[] {
  if (nowMs <= sinceMs) return [];
  const latest = latestRunAtOrBefore(policy, nowMs);
  return latest !== null && latest > sinceMs ? [latest] : [];
}

/**
 * The longest a schedule goes between two runs, in seconds (DST's hour aside): what the posture's
 * "daily snapshot" check compares with a day. Days a schedule skips count: a daily schedule on
 * Mondays only waits 7 days, an hourly one on weekdays waits over the weekend.
 */
export function longestGapSeconds(schedule: Schedule): number {
  if ('monthly' in schedule) return 31 * DAY_SECONDS;
  if ('daily' in schedule) return longestDayGap(schedule.daily.days) * DAY_SECONDS;
  if ('weekly' in schedule) return longestDayGap(schedule.weekly.days) * DAY_SECONDS;
  const stepMinutes = 'minutes' in schedule.every ? schedule.every.minutes : schedule.every.hours * 60;
  const startMinute = minutesOf(schedule.window?.start ?? '00:00');
  const endMinute = minutesOf(schedule.window?.end ?? '24:00');
  // runsStartingOn: from the window's start, every step up to and including its end (maybe the next day).
  const windowMinutes = endMinute > startMinute ? endMinute - startMinute : endMinute + DAY_MINUTES - startMinute;
  const spanMinutes = Math.floor(windowMinutes / stepMinutes) * stepMinutes;
  const betweenDaysMinutes = longestDayGap(schedule.days) * DAY_MINUTES - spanMinutes;
  return Math.max(spanMinutes > 0 ? stepMinutes : 0, betweenDaysMinutes) * 60;
}

const DAY_SECONDS = 86_400;
const DAY_MINUTES = 1_440;

/** The most days from one run day to the next, cyclically over the week (1 when every day runs). */
function longestDayGap(days: readonly Weekday[] | undefined): number {
  if (days === undefined) return 1;
  const indexes = [...new Set(days.map((day) => WEEKDAYS.indexOf(day)))].sort((a, b) => a - b);
  let longest = 0;
  indexes.forEach((day, position) => {
    const next = indexes[(position + 1) % indexes.length] as number;
    longest = Math.max(longest, (next - day + 7) % 7 || 7);
  });
  return longest;
}
