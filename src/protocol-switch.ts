import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { NetworkService } from './settings/network-rules.js';
import type { SettingsStore, SingletonDefinition } from './settings/settings-store.js';
import type { ProtocolServer } from './protocols/protocol-server.js';

export interface ProtocolSwitchOptions<T extends { enabled: boolean }> {
  readonly service: Exclude<NetworkService, 'api'>;
  readonly settings: SettingsStore;
  readonly definition: SingletonDefinition<T>;
  readonly server: ProtocolServer;
  readonly host: string;
  readonly port: number;
  /** The configuration setting that names the port, for error messages (`nfs_port`). */
  readonly portSetting: string;
  readonly logger: Logger;
  readonly stdout: Writable;
}

/**
 * Keeps one protocol server in step with its settings' `enabled`: listening while enabled (and
 * printing `listening <service> <host>:<port>`), closed while not. Changes are applied one at a
 * time in order. A port that cannot be bound is logged with the setting to change; the other
 * services keep running.
 */
export class ProtocolSwitch<T extends { enabled: boolean }> {
  private running = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;

  private constructor(private readonly options: ProtocolSwitchOptions<T>) {
    this.unsubscribe = options.settings.onChange(options.definition, async (next: T) => this.apply(next.enabled));
  }

  static async open<T extends { enabled: boolean }>(options: ProtocolSwitchOptions<T>): Promise<ProtocolSwitch<T>> {
    const protocolSwitch = new ProtocolSwitch(options);
    const current = await options.settings.get(options.definition);
    await protocolSwitch.apply(current.value.enabled);
    return protocolSwitch;
  }

  get listening(): boolean {
    return this.running;
  }

  /** Applies `enabled`; resolves once the server is listening or closed (or failed to bind). */
  apply(enabled: boolean): Promise<void> {
    this.queue = this.queue.then(() => (enabled ? this.start() : this.stop()));
    return this.queue;
  }

  /**
   * Closes and listens again if listening (after changes queued before it), so settings read at
   * listen time (NFS's portmap port) take effect. Connections are dropped; clients reconnect.
   */
  restart(): Promise<void> {
    this.queue = this.queue.then(async () => {
      if (!this.running) return;
      await this.stop();
      await this.start();
    });
    return this.queue;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.apply(false);
  }

  private async start(): Promise<void> {
    if (this.running) return;
    const { service, server, host, port, portSetting, logger } = this.options;
    try {
      const bound = await server.listen(host, port);
      this.running = true;
      logger.info({ service, host, port: bound }, 'listening');
      this.options.stdout.write(`listening ${service} ${host}:${bound}\n`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges this process lacks' : 'cannot be bound';
      logger.error({ err: error, service, host, port }, `cannot listen on ${host}:${port} for ${service}: the port ${reason}; change ${portSetting}`);
    }
  }

  private async stop(): Promise<void> {
    if (!this.running) return;
    await this.options.server.close();
    this.running = false;
    this.options.logger.info({ service: this.options.service }, 'stopped listening');
  }
}
