import { isIP } from 'node:net';
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

/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 characters written out. */
const DNS_NAME_BYTES_MAX = 253;
const VIRTUAL_HOST_DOMAINS_MAX = 16;
/** RFC 1123 §2.1 host names, lower case: labels of 1-63 letters, digits and inner hyphens. */
const DNS_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const S3SettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Serve the S3 API.', default: false }),
    secure: Type.Boolean({ description: 'HTTPS only; false also accepts plain HTTP.', default: true }),
    base_path: Type.String({ description: 'Directory under which CreateBucket makes bucket roots.', default: '/', minLength: 1 }),
    virtual_host_domains: Type.Array(Type.String({ minLength: 1, maxLength: DNS_NAME_BYTES_MAX }), {
      description: `Domains for virtual-hosted-style addressing: a request to <bucket>.<domain> addresses that bucket (any other host is path-style). Lower-case DNS names, at most ${VIRTUAL_HOST_DOMAINS_MAX}; not IP addresses.`,
      default: [],
      maxItems: VIRTUAL_HOST_DOMAINS_MAX,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);
export type S3Settings = Static<typeof S3SettingsSchema>;

/** RFC 1833 §3: the portmapper's well-known port. */
export const PORTMAP_PORT_DEFAULT = 111;

export const NfsSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Serve NFS.', default: false }),
    v3_enabled: Type.Boolean({ description: 'Accept NFSv3 (no encryption, host-based trust).', default: true }),
    v4_enabled: Type.Boolean({ description: 'Accept NFSv4.1. Not served by this version yet: must stay false.', default: false }),
    portmap_enabled: Type.Boolean({
      description: 'Also answer PORTMAP v2 (and MOUNT and NFS) on portmap_port, so clients that ask a portmapper find the NFS port. The NFS port itself always answers MOUNT and PORTMAP.',
      default: false,
    }),
    portmap_port: Type.Integer({ description: 'The PORTMAP port while portmap_enabled (clients ask 111; below 1024 needs root).', default: PORTMAP_PORT_DEFAULT, minimum: 1, maximum: 65_535 }),
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
  defaults: () => ({ enabled: false, secure: true, base_path: '/', virtual_host_domains: [] }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'S3 settings');
    checkSchema(S3SettingsSchema, next, 's3_settings');
    checkAbsolutePath(next.base_path, 's3_settings.base_path');
    next.virtual_host_domains.forEach((domain, index) => checkVirtualHostDomain(domain, `s3_settings.virtual_host_domains[${index}]`));
    return next;
  },
};

/**
 * A virtual-host domain is matched against the Host header as `<bucket>.<domain>`: it must be a
 * DNS name a client can put under a bucket name, so no IP address, no port, no trailing dot, and
 * lower case (Host is compared case-insensitively; one spelling keeps the list free of duplicates).
 */
function checkVirtualHostDomain(domain: string, field: string): void {
  if (isIP(domain) !== 0 || /^[0-9.]+$/.test(domain)) throw new FsError('InvalidArgument', `${field} ${JSON.stringify(domain)} is an IP address; virtual-hosted-style addressing needs a DNS name`);
  if (!DNS_NAME.test(domain)) {
    throw new FsError('InvalidArgument', `${field} ${JSON.stringify(domain)} is not a lower-case DNS name (labels of 1-63 characters a-z, 0-9 and inner "-", joined by ".", no port or trailing dot)`);
  }
}

export const nfsSettings: SingletonDefinition<NfsSettings> = {
  tag: SettingsTag.nfs,
  title: 'NFS settings',
  defaults: () => ({ enabled: false, v3_enabled: true, v4_enabled: false, portmap_enabled: false, portmap_port: PORTMAP_PORT_DEFAULT }),
  parse: (input, current) => {
    const next = mergeObject(input, current, 'NFS settings');
    checkSchema(NfsSettingsSchema, next, 'nfs_settings');
    // Only NFSv3 is served so far: accepting v4_enabled would promise a version nobody answers,
    // and enabled without v3_enabled would serve NFSv3 after all.
    if (next.v4_enabled) throw new FsError('InvalidArgument', 'nfs_settings: v4_enabled: NFSv4.1 is not served by this version of Enclave yet; keep it false');
    if (next.enabled && !next.v3_enabled) throw new FsError('InvalidArgument', 'nfs_settings: enabling NFS needs v3_enabled (NFSv3 is the version served)');
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
