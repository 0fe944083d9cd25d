import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { checkAbsolutePath } from './fs-paths.js';
import { checkSchema, mergeObject, SettingsTag, type SingletonDefinition } from './settings-store.js';

/**
 * The settings documents of the file protocols. Secure defaults: every protocol is off; when
 * switched on, S3 serves HTTPS only, SMB requires encryption and signing from SMB 3.0, FTP
 * requires TLS and refuses anonymous users. A PUT names the fields it changes; the rest keep their
 * values. Each protocol's server subscribes to its document (SettingsStore.onChange) and starts or
 * stops listening when `enabled` flips.
 */

export const S3SettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Serve the S3 API.', default: false }),
    secure: Type.Boolean({ description: 'HTTPS only; false also accepts plain HTTP.', default: true }),
    base_path: Type.String({ description: 'Directory under which CreateBucket makes bucket roots.', default: '/', minLength: 1 }),
  },
  { additionalProperties: false },
);
export type S3Settings = Static<typeof S3SettingsSchema>;

export const NfsSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Serve NFS.', default: false }),
    v3_enabled: Type.Boolean({ description: 'Accept NFSv3 (no encryption, host-based trust).', default: true }),
    v4_enabled: Type.Boolean({ description: 'Accept NFSv4.1.', default: false }),
  },
  { additionalProperties: false },
);
export type NfsSettings = Static<typeof NfsSettingsSchema>;

/** SMB dialects in order; encryption needs SMB 3.0 or later. */
export const SMB_DIALECTS = ['SMB2_02', 'SMB2_10', 'SMB3_00', 'SMB3_02', 'SMB3_11'] as const;
export type SmbDialect = (typeof SMB_DIALECTS)[number];

export const SmbSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Serve SMB.', default: false }),
    encryption_required: Type.Boolean({ description: 'Refuse sessions that do not encrypt (SMB 3 encryption).', default: true }),
    signing_required: Type.Boolean({ description: 'Refuse unsigned sessions.', default: true }),
    min_protocol: Type.Enum([...SMB_DIALECTS], { description: 'Oldest dialect accepted.', default: 'SMB3_00' }),
    hide_shares_from_unauthorized_users: Type.Boolean({ description: 'List only shares the user may open.', default: true }),
  },
  { additionalProperties: false },
);
export type SmbSettings = Static<typeof SmbSettingsSchema>;

export const FtpSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Serve FTP.', default: false }),
    require_tls: Type.Boolean({ description: 'Refuse logins before AUTH TLS, and data transfers without PROT P.', default: true }),
    allow_anonymous: Type.Boolean({ description: 'Accept the anonymous user (read-only, as the guest identity).', default: false }),
  },
  { additionalProperties: false },
);
export type FtpSettings = Static<typeof FtpSettingsSchema>;

export const s3Settings: SingletonDefinition<S3Settings> = {
  tag: SettingsTag.s3,
  title: 'S3 settings',
  defaults: () => ({ enabled: false, secure: true, base_path: '/' }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'S3 settings');
    checkSchema(S3SettingsSchema, next, 's3_settings');
    checkAbsolutePath(next.base_path, 's3_settings.base_path');
    return next;
  },
};

export const nfsSettings: SingletonDefinition<NfsSettings> = {
  tag: SettingsTag.nfs,
  title: 'NFS settings',
  defaults: () => ({ enabled: false, v3_enabled: true, v4_enabled: false }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'NFS settings');
    checkSchema(NfsSettingsSchema, next, 'nfs_settings');
    if (next.enabled && !next.v3_enabled && !next.v4_enabled) {
      throw new FsError('InvalidArgument', 'nfs_settings: enabling NFS needs v3_enabled or v4_enabled');
    }
    return next;
  },
};

export const smbSettings: SingletonDefinition<SmbSettings> = {
  tag: SettingsTag.smb,
  title: 'SMB settings',
  defaults: () => ({ enabled: false, encryption_required: true, signing_required: true, min_protocol: 'SMB3_00', hide_shares_from_unauthorized_users: true }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'SMB settings');
    checkSchema(SmbSettingsSchema, next, 'smb_settings');
    if (next.encryption_required && SMB_DIALECTS.indexOf(next.min_protocol) < SMB_DIALECTS.indexOf('SMB3_00')) {
      throw new FsError('InvalidArgument', `smb_settings: encryption_required needs min_protocol SMB3_00 or later (SMB 2 cannot encrypt); got ${next.min_protocol}`);
    }
    return next;
  },
};

export const ftpSettings: SingletonDefinition<FtpSettings> = {
  tag: SettingsTag.ftp,
  title: 'FTP settings',
  defaults: () => ({ enabled: false, require_tls: true, allow_anonymous: false }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'FTP settings');
    checkSchema(FtpSettingsSchema, next, 'ftp_settings');
    return next;
  },
};
