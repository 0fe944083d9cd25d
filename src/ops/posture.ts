import { parseAddressRule, ruleSizeBits } from '../settings/address-rules.js';
import { canonicalPath } from '../settings/fs-paths.js';
import { NETWORK_SERVICES, type NetworkRules } from '../settings/network-rules.js';
import type { NfsExport } from '../settings/nfs-exports.js';
import type { FtpSettings, NfsSettings, S3Settings, SmbSettings } from '../settings/protocol-settings.js';
import type { SmbShare } from '../settings/smb-shares.js';

/**
 * The security posture: each item of the white paper's "Security Best Practices" checklist that
 * applies to a self-hosted instance, evaluated against the live configuration. Inputs are getters
 * the composition root wires; a getter that is absent means the feature does not exist yet, and
 * its check says `not_available`, honestly. Check ids are stable (scripts key on them).
 *
 * Not evaluated (they do not apply to a self-hosted instance, or nothing in it can see them): cost
 * alerts on the cloud resource, and external backups.
 */

export type PostureStatus = 'pass' | 'fail' | 'not_applicable' | 'not_available';

export interface PostureCheck {
  readonly id: string;
  readonly title: string;
  readonly status: PostureStatus;
  /** What to do; for a passing check, what keeps it passing. */
  readonly fix: string;
  /** What was found. */
  readonly detail: string;
}

export interface PostureReport {
  readonly checks: readonly PostureCheck[];
  readonly summary: Readonly<Record<PostureStatus, number>> & { readonly total: number };
}

export interface SnapshotPolicyFacts {
  readonly sourcePath: string;
  /** The longest it goes between two snapshots (days it skips count). */
  readonly intervalSeconds: number;
  readonly retentionSeconds: number;
  /** Its snapshots are locked with a registered key. */
  readonly locked: boolean;
  readonly enabled: boolean;
}

export interface TlsCertificateFacts {
  readonly selfSigned: boolean;
  readonly notAfter: Date;
}

/** How the audit trail is reaching the SIEM (Auditor.backlog and sinkBacklogs). */
export interface AuditDeliveryFacts {
  /** Events dropped since start (the queue was full): a gap in the trail. */
  readonly droppedEvents: number;
  readonly sinks: ReadonlyArray<{ readonly id: string; readonly connected: boolean; readonly backlogMessages: number; readonly disconnectedForMs?: number }>;
}

/** Everything the checks read. Required getters exist today; optional ones arrive with features. */
export interface PostureInputs {
  readonly s3Settings: () => Promise<S3Settings>;
  readonly nfsSettings: () => Promise<NfsSettings>;
  readonly smbSettings: () => Promise<SmbSettings>;
  readonly ftpSettings: () => Promise<FtpSettings>;
  readonly nfsExports: () => Promise<readonly NfsExport[]>;
  readonly smbShares: () => Promise<readonly SmbShare[]>;
  readonly networkRules: () => Promise<NetworkRules>;
  /** Users and groups, other than the built-in admin, that hold a role. */
  readonly roleHoldersBeyondAdmin?: () => Promise<number>;
  /** True when every management user must use a second factor. */
  readonly mfaRequired?: () => Promise<boolean>;
  /** The limit on `/` in bytes, or undefined when `/` has no quota. */
  readonly rootQuotaBytes?: () => Promise<number | undefined>;
  /** Audit sinks that are enabled (syslog to a SIEM). */
  readonly enabledAuditSinks?: () => Promise<number>;
  /** Drops and per-sink backlogs of the audit trail. */
  readonly auditDelivery?: () => Promise<AuditDeliveryFacts>;
  /** ECDSA P-256 public keys registered for snapshot locking. */
  readonly ecdsaKeys?: () => Promise<number>;
  readonly snapshotPolicies?: () => Promise<readonly SnapshotPolicyFacts[]>;
  /** Replication relationships to another instance that are configured. */
  readonly replicas?: () => Promise<number>;
  readonly tlsCertificate?: () => Promise<TlsCertificateFacts>;
  /** A directory service (LDAP / Active Directory) is joined. */
  readonly directoryJoined?: () => Promise<boolean>;
  readonly now?: () => Date;
}

