import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * A small metrics registry that renders the OpenMetrics 1.0 text format
 * (https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md). Counters,
 * gauges and histograms with fixed buckets; names are `enclave_*` with the unit last.
 *
 * Cardinality is bounded twice: callers label with patterns (a route template, never a raw URL),
 * and every family holds at most `seriesMax` label sets; label sets beyond that are folded into
 * one series whose label values are all OVERFLOW_LABEL_VALUE, so a bug cannot grow memory without
 * bound. No module-level state: the composition root makes one registry and passes it around.
 */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const OVERFLOW_LABEL_VALUE = '_other';
export const SERIES_MAX_DEFAULT = 2_000;
/** Request durations: 1 ms to 10 s, roughly x2.5 per step. */
export const DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Labels = Readonly<Record<string, string>>;

interface FamilyOptions {
  /** The family name: without `_total` for counters; ends with the unit when it has one. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  /** OpenMetrics unit (`seconds`, `bytes`); the name must end with `_<unit>`. */
  readonly unit?: string;
}

/** What the registry needs of a family to render it. */
interface RenderedFamily {
  readonly name: string;
  readonly help: string;
  readonly unit: string | undefined;
  readonly type: 'counter' | 'gauge' | 'histogram';
  samples(): string[];
}

abstract class Family<Series> implements RenderedFamily {
  readonly name: string;
  readonly help: string;
  readonly unit: string | undefined;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Labels; value: Series }>();
  readonly #seriesMax: number;

  constructor(options: FamilyOptions, seriesMax: number) {
    if (!NAME_PATTERN.test(options.name) || options.name.endsWith('_total')) throw new Error(`metric name ${options.name} is invalid`);
    if (options.unit !== undefined && !options.name.endsWith(`_${options.unit}`)) throw new Error(`metric ${options.name} must end with its unit ${options.unit}`);
    for (const label of options.labelNames ?? []) {
      if (!LABEL_NAME_PATTERN.test(label) || label === 'le') throw new Error(`label name ${label} of ${options.name} is invalid`);
    }
    this.name = options.name;
    this.help = options.help;
    this.unit = options.unit;
    this.labelNames = options.labelNames ?? [];
    this.#seriesMax = seriesMax;
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected abstract initial(): Series;
  abstract samples(): string[];

  protected seriesOf(labels: Labels): Series {
    const values = this.labelNames.map((label) => {
      const value = labels[label];
      // A missing label is a programmer error: it would silently split one series into two.
      if (value === undefined) throw new Error(`metric ${this.name} needs the label ${label}`);
      return value;
    });
    let key = JSON.stringify(values);
    let found = this.series.get(key);
    if (found === undefined) {
      let stored: Labels = labels;
      // The overflow series counts towards seriesMax, so a family never exceeds it.
      const overflowKey = JSON.stringify(this.labelNames.map(() => OVERFLOW_LABEL_VALUE));
      const slotsUsed = this.series.size + (this.series.has(overflowKey) ? 0 : 1);
      if (slotsUsed >= this.#seriesMax) {
        stored = Object.fromEntries(this.labelNames.map((label) => [label, OVERFLOW_LABEL_VALUE]));
        key = overflowKey;
        found = this.series.get(key);
      }
      if (found === undefined) {
        found = { labels: stored, value: this.initial() };
        this.series.set(key, found);
      }
    }
    return found.value;
  }

  protected labelText(labels: Labels, extra?: readonly [string, string]): string {
    const pairs = this.labelNames.map((label) => `${label}="${escapeLabelValue(labels[label] ?? '')}"`);
    if (extra !== undefined) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
  }
}

export class Counter extends Family<{ value: number }> {
  readonly type = 'counter';
  protected initial() {
    return { value: 0 };
  }
  /** Adds `amount` (>= 0; counters only go up). */
  inc(labels: Labels = {}, amount = 1): void {
    if (!(amount >= 0)) throw new RangeError(`counter ${this.name} cannot move by ${amount}`);
    this.seriesOf(labels).value += amount;
  }
  /** For counters mirrored from a source that counts itself (CPU time): never goes down. */
  setTotal(labels: Labels, total: number): void {
    const series = this.seriesOf(labels);
    series.value = Math.max(series.value, total);
  }
  value(labels: Labels = {}): number {
    return this.seriesOf(labels).value;
  }
  samples(): string[] {
    return [...this.series.values()].map(({ labels, value }) => `${this.name}_total${this.labelText(labels)} ${formatNumber(value.value)}`);
  }
}

export class Gauge extends Family<{ value: number }> {
  readonly type = 'gauge';
  protected initial() {
    return { value: 0 };
  }
  set(labels: Labels, value: number): void {
    this.seriesOf(labels).value = value;
  }
  samples(): string[] {
    return [...this.series.values()].map(({ labels, value }) => `${this.name}${this.labelText(labels)} ${formatNumber(value.value)}`);
  }
}

