import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { OpContext } from '../core/context.js';
import { assertOperationName, COALESCED_OPERATIONS, eventFromContext, userLabel, type AuditEvent, type AuditRecordEvent, type EventFields } from './events.js';

/**
 * Where events go after the local log numbered them. `deliver` must not block: a sink queues (and
 * spills) on its own. `backlog` is what metrics and the posture check publish.
 */
export interface AuditSink {
  readonly id: string;
  deliver(record: AuditRecordEvent): void;
  /**
   * Called synchronously when the auditor starts delivering to the sink: records numbered up to
   * now will not be delivered to it, later ones will (a replaying sink takes its boundary here).
   */
  attached?(): void;
  backlog(): SinkBacklog;
  /** Stops reconnecting; what is still queued stays in the spool for the next start. */
  close(): Promise<void>;
}

export interface SinkBacklog {
  readonly queuedMessages: number;
  readonly spooledMessages: number;
  readonly connected: boolean;
  readonly deliveredMessages: number;
  /** Since when (ms since the epoch) the sink has had no connection; absent while connected. */
  readonly disconnectedSinceMs?: number;
  /** Records still to be replayed from the local log (after a restart). */
  readonly replayRecords?: number;
}

/** The local log as the auditor sees it: numbers and persists a batch, in order. */
export interface AuditAppender {
  append(events: readonly AuditEvent[]): Promise<AuditRecordEvent[]>;
}

export interface AuditorOptions {
  readonly log: AuditAppender;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Events waiting for the local log; beyond it events are dropped and counted (never blocks). */
  readonly queueEventsMax?: number;
  /** Records per local-log transaction. */
  readonly batchEventsMax?: number;
  /**
   * How long the writer waits for more events before it appends a batch that is not full: one
   * transaction and one signed head per batch instead of per event keeps the audit cost of a busy
   * protocol low (bench/audit/s3.sh). Events reach the local log at most this much later. 0 = off.
   */
  readonly gatherMs?: number;
  /** Repeated identical reads within this window become one event with `details.count`. 0 = off. */
  readonly coalesceWindowMs?: number;
  readonly coalesceEntriesMax?: number;
}

interface Pending {
  event: AuditEvent;
  count: number;
  firstMs: number;
  /** Data reads: the span [offset, end) they covered and the bytes they read in all. */
  range?: { offset: number; end: number; size: number };
}

/**
 * Accepts events from every layer without waiting for I/O: `emit` puts the event on a bounded
 * queue; one pump writes batches to the local log (which assigns the sequence numbers) and then
 * hands each numbered record to every sink. Order is preserved end to end.
 *
 * Coalescing (documented in docs/audit.md): reads (COALESCED_OPERATIONS) by the same user, from the
 * same address and protocol, on the same file with the same status, within `coalesceWindowMs` of
 * the first one, are one event whose `details.count` says how many; the event carries the first
 * read's time and is written when the window closes. Writes are never coalesced.
 */
export class Auditor {
  private readonly log: AuditAppender;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly queueEventsMax: number;
  private readonly batchEventsMax: number;
  private readonly gatherMs: number;
  private readonly coalesceWindowMs: number;
  private readonly coalesceEntriesMax: number;
  private readonly sinks = new Map<string, AuditSink>();
  private readonly pending = new Map<string, Pending>();
  private queue: AuditEvent[] = [];
  private pumping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private closed = false;

  constructor(options: AuditorOptions) {
    this.log = options.log;
    this.clock = options.clock;
    this.logger = options.logger;
    this.queueEventsMax = options.queueEventsMax ?? 100_000;
    this.batchEventsMax = options.batchEventsMax ?? 512;
    this.gatherMs = options.gatherMs ?? 20;
    this.coalesceWindowMs = options.coalesceWindowMs ?? 1_000;
    this.coalesceEntriesMax = options.coalesceEntriesMax ?? 10_000;
  }

  /** Records an event; returns at once. Throws only for a malformed operation name (a bug). */
  emit(event: AuditEvent): void {
    assertOperationName(event.operation);
    if (this.closed) {
      this.drop(event);
      return;
    }
    if (this.coalesceWindowMs > 0 && COALESCED_OPERATIONS.has(event.operation)) {
      this.coalesce(event);
      return;
    }
    this.enqueue(event);
  }

  /** `emit` for an operation run under `ctx`. */
  emitFor(ctx: OpContext, fields: EventFields): void {
    this.emit(eventFromContext(ctx, this.clock.nowMs(), fields));
  }

  addSink(sink: AuditSink): void {
    this.sinks.set(sink.id, sink);
    sink.attached?.();
  }