/** NFSv3 rules wider than this many addresses (a /24) fail the nfsv3-restricted check. */
export const NFSV3_RULE_SIZE_BITS_MAX = 8;
export const SNAPSHOT_RETENTION_SECONDS_MIN = 30 * 86_400;
export const CERTIFICATE_VALIDITY_DAYS_MIN = 30;
/** A sink disconnected this long with messages waiting fails the audit-delivery check. */
export const AUDIT_DISCONNECTED_MINUTES_MAX = 15;
const DAY_SECONDS = 86_400;

type Outcome = Omit<PostureCheck, 'id' | 'title'>;
interface CheckDefinition {
  readonly id: string;
  readonly title: string;
  readonly evaluate: (inputs: PostureInputs) => Promise<Outcome>;
}

const pass = (detail: string, fix = 'Nothing to do.'): Outcome => ({ status: 'pass', detail, fix });
const fail = (detail: string, fix: string): Outcome => ({ status: 'fail', detail, fix });
const notApplicable = (detail: string): Outcome => ({ status: 'not_applicable', detail, fix: 'Nothing to do.' });
const notAvailable = (feature: string, fix: string): Outcome => ({ status: 'not_available', detail: `${feature} is not available in this version of Enclave.`, fix });

/** Runs a check whose input getter may be absent (the feature is not built yet). */
function whenAvailable<T>(getter: (() => Promise<T>) | undefined, feature: string, fixLater: string, judge: (value: T) => Outcome): Promise<Outcome> {
  if (getter === undefined) return Promise.resolve(notAvailable(feature, fixLater));
  return getter().then(judge);
}