interface HistogramSeries {
  readonly bucketCounts: number[];
  count: number;
  sum: number;
}

export class Histogram extends Family<HistogramSeries> {
  readonly type = 'histogram';
  readonly #buckets: readonly number[];

  constructor(options: FamilyOptions & { readonly buckets: readonly number[] }, seriesMax: number) {
    super(options, seriesMax);
    const sorted = options.buckets.every((bound, index, all) => index === 0 || bound > (all[index - 1] as number));
    if (options.buckets.length === 0 || !sorted) throw new Error(`histogram ${options.name} needs increasing buckets`);
    this.#buckets = options.buckets;
  }
  protected initial(): HistogramSeries {
    return { bucketCounts: this.#buckets.map(() => 0), count: 0, sum: 0 };
  }
  observe(labels: Labels, value: number): void {
    const series = this.seriesOf(labels);
    // Buckets are stored non-cumulative and summed when rendered.
    const index = this.#buckets.findIndex((bound) => value <= bound);
    if (index >= 0) series.bucketCounts[index] = (series.bucketCounts[index] ?? 0) + 1;
    series.count += 1;
    series.sum += value;
  }
  count(labels: Labels): number {
    return this.seriesOf(labels).count;
  }
  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.values()) {
      let cumulative = 0;
      this.#buckets.forEach((bound, index) => {
        cumulative += value.bucketCounts[index] ?? 0;
        lines.push(`${this.name}_bucket${this.labelText(labels, ['le', formatNumber(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${this.labelText(labels, ['le', '+Inf'])} ${value.count}`);
      lines.push(`${this.name}_count${this.labelText(labels)} ${value.count}`);
      lines.push(`${this.name}_sum${this.labelText(labels)} ${formatNumber(value.sum)}`);
    }
    return lines;
  }
}

