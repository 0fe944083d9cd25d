import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Auditor } from '../auditor.js';
import { sinkId, targetOf, type SyslogConfig, type SyslogSettings } from './syslog-config.js';
import type { CursorStore, ReplaySource } from './sink-cursors.js';
import { SyslogSink } from './syslog-sink.js';

/**
 * Keeps the auditor's syslog sinks in step with the configuration: on start and after every
 * change, sinks no longer configured (or disabled) close, new ones open. A sink whose settings
 * did not change keeps running (and its spool). Spools live in `<data dir>/audit-spool/<sink id>`.
 * With `replay`, each TCP/TLS sink keeps a cursor in the metadata store and replays the local log
 * after it on start; a sink whose destination is removed from the configuration loses its cursor
 * (added again later, it starts at the present, without a backlog of the time it was away).
 */
export class SyslogSinks {
  private readonly running = new Map<string, string>();
  private tail: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: { auditor: Auditor; settings: SyslogSettings; dataDir: string; hostname: string; logger: Logger; replay?: { source: ReplaySource; cursors: CursorStore } }) {}

  async start(): Promise<void> {
    await this.apply((await this.options.settings.get()).value);
    this.unsubscribe = this.options.settings.onChange((config) => this.apply(config));
  }

  apply(config: SyslogConfig): Promise<void> {
    const run = this.tail.then(async () => {
      const wanted = new Map(config.sinks.filter((sink) => sink.enabled).map((sink) => [sinkId(sink), sink]));
      for (const [id, fingerprint] of this.running) {
        const sink = wanted.get(id);
        if (sink === undefined || JSON.stringify(sink) !== fingerprint) {
          await this.options.auditor.removeSink(id);
          this.running.delete(id);
          if (sink === undefined) await this.options.replay?.cursors.delete(id);
        }
      }
      for (const [id, sink] of wanted) {
        if (this.running.has(id)) continue;
        const opened = await SyslogSink.open({ id, target: targetOf(sink), hostname: this.options.hostname, spoolDirectory: join(this.options.dataDir, 'audit-spool', id), logger: this.options.logger, ...(this.options.replay === undefined ? {} : { replay: this.options.replay }) });
        this.options.auditor.addSink(opened);
        this.running.set(id, JSON.stringify(sink));
      }
    });
    this.tail = run.catch((error: unknown) => this.options.logger.error({ err: error }, 'applying the audit syslog configuration failed'));
    return run;
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.tail;
    for (const id of this.running.keys()) await this.options.auditor.removeSink(id);
    this.running.clear();
  }
}
