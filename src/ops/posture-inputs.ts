import { networkRules } from '../settings/network-rules.js';
import { nfsExports } from '../settings/nfs-exports.js';
import { ftpSettings, nfsSettings, s3Settings, smbSettings } from '../settings/protocol-settings.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { smbShares } from '../settings/smb-shares.js';
import type { PostureInputs } from './posture.js';

/** The getters the settings store answers; the composition root adds the other features'. */
export type SettingsPostureInputs = Pick<PostureInputs, 's3Settings' | 'nfsSettings' | 'smbSettings' | 'ftpSettings' | 'nfsExports' | 'smbShares' | 'networkRules'>;

export function settingsPostureInputs(store: SettingsStore): SettingsPostureInputs {
  return {
    s3Settings: async () => (await store.get(s3Settings)).value,
    nfsSettings: async () => (await store.get(nfsSettings)).value,
    smbSettings: async () => (await store.get(smbSettings)).value,
    ftpSettings: async () => (await store.get(ftpSettings)).value,
    nfsExports: async () => (await store.list(nfsExports)).map((record) => record.value),
    smbShares: async () => (await store.list(smbShares)).map((record) => record.value),
    networkRules: async () => (await store.get(networkRules)).value,
  };
}