const CHECKS: readonly CheckDefinition[] = [
  {
    id: 'network-rules',
    title: 'Restrict the API and every enabled protocol to known networks',
    evaluate: async (inputs) => {
      const [rules, enabled] = await Promise.all([inputs.networkRules(), enabledServices(inputs)]);
      const open = NETWORK_SERVICES.filter((service) => (service === 'api' || enabled.has(service)) && rules.services[service].allow.length === 0);
      if (open.length === 0) return pass('The API and every enabled protocol accept only listed addresses.');
      return fail(`Open to any address: ${open.join(', ')}.`, `PUT /v1/network/access-rules with services.<name>.allow listing the administrators' and clients' networks for: ${open.join(', ')}.`);
    },
  },
  {
    id: 'directory-service',
    title: 'Connect to a central directory for identity management',
    evaluate: (inputs) => whenAvailable(inputs.directoryJoined, 'Joining a directory (LDAP / Active Directory)', 'Manage local users carefully until directory integration is available.', (joined) =>
      joined ? pass('A directory service is joined.') : fail('No directory service is joined.', 'Join the organisation\'s directory so accounts are managed centrally.')),
  },
  {
    id: 'default-shares-exports-removed',
    title: 'No share or export exposes the whole file system',
    evaluate: async (inputs) => {
      const [exports, shares] = await Promise.all([inputs.nfsExports(), inputs.smbShares()]);
      const broad = [
        ...exports.filter((item) => canonicalPath(item.fs_path) === '/' && item.restrictions.length > 0).map((item) => `NFS export ${item.export_path}`),
        ...shares.filter((item) => canonicalPath(item.fs_path) === '/').map((item) => `SMB share ${item.share_name}`),
      ];
      if (broad.length === 0) return pass('Enclave creates no default share or export, and none exposes "/".', 'Create shares and exports case by case, each with narrow rules.');
      return fail(`Exposing "/": ${broad.join(', ')}.`, 'Delete these, and create shares and exports for the directories clients need, each with narrow host and user rules.');
    },
  },
  {
    id: 'audit-to-siem',
    title: 'Ship the audit log to a SIEM',
    evaluate: (inputs) => whenAvailable(inputs.enabledAuditSinks, 'Audit log shipping', 'Once audit shipping exists, configure a syslog sink (PUT /v1/audit/syslog/config) to your SIEM.', (sinks) =>
      sinks > 0 ? pass(`${sinks} audit sink(s) enabled.`) : fail('No audit sink is enabled.', 'PUT /v1/audit/syslog/config with a sink to your SIEM, over TLS.')),
  },
  {
    id: 'audit-delivery',
    title: 'Audit events reach the SIEM: none dropped, no sink stuck with a backlog',
    evaluate: (inputs) => whenAvailable(inputs.auditDelivery, 'Audit delivery reporting', 'Once audit shipping exists, watch its backlog.', (facts) => {
      const stuck = facts.sinks.filter((sink) => !sink.connected && sink.backlogMessages > 0 && (sink.disconnectedForMs ?? 0) > AUDIT_DISCONNECTED_MINUTES_MAX * 60_000);
      const problems = [
        ...(facts.droppedEvents > 0 ? [`${facts.droppedEvents} audit event(s) were dropped because the audit queue was full`] : []),
        ...stuck.map((sink) => `sink ${sink.id} has been disconnected for ${Math.floor((sink.disconnectedForMs ?? 0) / 60_000)} minutes with ${sink.backlogMessages} message(s) waiting`),
      ];
      if (problems.length > 0) return fail(`${problems.join('; ')}.`, 'Check that the SIEM is up and reachable (enclave_audit_sink_connected, enclave_audit_spooled_messages); dropped events are still missing from the local log, so find the cause (storage too slow or full) in the server log.');
      const waiting = facts.sinks.reduce((sum, sink) => sum + sink.backlogMessages, 0);
      return pass(`No audit event dropped; ${facts.sinks.length} sink(s), ${waiting} message(s) waiting.`, 'Keep the SIEM reachable; watch enclave_audit_spooled_messages.');
    }),
  },
  {
    id: 'root-quota',
    title: 'Set a quota on the root directory (/)',
    evaluate: (inputs) => whenAvailable(inputs.rootQuotaBytes, 'Directory quotas', 'Once quotas exist, set one on "/".', (limit) =>
      limit !== undefined ? pass(`"/" has a quota of ${limit} bytes.`) : fail('"/" has no quota.', 'POST /v1/files/quotas {path: "/", limit} with the most data you expect to store.')),
  },
  {
    id: 'rbac-beyond-admin',
    title: 'Give each administrator a personal account with a role (RBAC)',
    evaluate: (inputs) => whenAvailable(inputs.roleHoldersBeyondAdmin, 'Role assignment', 'Once roles can be assigned, give each administrator a personal account and role.', (holders) =>
      holders > 0 ? pass(`${holders} user(s) or group(s) besides admin hold a role.`, 'Keep role holders to trusted administrators; keep admin for break-glass use.')
        : fail('Only the built-in admin holds a role.', 'Create a personal account for each administrator and add it to the narrowest built-in or custom role (POST /v1/auth/roles/{name}/members); keep admin for break-glass use.')),
  },
  {
    id: 'mfa-required',
    title: 'Require MFA for every management user',
    evaluate: (inputs) => whenAvailable(inputs.mfaRequired, 'Multi-factor authentication', 'Once MFA exists, require it for every management user.', (required) =>
      required ? pass('MFA is required for management users.') : fail('MFA is not required.', 'Enrol a TOTP factor for each administrator (/v1/session/mfa/...) and require MFA for all management users.')),
  },
  {
    id: 'shares-require-encryption',
    title: 'Require encryption on every SMB share',
    evaluate: async (inputs) => {
      const [settings, shares] = await Promise.all([inputs.smbSettings(), inputs.smbShares()]);
      if (!settings.enabled && shares.length === 0) return notApplicable('SMB is disabled and has no shares.');
      if (settings.encryption_required) return pass('SMB requires encryption for every session.');
      const plain = shares.filter((share) => !share.require_encryption).map((share) => share.share_name);
      if (plain.length === 0) return pass('Every SMB share requires encryption.');
      return fail(`Shares accepting unencrypted sessions: ${plain.join(', ')}.`, 'PUT /v1/smb/settings {encryption_required: true}, or set require_encryption on each share.');
    },
  },
  {
    id: 'exports-require-kerberos',
    title: 'Require Kerberos (krb5p) on NFS exports',
    evaluate: async (inputs) => {
      const [settings, exports] = await Promise.all([inputs.nfsSettings(), inputs.nfsExports()]);
      if (!settings.enabled && exports.length === 0) return notApplicable('NFS is disabled and has no exports.');
      return notAvailable('NFSv4.1 with Kerberos (krb5i / krb5p)', 'Until Kerberos exists, restrict exports to few hosts, keep root squash and privileged ports, and prefer SMB with encryption for sensitive data.');
    },
  },
  {
    id: 'nfsv3-restricted',
    title: 'Restrict NFSv3 exports to few hosts',
    evaluate: async (inputs) => {
      const [settings, exports] = await Promise.all([inputs.nfsSettings(), inputs.nfsExports()]);
      if (!settings.enabled || !settings.v3_enabled) return notApplicable('NFSv3 is not enabled.');
      const wide = exports.filter((item) => item.restrictions.some((rule) => rule.host_restrictions.some((host) => isWide(host)))).map((item) => item.export_path);
      if (wide.length === 0) return pass(`Every export's host rules cover at most /${32 - NFSV3_RULE_SIZE_BITS_MAX} (IPv4) or named hosts.`);
      return fail(`Exports with host rules wider than ${2 ** NFSV3_RULE_SIZE_BITS_MAX} addresses: ${wide.join(', ')}.`, 'Narrow their host_restrictions to the client hosts, or disable NFSv3 (PUT /v1/nfs/settings {v3_enabled: false}).');
    },
  },
  {
    id: 'ftp-disabled-or-tls',
    title: 'Disable FTP, or require TLS and refuse anonymous users',
    evaluate: async (inputs) => {
      const settings = await inputs.ftpSettings();
      if (!settings.enabled) return pass('FTP is disabled.');
      if (settings.require_tls && !settings.allow_anonymous) return pass('FTP requires TLS and refuses anonymous users.');
      return fail(`FTP is enabled with${settings.require_tls ? '' : 'out'} TLS required${settings.allow_anonymous ? ' and anonymous users allowed' : ''}.`, 'PUT /v1/ftp/settings {enabled: false} if FTP is not needed, else {require_tls: true, allow_anonymous: false}.');
    },
  },
  {
    id: 's3-disabled-or-secure',
    title: 'Disable S3, or serve it over HTTPS only',
    evaluate: async (inputs) => {
      const settings = await inputs.s3Settings();
      if (!settings.enabled) return pass('S3 is disabled.');
      if (settings.secure) return pass('S3 serves HTTPS only.');
      return fail('S3 accepts plain HTTP.', 'PUT /v1/s3/settings {secure: true}, or {enabled: false} if S3 is not needed.');
    },
  },
  {
    id: 'ecdsa-key-registered',
    title: 'Register an ECDSA key for snapshot locking',
    evaluate: (inputs) => whenAvailable(inputs.ecdsaKeys, 'Security keys and snapshot locking', 'Once security keys exist, register an ECDSA P-256 public key kept in a key vault.', (keys) =>
      keys > 0 ? pass(`${keys} ECDSA key(s) registered.`) : fail('No ECDSA key is registered.', 'Create an ECDSA P-256 key pair in a key vault or HSM and POST /v1/security/keys {name, public_key, verification_signature}.')),
  },
  {
    id: 'daily-locked-snapshot-policy',
    title: 'Snapshot "/" daily, keep 30 days, locked',
    evaluate: (inputs) => whenAvailable(inputs.snapshotPolicies, 'Snapshot policies', 'Once snapshot policies exist, snapshot "/" daily, keep 30 days and lock the snapshots.', (policies) => {
      const good = policies.some((policy) => policy.enabled && canonicalPath(policy.sourcePath) === '/' && policy.intervalSeconds <= DAY_SECONDS && policy.retentionSeconds >= SNAPSHOT_RETENTION_SECONDS_MIN && policy.locked);
      return good ? pass('A policy snapshots "/" at least daily, keeps at least 30 days and locks its snapshots.')
        : fail(`No enabled policy on "/" runs daily, keeps 30 days and locks (${policies.length} policies).`, 'POST /v1/snapshots/policies for "/" every day, expiring after 30 days or more, locked with a registered key.');
    }),
  },
  {
    id: 'replica-configured',
    title: 'Replicate to another instance',
    evaluate: (inputs) => whenAvailable(inputs.replicas, 'Replication', 'Once replication exists, replicate snapshots to an instance elsewhere; meanwhile back up externally.', (count) =>
      count > 0 ? pass(`${count} replication relationship(s).`) : fail('Nothing is replicated.', 'Set up replication of "/" snapshots to an instance in another location.')),
  },
  {
    id: 'tls-certificate',
    title: 'Serve a trusted TLS certificate that is not about to expire',
    evaluate: (inputs) => whenAvailable(inputs.tlsCertificate, 'Reading the TLS certificate', 'Replace the self-signed certificate with one from your CA.', (certificate) => {
      const now = (inputs.now ?? (() => new Date()))();
      const daysLeft = Math.floor((certificate.notAfter.getTime() - now.getTime()) / (DAY_SECONDS * 1000));
      if (certificate.selfSigned) return fail('The API serves a self-signed certificate.', 'Install a certificate issued by your CA, so clients can verify the server.');
      if (daysLeft < CERTIFICATE_VALIDITY_DAYS_MIN) return fail(`The certificate expires in ${daysLeft} day(s).`, 'Renew the certificate now.');
      return pass(`A CA-issued certificate, valid for ${daysLeft} more days.`, 'Renew it before it expires.');
    }),
  },
];

