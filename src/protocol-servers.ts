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
import { localUserGroups } from './protocols/nfs/exports/caller-groups.js';
import { createNfsServer } from './protocols/nfs/nfs-server.js';
import { MultipartStore } from './protocols/s3/multipart.js'; // S3 multipart (issue 5)
import { S3Server } from './protocols/s3/server.js';
import { nfsExports } from './settings/nfs-exports.js';
import { nfsSettings, s3Settings } from './settings/protocol-settings.js';

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
  const { instance, management, config, logger, stdout } = input;
  const switches: Array<{ close(): Promise<void> }> = [];
  const settings = management.settings;

  switches.push(await openS3(input));

  const nfs = createNfsServer({
    fileSystem: instance.fileSystem,
    exports: {
      list: () => settings.list(nfsExports),
      onChange: (listener) => settings.onCollectionChange(nfsExports, () => listener()),
    },
    handleKey: instance.deriveKey('nfs-handles/v1'),
    logger: logger.child({ component: 'nfs' }),
    networkAccess: management.networkAccess,
    auditor: management.auditor,
    userGroups: localUserGroups(instance.users, instance.groups),
    nowMs: () => instance.clock.nowMs(),
    portmapPort: async () => {
      const { value } = await settings.get(nfsSettings);
      return value.portmap_enabled ? value.portmap_port : undefined;
    },
  });
  const nfsSwitch = await ProtocolSwitch.open({ service: 'nfs', settings, definition: nfsSettings, server: nfs, host: config.host, port: config.nfsPort, portSetting: 'nfs_port', logger, stdout });
  // The portmap port is read at listen time: a change while NFS stays enabled restarts its
  // listener (a change that also enables NFS is read by that start).
  const stopFollowingPortmap = settings.onChange(nfsSettings, async (next, previous) => {
    const portmapChanged = next.portmap_enabled !== previous.portmap_enabled || (next.portmap_enabled && next.portmap_port !== previous.portmap_port);
    if (portmapChanged && previous.enabled && next.enabled) await nfsSwitch.restart();
  });
  switches.push({
    close: async () => {
      stopFollowingPortmap();
      await nfsSwitch.close();
    },
  });

  return {
    close: async () => {
      for (const protocolSwitch of switches.reverse()) await protocolSwitch.close();
    },
  };
}

/**
 * The S3 server behind its switch, following the settings it reads outside `enabled`:
 * `virtual_host_domains` at every request (a change applies at the next one), and `secure` at
 * listen time, so a change of `secure` while S3 stays enabled restarts the listener — turning
 * plain HTTP off takes effect at once, not at the next restart.
 */
async function openS3(input: { instance: Instance; management: Management; config: Config; logger: Logger; stdout: Writable }): Promise<{ close(): Promise<void> }> {
  const { instance, management, config, logger, stdout } = input;
  const settings = management.settings;
  // Longest first: with both example.com and s3.example.com, alpha.s3.example.com is the bucket
  // alpha of s3.example.com (the server takes the first domain that matches).
  const virtualHostDomains: string[] = [];
  const followDomains = (domains: readonly string[]) => virtualHostDomains.splice(0, virtualHostDomains.length, ...[...domains].sort((left, right) => right.length - left.length));
  let s3Switch: { restart(): Promise<void> } | undefined;
  let changed = false;
  const stopFollowing = settings.onChange(s3Settings, async (next, previous) => {
    changed = true;
    followDomains(next.virtual_host_domains);
    if (next.secure !== previous.secure && previous.enabled && next.enabled) await s3Switch?.restart();
  });
  const initial = (await settings.get(s3Settings)).value;
  if (!changed) followDomains(initial.virtual_host_domains);

  const s3 = new S3Server({
    fs: instance.fileSystem,
    // The management API's store: one BucketStore per instance keeps its cache exact.
    buckets: management.buckets,
    uploads: new MultipartStore({ metadata: instance.metadata }), // S3 multipart upload records (issue 5)
    accessKeys: management.s3AccessKeys,
    findUser: (id) => instance.users.get(id),
    groupsOf: (id) => instance.groups.groupsOf(id),
    tls: instance.tlsCertificates.current(),
    settings: async () => (await settings.get(s3Settings)).value,
    networkAccess: management.networkAccess,
    auditor: management.auditor,
    logger: logger.child({ component: 's3' }),
    nowMs: () => instance.clock.nowMs(),
    virtualHostDomains,
  });
  const opened = await ProtocolSwitch.open({ service: 's3', settings, definition: s3Settings, server: s3, host: config.host, port: config.s3Port, portSetting: 's3_port', logger, stdout });
  s3Switch = opened;
  return {
    close: async () => {
      stopFollowing();
      await opened.close();
    },
  };
}