  async removeSink(id: string): Promise<void> {
    const sink = this.sinks.get(id);
    this.sinks.delete(id);
    await sink?.close();
  }

  sinkBacklogs(): Record<string, SinkBacklog> {
    return Object.fromEntries([...this.sinks].map(([id, sink]) => [id, sink.backlog()]));
  }

  /** Events not yet in the local log, and events dropped because the queue was full. */
  backlog(): { queuedEvents: number; coalescingEvents: number; droppedEvents: number } {
    return { queuedEvents: this.queue.length, coalescingEvents: this.pending.size, droppedEvents: this.dropped };
  }

  /** Writes out coalesced reads whose window has closed (all of them with `all`), then waits for the pump. */
  async flush(all = true): Promise<void> {
    const nowMs = this.clock.nowMs();
    for (const [key, entry] of this.pending) {
      if (all || nowMs - entry.firstMs >= this.coalesceWindowMs) {
        this.pending.delete(key);
        this.enqueue(withCount(entry));
      }
    }
    while (this.pumping !== undefined) await this.pumping;
  }

  /** Flushes, then closes the sinks. Later events are dropped and counted. */
  async close(): Promise<void> {
    await this.flush(true);
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.sinks.values()].map((sink) => sink.close()));
  }

  private coalesce(event: AuditEvent): void {
    const key = JSON.stringify([userLabel(event.user), event.user.uid, event.clientAddress, event.protocol, event.operation, event.status, event.fileId, event.path]);
    const entry = this.pending.get(key);
    if (entry !== undefined && event.time - entry.firstMs < this.coalesceWindowMs) {
      entry.count++;
      const range = rangeOf(event);
      if (entry.range !== undefined && range !== undefined) {
        entry.range = { offset: Math.min(entry.range.offset, range.offset), end: Math.max(entry.range.end, range.end), size: entry.range.size + range.size };
      }
      return;
    }
    if (entry !== undefined) this.enqueue(withCount(entry));
    else if (this.pending.size >= this.coalesceEntriesMax) {
      const oldest = this.pending.keys().next().value as string;
      this.enqueue(withCount(this.pending.get(oldest) as Pending));
      this.pending.delete(oldest);
    }
    this.pending.delete(key);
    const range = rangeOf(event);
    this.pending.set(key, { event, count: 1, firstMs: event.time, ...(range === undefined ? {} : { range }) });
    this.timer ??= setInterval(() => void this.flush(false), Math.max(50, Math.floor(this.coalesceWindowMs / 2))).unref();
  }

  private enqueue(event: AuditEvent): void {
    if (this.queue.length >= this.queueEventsMax) {
      this.drop(event);
      return;
    }
    this.queue.push(event);
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private drop(event: AuditEvent): void {
    this.dropped++;
    // Logged at most once per power of two, so a flood does not flood the log as well.
    if ((this.dropped & (this.dropped - 1)) === 0) this.logger.error({ droppedEvents: this.dropped, operation: event.operation }, 'audit queue full or closed: events dropped');
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.gatherMs > 0 && !this.closed && this.queue.length < this.batchEventsMax) {
        await new Promise<void>((resolve) => setTimeout(resolve, this.gatherMs));
      }
      const batch = this.queue.splice(0, this.batchEventsMax);
      let records: AuditRecordEvent[];
      try {
        records = await this.log.append(batch);
      } catch (error) {
        // The local log is the trail's source of truth; if it cannot write, nothing downstream
        // would be verifiable either. Put the batch back and retry after a pause.
        this.logger.error({ err: error, events: batch.length }, 'audit log append failed; retrying');
        this.queue.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        if (this.closed) return;
        continue;
      }
      for (const record of records) for (const sink of this.sinks.values()) sink.deliver(record);
    }
  }
}

/**
 * Coalesced data reads keep where they read: `offset` is the lowest offset, `end_offset` the end
 * of the highest range, `size` the bytes read by all of them together.
 */
function withCount(entry: Pending): AuditEvent {
  if (entry.count === 1) return entry.event;
  const range = entry.range === undefined ? {} : { offset: entry.range.offset, size: entry.range.size, end_offset: entry.range.end };
  return { ...entry.event, details: { ...entry.event.details, ...range, count: entry.count } };
}

function rangeOf(event: AuditEvent): { offset: number; end: number; size: number } | undefined {
  const offset = event.details?.offset;
  const size = event.details?.size;
  return typeof offset === 'number' && typeof size === 'number' ? { offset, end: offset + size, size } : undefined;
}