/** OpenMetrics label values escape backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class MetricsRegistry {
  readonly #families = new Map<string, RenderedFamily>();
  readonly #collectors: Array<() => void> = [];
  readonly #seriesMax: number;

  constructor(options: { seriesMax?: number } = {}) {
    this.#seriesMax = options.seriesMax ?? SERIES_MAX_DEFAULT;
  }

  counter(options: FamilyOptions): Counter {
    return this.#add(new Counter(options, this.#seriesMax));
  }
  gauge(options: FamilyOptions): Gauge {
    return this.#add(new Gauge(options, this.#seriesMax));
  }
  histogram(options: FamilyOptions & { readonly buckets: readonly number[] }): Histogram {
    return this.#add(new Histogram(options, this.#seriesMax));
  }
  /** Runs before every render, to sample values that are read rather than counted (memory). */
  addCollector(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** The exposition: one block per family, ending with `# EOF`. */
  render(): string {
    for (const collect of this.#collectors) collect();
    const lines: string[] = [];
    for (const family of this.#families.values()) {
      lines.push(`# TYPE ${family.name} ${family.type}`);
      if (family.unit !== undefined) lines.push(`# UNIT ${family.name} ${family.unit}`);
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      lines.push(...family.samples());
    }
    lines.push('# EOF');
    return `${lines.join('\n')}\n`;
  }

  #add<T extends RenderedFamily>(family: T): T {
    if (this.#families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.#families.set(family.name, family);
    return family;
  }
}

/** What the audit trail reports about its delivery (Auditor.backlog and sinkBacklogs). */
export interface AuditBacklogSource {
  backlog(): { readonly queuedEvents: number; readonly coalescingEvents: number; readonly droppedEvents: number };
  sinkBacklogs(): Readonly<Record<string, { readonly queuedMessages: number; readonly spooledMessages: number; readonly connected: boolean }>>;
}

/** The metrics the management API and the process report. */
export interface EnclaveMetrics {
  readonly registry: MetricsRegistry;
  readonly apiRequests: Counter;
  readonly apiRequestDuration: Histogram;
  /**
   * Publishes the audit backlog at every scrape: events waiting for the local log, events dropped,
   * and per syslog sink the frames in memory and in the disk spool, and whether it is connected.
   */
  observeAudit(source: AuditBacklogSource): void;
  /** Stops the event-loop delay sampler. */
  close(): void;
}

/**
 * The registry with the API and process families. Event-loop delay is sampled by
 * perf_hooks.monitorEventLoopDelay and reported (then reset) at each scrape, so its gauges cover
 * the time since the previous scrape.
 */
export function createEnclaveMetrics(options: { seriesMax?: number; eventLoopResolutionMs?: number } = {}): EnclaveMetrics {
  const registry = new MetricsRegistry(options.seriesMax === undefined ? {} : { seriesMax: options.seriesMax });
  const apiRequests = registry.counter({ name: 'enclave_api_requests', help: 'Management API requests answered, by route pattern, method and status.', labelNames: ['route', 'method', 'status'] });
  const apiRequestDuration = registry.histogram({
    name: 'enclave_api_request_duration_seconds',
    help: 'Time from receiving a management API request to sending its answer.',
    unit: 'seconds',
    labelNames: ['route', 'method'],
    buckets: DURATION_BUCKETS_SECONDS,
  });
  const residentMemory = registry.gauge({ name: 'enclave_process_resident_memory_bytes', help: 'Resident set size.', unit: 'bytes' });
  const heap = registry.gauge({ name: 'enclave_process_heap_bytes', help: 'V8 heap, used and total.', unit: 'bytes', labelNames: ['kind'] });
  const externalMemory = registry.gauge({ name: 'enclave_process_external_memory_bytes', help: 'Memory of C++ objects bound to JavaScript (buffers).', unit: 'bytes' });
  const cpu = registry.counter({ name: 'enclave_process_cpu_seconds', help: 'CPU time used by the process, user and system.', unit: 'seconds', labelNames: ['mode'] });
  const eventLoopDelay = registry.gauge({ name: 'enclave_event_loop_delay_seconds', help: 'Event-loop delay since the previous scrape: mean, p99 and max.', unit: 'seconds', labelNames: ['stat'] });
  const uptime = registry.gauge({ name: 'enclave_process_uptime_seconds', help: 'Seconds since the process started.', unit: 'seconds' });

  const auditQueued = registry.gauge({ name: 'enclave_audit_queued_events', help: 'Audit events accepted and not yet in the local log (including reads being coalesced).' });
  const auditDropped = registry.counter({ name: 'enclave_audit_dropped_events', help: 'Audit events dropped because the queue was full or the auditor closed; anything above 0 is a gap in the trail.' });
  const auditSinkQueued = registry.gauge({ name: 'enclave_audit_queued_messages', help: 'Syslog messages waiting in a sink\'s memory queue (and resend window), by sink.', labelNames: ['sink'] });
  const auditSinkSpooled = registry.gauge({ name: 'enclave_audit_spooled_messages', help: 'Syslog messages in a sink\'s disk spool, by sink.', labelNames: ['sink'] });
  const auditSinkConnected = registry.gauge({ name: 'enclave_audit_sink_connected', help: '1 when the sink has a connection to its SIEM, else 0.', labelNames: ['sink'] });

  const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: options.eventLoopResolutionMs ?? 20 });
  delay.enable();
  registry.addCollector(() => {
    const memory = process.memoryUsage();
    residentMemory.set({}, memory.rss);
    heap.set({ kind: 'used' }, memory.heapUsed);
    heap.set({ kind: 'total' }, memory.heapTotal);
    externalMemory.set({}, memory.external);
    const usage = process.cpuUsage();
    cpu.setTotal({ mode: 'user' }, usage.user / 1e6);
    cpu.setTotal({ mode: 'system' }, usage.system / 1e6);
    uptime.set({}, process.uptime());
    const nanosecondsToSeconds = (value: number) => (Number.isFinite(value) ? value / 1e9 : 0);
    eventLoopDelay.set({ stat: 'mean' }, delay.count > 0 ? nanosecondsToSeconds(delay.mean) : 0);
    eventLoopDelay.set({ stat: 'p99' }, delay.count > 0 ? nanosecondsToSeconds(delay.percentile(99)) : 0);
    eventLoopDelay.set({ stat: 'max' }, delay.count > 0 ? nanosecondsToSeconds(delay.max) : 0);
    delay.reset();
  });
  const observeAudit = (source: AuditBacklogSource): void => {
    const seenSinks = new Set<string>();
    registry.addCollector(() => {
      const backlog = source.backlog();
      auditQueued.set({}, backlog.queuedEvents + backlog.coalescingEvents);
      auditDropped.setTotal({}, backlog.droppedEvents);
      const sinks = source.sinkBacklogs();
      // A sink removed from the configuration reads 0 rather than its last value.
      for (const id of seenSinks) if (!(id in sinks)) for (const gauge of [auditSinkQueued, auditSinkSpooled, auditSinkConnected]) gauge.set({ sink: id }, 0);
      for (const [id, sink] of Object.entries(sinks)) {
        seenSinks.add(id);
        auditSinkQueued.set({ sink: id }, sink.queuedMessages);
        auditSinkSpooled.set({ sink: id }, sink.spooledMessages);
        auditSinkConnected.set({ sink: id }, sink.connected ? 1 : 0);
      }
    });
  };
  return { registry, apiRequests, apiRequestDuration, observeAudit, close: () => delay.disable() };
}
