import type { Clock } from '../core/clock.js';
import type { StoredPolicy } from './policy.js';
import type { PolicyRunState, PolicyStore } from './policy-store.js';
import { dueRuns, nextRunAfter } from './schedule.js';

/**
 * Runs snapshot policies inside the server. Each wake-up ("tick") takes, for every enabled
 * policy, at most one snapshot: the most recent scheduled run it has not served (dueRuns), so
 * after downtime a policy catches up once, never in a burst. The scheduled instant served is
 * persisted per policy after the snapshot is taken (at-least-once: a crash between the two may
 * repeat that one run after restart; `takeSnapshot` gets the scheduled instant so it can
 * recognise a repeat).
 *
 * The timer sleeps until the earliest next run but never longer than `wakeMaxMs` (a minute), so
 * wall-clock jumps and anything missed are noticed within a minute, and no setTimeout exceeds
 * Node's 2^31 ms limit. A policy change re-arms it at once. A run that fails records its error
 * and is not retried: the next scheduled run tries again.
 */

export const WAKE_MAX_MS = 60_000;

export interface TakenSnapshot {
  readonly id: string;
}

export interface PolicySchedulerOptions {
  readonly policies: PolicyStore;
  readonly clock: Clock;
  /** Creates the policy's snapshot (core); `scheduledMs` is the run it serves. */
  readonly takeSnapshot: (policy: StoredPolicy, scheduledMs: number) => Promise<TakenSnapshot | void>;
  readonly setTimer?: (callback: () => void, delayMs: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  readonly wakeMaxMs?: number;
  /** Errors of the scheduler itself (the store failed); a snapshot's failure is recorded instead. */
  readonly onError?: (error: unknown) => void;
}

export interface PolicyStatus {
  readonly id: string;
  readonly enabled: boolean;
  readonly last_run_ms: number | null;
  readonly last_attempt_ms: number | null;
  readonly last_error: string | null;
  readonly last_snapshot_id: string | null;
  /** The next scheduled run; null when disabled. A missed run is taken at the next wake-up. */
  readonly next_run_ms: number | null;
}

export class PolicyScheduler {
  private readonly wakeMaxMs: number;
  private readonly setTimer: (callback: () => void, delayMs: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private timer: unknown = undefined;
  private running = false;
  /** The tick in progress; ticks never overlap. */
  private current: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: PolicySchedulerOptions) {
    this.wakeMaxMs = Math.min(options.wakeMaxMs ?? WAKE_MAX_MS, 2 ** 31 - 1);
    this.setTimer = options.setTimer ?? ((callback, delayMs) => setTimeout(callback, delayMs).unref());
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout));
  }

  /** Catches up (one run per policy at most), then keeps running until `stop`. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.options.policies.onChange(() => this.wake());
    this.wake();
    await this.current;
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /** Runs what is due now. Public for tests and for a manual "run due policies". */
  async tick(): Promise<void> {
    const next = this.current.then(() => this.runDue());
    this.current = next.catch(() => undefined);
    return next;
  }

  async status(policy: StoredPolicy): Promise<PolicyStatus> {
    const state = await this.options.policies.runState(policy.id);
    const nowMs = this.options.clock.nowMs();
    return { id: policy.id, enabled: policy.enabled, ...state, next_run_ms: policy.enabled ? nextRunAfter(policy, Math.max(nowMs, state.last_run_ms ?? 0)) : null };
  }

  private wake(): void {
    if (!this.running) return;
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    void this.tick()
      .catch((error: unknown) => this.options.onError?.(error))
      .then(() => this.arm());
  }

  private async arm(): Promise<void> {
    if (!this.running) return;
    let delayMs = this.wakeMaxMs;
    try {
      const nowMs = this.options.clock.nowMs();
      for (const policy of await this.options.policies.list()) {
        if (!policy.enabled) continue;
        const next = nextRunAfter(policy, nowMs);
        if (next !== null) delayMs = Math.min(delayMs, Math.max(0, next - nowMs));
      }
    } catch (error) {
      this.options.onError?.(error);
    }
    if (!this.running) return;
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      this.wake();
    }, delayMs);
  }

  private async runDue(): Promise<void> {
    for (const policy of await this.options.policies.list()) {
      if (!policy.enabled) continue;
      const state = await this.options.policies.runState(policy.id);
      const sinceMs = Math.max(state.last_run_ms ?? Number.NEGATIVE_INFINITY, policy.baseline_ms);
      const [scheduledMs] = dueRuns(policy, sinceMs, this.options.clock.nowMs());
      if (scheduledMs === undefined) continue;
      await this.options.policies.recordRun(policy.id, await this.run(policy, scheduledMs, state));
    }
  }

  private async run(policy: StoredPolicy, scheduledMs: number, previous: PolicyRunState): Promise<PolicyRunState> {
    const attemptMs = this.options.clock.nowMs();
    try {
      const taken = await this.options.takeSnapshot(policy, scheduledMs);
      return { last_run_ms: scheduledMs, last_attempt_ms: attemptMs, last_error: null, last_snapshot_id: taken?.id ?? previous.last_snapshot_id };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { last_run_ms: scheduledMs, last_attempt_ms: attemptMs, last_error: message, last_snapshot_id: previous.last_snapshot_id };
    }
  }
}
