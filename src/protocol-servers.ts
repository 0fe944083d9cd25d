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
  });
  switches.push(await ProtocolSwitch.open({ service: 's3', settings, definition: s3Settings, server: s3, host: config.host, port: config.s3Port, portSetting: 's3_port', logger, stdout }));

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
  });
  switches.push(await ProtocolSwitch.open({ service: 'nfs', settings, definition: nfsSettings, server: nfs, host: config.host, port: config.nfsPort, portSetting: 'nfs_port', logger, stdout }));

  return {
    close: async () => {
      for (const protocolSwitch of switches.reverse()) await protocolSwitch.close();
    },
  };
}
