import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Schedule } from './policy.js';
import { dueRuns, latestRunAtOrBefore, longestGapSeconds, nextRunAfter } from './schedule.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The next `count` runs strictly after `fromIso`. */
function runs(schedule: Schedule, timeZone: string, fromIso: string, count: number): string[] {
  const out: string[] = [];
  let instant = at(fromIso);
  for (let index = 0; index < count; index++) {
    const next = nextRunAfter({ schedule, time_zone: timeZone }, instant);
    assert.ok(next !== null);
    out.push(iso(next) ?? '');
    instant = next;
  }
  return out;
}

describe('schedule: nextRunAfter', () => {
  const cases: Array<{ title: string; schedule: Schedule; zone: string; from: string; expected: string[] }> = [
    {
      title: 'daily 02:30 in New York runs at 03:00 EDT once on the spring-forward day (2026-03-08)',
      schedule: { daily: { at: '02:30' } },
      zone: 'America/New_York',
      from: '2026-03-07T00:00:00Z',
      expected: ['2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'],
    },
    {
      title: 'daily 01:30 in New York runs once on the fall-back day (2026-11-01), at the first 01:30 (EDT)',
      schedule: { daily: { at: '01:30' } },
      zone: 'America/New_York',
      from: '2026-10-31T00:00:00Z',
      expected: ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    },
    {
      title: 'daily 01:30 in London runs at 02:00 BST once on the spring-forward day (2026-03-29)',
      schedule: { daily: { at: '01:30' } },
      zone: 'Europe/London',
      from: '2026-03-28T00:00:00Z',
      expected: ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    },
    {
      title: 'daily 01:15 in London runs once on the fall-back day (2026-10-25), at 01:15 BST',
      schedule: { daily: { at: '01:15' } },
      zone: 'Europe/London',
      from: '2026-10-24T12:00:00Z',
      expected: ['2026-10-25T00:15:00.000Z', '2026-10-26T01:15:00.000Z'],
    },
    {
      title: 'every hour across the New York fall-back night counts elapsed time: 01:00 EDT and 01:00 EST both run, nothing twice',
      schedule: { every: { hours: 1 }, window: { start: '00:00', end: '03:00' } },
      zone: 'America/New_York',
      from: '2026-11-01T03:00:00Z',
      expected: ['2026-11-01T04:00:00.000Z', '2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z', '2026-11-01T08:00:00.000Z', '2026-11-02T05:00:00.000Z'],
    },
    {
      title: 'every hour across the London spring-forward night skips the missing hour',
      schedule: { every: { hours: 1 }, window: { start: '00:00', end: '03:00' } },
      zone: 'Europe/London',
      from: '2026-03-28T23:00:00Z',
      expected: ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T23:00:00.000Z'],
    },
    {
      title: 'every 30 minutes in a window that wraps past midnight (23:00-00:30), on the day the window starts',
      schedule: { every: { minutes: 30 }, window: { start: '23:00', end: '00:30' }, days: ['FRI'] },
      zone: 'UTC',
      from: '2026-01-01T00:00:00Z',
      expected: ['2026-01-02T23:00:00.000Z', '2026-01-02T23:30:00.000Z', '2026-01-03T00:00:00.000Z', '2026-01-03T00:30:00.000Z', '2026-01-09T23:00:00.000Z'],
    },
    {
      title: 'monthly on day 31 runs on the last day of February and of 30-day months',
      schedule: { monthly: { at: '12:00', day_of_month: 31 } },
      zone: 'UTC',
      from: '2026-01-15T00:00:00Z',
      expected: ['2026-01-31T12:00:00.000Z', '2026-02-28T12:00:00.000Z', '2026-03-31T12:00:00.000Z', '2026-04-30T12:00:00.000Z'],
    },
    {
      title: 'monthly on day 30 in a leap year February runs on the 29th',
      schedule: { monthly: { at: '00:00', day_of_month: 30 } },
      zone: 'UTC',
      from: '2028-02-01T00:00:00Z',
      expected: ['2028-02-29T00:00:00.000Z', '2028-03-30T00:00:00.000Z'],
    },
    {
      title: 'weekly on Monday and Thursday at 18:00 New York time',
      schedule: { weekly: { at: '18:00', days: ['MON', 'THU'] } },
      zone: 'America/New_York',
      from: '2026-03-05T00:00:00Z',
      expected: ['2026-03-05T23:00:00.000Z', '2026-03-09T22:00:00.000Z', '2026-03-12T22:00:00.000Z'],
    },
    {
      title: 'daily on weekdays only skips the weekend',
      schedule: { daily: { at: '09:00', days: ['MON', 'TUE', 'WED', 'THU', 'FRI'] } },
      zone: 'UTC',
      from: '2026-01-09T10:00:00Z',
      expected: ['2026-01-12T09:00:00.000Z', '2026-01-13T09:00:00.000Z'],
    },
    {
      title: 'every 15 minutes without a window runs around the clock',
      schedule: { every: { minutes: 15 } },
      zone: 'Europe/London',
      from: '2026-06-01T23:50:00Z',
      expected: ['2026-06-02T00:00:00.000Z', '2026-06-02T00:15:00.000Z'],
    },
  ];
  for (const testCase of cases) {
    it(testCase.title, () => {
      assert.deepEqual(runs(testCase.schedule, testCase.zone, testCase.from, testCase.expected.length), testCase.expected);
    });
  }

  it('the run is strictly after the instant given', () => {
    const policy = { schedule: { daily: { at: '12:00' } } as Schedule, time_zone: 'UTC' };
    assert.equal(iso(nextRunAfter(policy, at('2026-05-05T12:00:00Z'))), '2026-05-06T12:00:00.000Z');
    assert.equal(iso(latestRunAtOrBefore(policy, at('2026-05-05T12:00:00Z'))), '2026-05-05T12:00:00.000Z');
  });
});