export const POSTURE_CHECK_IDS: readonly string[] = CHECKS.map((check) => check.id);

/** A host rule wider than NFSV3_RULE_SIZE_BITS_MAX bits (hostnames name one host each). */
function isWide(host: string): boolean {
  try {
    return ruleSizeBits(parseAddressRule(host, { allowHostnames: true, field: 'host' })) > NFSV3_RULE_SIZE_BITS_MAX;
  } catch {
    return true;
  }
}

async function enabledServices(inputs: PostureInputs): Promise<Set<string>> {
  const [s3, nfs, smb, ftp] = await Promise.all([inputs.s3Settings(), inputs.nfsSettings(), inputs.smbSettings(), inputs.ftpSettings()]);
  return new Set(Object.entries({ s3, nfs, smb, ftp }).filter(([, settings]) => settings.enabled).map(([name]) => name));
}

/**
 * Evaluates every check. A getter that fails makes its check `fail` with the reason, so one broken
 * input neither hides the others nor reads as a pass.
 */
export async function evaluatePosture(inputs: PostureInputs): Promise<PostureReport> {
  const checks = await Promise.all(
    CHECKS.map(async (check): Promise<PostureCheck> => {
      try {
        return { id: check.id, title: check.title, ...(await check.evaluate(inputs)) };
      } catch (error) {
        return { id: check.id, title: check.title, status: 'fail', detail: `Could not be evaluated: ${(error as Error).message}`, fix: 'See the server log; retry.' };
      }
    }),
  );
  const summary = { pass: 0, fail: 0, not_applicable: 0, not_available: 0, total: checks.length };
  for (const check of checks) summary[check.status] += 1;
  return { checks, summary };
}
