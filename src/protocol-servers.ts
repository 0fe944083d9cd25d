/**
 * The file-protocol front ends of an instance, each behind a ProtocolSwitch that follows its
 * settings' `enabled`. A fresh instance has every protocol disabled, so nothing listens but the
 * API until an administrator enables one. Each protocol issue adds its server here.
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from './config/config-schema.js';
import type { Instance } from './main.js';
import type { Management } from './management.js';
import { ProtocolSwitch } from './protocol-switch.js';

export interface ProtocolServers {
  close(): Promise<void>;
}

export async function openProtocolServers(input: {
  instance: Instance;
  management: Management;
  config: Config;
  logger: Logger;
  stdout: Writable;
}): Promise<ProtocolServers> {
  const switches: Array<ProtocolSwitch<{ enabled: boolean }>> = [];
  void input;
  return {
    close: async () => {
      for (const protocolSwitch of switches.reverse()) await protocolSwitch.close();
    },
  };
}
