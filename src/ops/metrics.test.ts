import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsRegistry, OVERFLOW_LABEL_VALUE, createEnclaveMetrics } from './metrics.js';
import { assertOpenMetrics } from './openmetrics.test-support.js';

describe('MetricsRegistry', () => {
  it('renders counters with _total, units, escaped labels and a final # EOF', () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter({ name: 'enclave_things', help: 'Things.', labelNames: ['kind'] });
    counter.inc({ kind: 'a"b\\c\nd' });
    counter.inc({ kind: 'plain' }, 2);
    registry.gauge({ name: 'enclave_size_bytes', help: 'Size.', unit: 'bytes' }).set({}, 42);
    const text = registry.render();
    assertOpenMetrics(text);
    assert.ok(text.includes('# TYPE enclave_things counter\n'));
    assert.ok(text.includes('enclave_things_total{kind="a\\"b\\\\c\\nd"} 1\n'));
    assert.ok(text.includes('enclave_things_total{kind="plain"} 2\n'));
    assert.ok(text.includes('# UNIT enclave_size_bytes bytes\nenclave_size_bytes'.replace('\nenclave', '\n# HELP enclave_size_bytes Size.\nenclave')));
    assert.ok(text.includes('enclave_size_bytes 42\n'));
  });

  it('histogram buckets are cumulative and end with +Inf, count and sum', () => {
    const registry = new MetricsRegistry();
    const histogram = registry.histogram({ name: 'enclave_wait_seconds', help: 'Wait.', unit: 'seconds', buckets: [0.1, 1] });
    for (const value of [0.05, 0.5, 0.5, 3]) histogram.observe({}, value);
    const text = registry.render();
    assertOpenMetrics(text);
    assert.ok(text.includes('enclave_wait_seconds_bucket{le="0.1"} 1\nenclave_wait_seconds_bucket{le="1"} 3\nenclave_wait_seconds_bucket{le="+Inf"} 4\nenclave_wait_seconds_count 4\nenclave_wait_seconds_sum 4.05\n'));
  });

  it('folds label sets beyond seriesMax into one overflow series', () => {
    const registry = new MetricsRegistry({ seriesMax: 3 });
    const counter = registry.counter({ name: 'enclave_paths', help: 'Paths.', labelNames: ['path'] });
    for (let index = 0; index < 100; index += 1) counter.inc({ path: `/p${index}` });
    const samples = registry.render().split('\n').filter((line) => line.startsWith('enclave_paths_total'));
    assert.equal(samples.length, 3);
    assert.equal(counter.value({ path: OVERFLOW_LABEL_VALUE }), 98);
  });

  it('refuses invalid names, a unit the name does not end with, missing labels, negative increments', () => {
    const registry = new MetricsRegistry();
    assert.throws(() => registry.counter({ name: 'bad-name', help: '' }));
    assert.throws(() => registry.counter({ name: 'enclave_x_total', help: '' }));
    assert.throws(() => registry.gauge({ name: 'enclave_size', help: '', unit: 'bytes' }));
    const counter = registry.counter({ name: 'enclave_y', help: '', labelNames: ['a'] });
    assert.throws(() => counter.inc({}));
    assert.throws(() => counter.inc({ a: 'x' }, -1), RangeError);
    assert.throws(() => registry.counter({ name: 'enclave_y', help: '' }));
  });

  it('the Enclave registry reports process memory, CPU and event-loop delay', () => {
    const metrics = createEnclaveMetrics();
    try {
      const text = metrics.registry.render();
      assertOpenMetrics(text);
      const rss = /^enclave_process_resident_memory_bytes (\d+)$/m.exec(text);
      assert.ok(rss !== null && Number(rss[1]) > 0);
      assert.match(text, /^enclave_process_cpu_seconds_total\{mode="user"\} [0-9.e-]+$/m);
      assert.match(text, /^enclave_event_loop_delay_seconds\{stat="p99"\} [0-9.e-]+$/m);
      assert.match(text, /^enclave_process_heap_bytes\{kind="used"\} \d+$/m);
    } finally {
      metrics.close();
    }
  });
});

describe('audit backlog metrics', () => {
  it('publishes queued and dropped events and, per sink, queued and spooled messages; a removed sink reads 0', async () => {
    const { createEnclaveMetrics } = await import('./metrics.js');
    const metrics = createEnclaveMetrics();
    let sinks: Record<string, { queuedMessages: number; spooledMessages: number; connected: boolean }> = { 'tcp-siem-514': { queuedMessages: 4, spooledMessages: 1200, connected: false } };
    metrics.observeAudit({ backlog: () => ({ queuedEvents: 10, coalescingEvents: 2, droppedEvents: 3 }), sinkBacklogs: () => sinks });
    const text = metrics.registry.render();
    assert.match(text, /^enclave_audit_queued_events 12$/m);
    assert.match(text, /^enclave_audit_dropped_events_total 3$/m);
    assert.match(text, /^enclave_audit_spooled_messages\{sink="tcp-siem-514"\} 1200$/m);
    assert.match(text, /^enclave_audit_queued_messages\{sink="tcp-siem-514"\} 4$/m);
    assert.match(text, /^enclave_audit_sink_connected\{sink="tcp-siem-514"\} 0$/m);
    sinks = {};
    assert.match(metrics.registry.render(), /^enclave_audit_spooled_messages\{sink="tcp-siem-514"\} 0$/m);
    metrics.close();
  });
});