describe('schedule: dueRuns', () => {
  const hourly = { schedule: { every: { hours: 1 } } as Schedule, time_zone: 'America/New_York' };

  it('after a week of downtime, one catch-up run: the most recent missed one', () => {
    const due = dueRuns(hourly, at('2026-03-01T10:00:00Z'), at('2026-03-08T15:20:00Z'));
    assert.deepEqual(due.map(iso), ['2026-03-08T15:00:00.000Z']);
  });

  it('nothing is due when the last run is the latest scheduled one', () => {
    assert.deepEqual(dueRuns(hourly, at('2026-03-08T15:00:00Z'), at('2026-03-08T15:59:59Z')), []);
  });

  it('a run exactly at now is due', () => {
    assert.deepEqual(dueRuns(hourly, at('2026-03-08T14:00:00Z'), at('2026-03-08T15:00:00Z')).map(iso), ['2026-03-08T15:00:00.000Z']);
  });

  it('downtime across the spring-forward gap yields the 03:00 EDT run once', () => {
    const daily = { schedule: { daily: { at: '02:30' } } as Schedule, time_zone: 'America/New_York' };
    assert.deepEqual(dueRuns(daily, at('2026-03-07T07:30:00Z'), at('2026-03-08T08:00:00Z')).map(iso), ['2026-03-08T07:00:00.000Z']);
    assert.deepEqual(dueRuns(daily, at('2026-03-08T07:00:00Z'), at('2026-03-08T23:00:00Z')), []);
  });

  it('across the fall-back night a daily 01:30 is due once, not again at the second 01:30', () => {
    const daily = { schedule: { daily: { at: '01:30' } } as Schedule, time_zone: 'America/New_York' };
    const first = dueRuns(daily, at('2026-10-31T05:30:00Z'), at('2026-11-01T05:45:00Z'));
    assert.deepEqual(first.map(iso), ['2026-11-01T05:30:00.000Z']);
    assert.deepEqual(dueRuns(daily, at('2026-11-01T05:30:00Z'), at('2026-11-01T06:45:00Z')), []);
  });

  it('a monthly policy down for two months catches up only the latest month', () => {
    const monthly = { schedule: { monthly: { at: '00:00', day_of_month: 31 } } as Schedule, time_zone: 'Europe/London' };
    assert.deepEqual(dueRuns(monthly, at('2026-01-01T00:00:00Z'), at('2026-03-15T00:00:00Z')).map(iso), ['2026-02-28T00:00:00.000Z']);
  });
});

describe('schedule: longestGapSeconds', () => {
  const HOUR = 3_600;
  const DAY = 24 * HOUR;

  it('counts the days a daily or weekly schedule skips', () => {
    assert.equal(longestGapSeconds({ daily: { at: '02:00' } }), DAY);
    assert.equal(longestGapSeconds({ daily: { at: '02:00', days: ['MON'] } }), 7 * DAY);
    assert.equal(longestGapSeconds({ daily: { at: '02:00', days: ['MON', 'TUE', 'WED', 'THU', 'FRI'] } }), 3 * DAY, 'Friday to Monday');
    assert.equal(longestGapSeconds({ weekly: { at: '02:00', days: ['SAT', 'SUN'] } }), 6 * DAY, 'Sunday to Saturday');
    assert.equal(longestGapSeconds({ monthly: { at: '02:00', day_of_month: 1 } }), 31 * DAY);
  });

  it('an every schedule waits its step within a day, and from its last run to the next day it runs', () => {
    assert.equal(longestGapSeconds({ every: { hours: 1 } }), HOUR);
    assert.equal(longestGapSeconds({ every: { hours: 7 } }), 7 * HOUR, 'runs at 0, 7, 14, 21 h: the step is the longest wait');
    assert.equal(longestGapSeconds({ every: { minutes: 30 }, window: { start: '09:00', end: '17:00' } }), 16 * HOUR, '17:00 to 09:00');
    assert.equal(longestGapSeconds({ every: { hours: 1 }, days: ['MON'] }), 7 * DAY - 24 * HOUR, 'Monday 24:00 to the next Monday 00:00');
    assert.equal(longestGapSeconds({ every: { hours: 1 }, window: { start: '22:00', end: '02:00' }, days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] }), 20 * HOUR, 'overnight window');
  });
});
