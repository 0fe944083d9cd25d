/**
 * The privilege catalogue: what management callers may do, as `<AREA>_READ` / `<AREA>_WRITE`.
 * Every API route declares exactly one privilege (or PUBLIC, or SELF for the calls every signed-in
 * user may make about themselves). Roles grant privileges; users and groups hold roles.
 * docs/privileges.md is generated from this list and checked by a test.
 */
export const PRIVILEGES = {
  AUTH_READ: 'List users, groups, roles and role members',
  AUTH_WRITE: 'Create, change and delete users, groups and roles; assign roles',
  ACCESS_TOKENS_READ: 'List every user\'s access tokens',
  ACCESS_TOKENS_WRITE: 'Create and revoke access tokens for any user',
  FILE_READ: 'Read files, directories, attributes and ACLs through the API (ACLs still apply)',
  FILE_WRITE: 'Create, change and delete files and directories through the API (ACLs still apply)',
  QUOTA_READ: 'Read directory quotas and their usage',
  QUOTA_WRITE: 'Set and remove directory quotas',
  SNAPSHOT_READ: 'List snapshots, policies and differences',
  SNAPSHOT_WRITE: 'Create, change and delete snapshots and policies; lock snapshots',
  S3_READ: 'Read S3 settings, buckets and access keys',
  S3_WRITE: 'Change S3 settings, buckets and any user\'s access keys',
  S3_SELF_WRITE: 'Create, list and revoke one\'s own S3 access keys (/v1/session/s3-access-keys)',
  NFS_READ: 'Read NFS settings and exports',
  NFS_WRITE: 'Change NFS settings and exports',
  SMB_READ: 'Read SMB settings and shares',
  SMB_WRITE: 'Change SMB settings and shares',
  FTP_READ: 'Read FTP settings',
  FTP_WRITE: 'Change FTP settings',
  AUDIT_READ: 'Query and verify the audit log; read its configuration',
  AUDIT_WRITE: 'Change the audit configuration (syslog sinks, retention)',
  ENCRYPTION_READ: 'Read the encryption-at-rest status',
  ENCRYPTION_WRITE: 'Rotate encryption keys',
  NETWORK_READ: 'Read the network access rules',
  NETWORK_WRITE: 'Change the network access rules',
  SECURITY_READ: 'Read security settings, security keys, the TLS certificate and the security posture',
  SECURITY_WRITE: 'Change security settings (MFA policy, login banner, session lifetime), keys and the TLS certificate',
  METRICS_READ: 'Read the metrics',
} as const satisfies Record<string, string>;

export type Privilege = keyof typeof PRIVILEGES;

export const ALL_PRIVILEGES = Object.keys(PRIVILEGES) as Privilege[];

export function isPrivilege(value: string): value is Privilege {
  return Object.hasOwn(PRIVILEGES, value);
}

/** The data areas a DataAdministrator manages (files, quotas, snapshots, the file protocols). */
const DATA_AREAS = ['FILE', 'QUOTA', 'SNAPSHOT', 'S3', 'NFS', 'SMB', 'FTP'];

export const BUILT_IN_ROLES = {
  Administrators: {
    description: 'Full control of the instance.',
    privileges: ALL_PRIVILEGES,
  },
  DataAdministrators: {
    description: 'Manages data: files, quotas, snapshots and the file protocols.',
    privileges: ALL_PRIVILEGES.filter((privilege) => DATA_AREAS.some((area) => privilege.startsWith(`${area}_`))),
  },
  Observers: {
    description: 'Reads everything, changes nothing.',
    privileges: ALL_PRIVILEGES.filter((privilege) => privilege.endsWith('_READ')),
  },
} as const satisfies Record<string, { description: string; privileges: readonly Privilege[] }>;

export type BuiltInRoleName = keyof typeof BUILT_IN_ROLES;
