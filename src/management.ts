/**
 * The management plane's composition: identity services, settings, and every API route area, on
 * top of an opened Instance. Like main.ts it names concrete classes and holds no rules; serve.ts
 * hands the routes and the authorizer to the API server.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Auditor } from './audit/auditor.js';
import { CheckpointKey } from './audit/checkpoint-key.js';
import { LocalAuditLog } from './audit/local-log.js';
import { SyslogSettings } from './audit/syslog/syslog-config.js';
import { AuditRetentionSettings } from './audit/retention-config.js';
import { SyslogSinks } from './audit/syslog/syslog-sinks.js';
import { SinkCursors } from './audit/syslog/sink-cursors.js'; // audit: per-sink replay cursors (issue 7 item 5)
import { S3AccessKeys } from './identity/s3-access-keys.js';
import { createEnclaveMetrics, type EnclaveMetrics } from './ops/metrics.js';
import { BucketStore } from './protocols/s3/buckets.js';
import { auditRoutes } from './protocols/rest/routes/audit.js';
import { encryptionRoutes } from './protocols/rest/routes/encryption.js';
import { metricsRoutes } from './protocols/rest/routes/metrics.js';
import { s3Routes } from './protocols/rest/routes/s3.js';
import { securityKeyRoutes } from './protocols/rest/routes/security-keys.js';
import { snapshotPolicyRoutes } from './protocols/rest/routes/snapshot-policies.js';
import { snapshotRoutes } from './protocols/rest/routes/snapshots.js';
import { tlsRoutes } from './protocols/rest/routes/tls.js';
import { s3Settings } from './settings/protocol-settings.js';
import { LockChallenges } from './snapshots/lock-challenges.js';
import { PolicyScheduler } from './snapshots/policy-scheduler.js';
import { PolicyStore } from './snapshots/policy-store.js';
import { longestGapSeconds } from './snapshots/schedule.js';
import { SecurityKeyStore } from './snapshots/security-keys.js';
import type { Logger } from 'pino';
import type { Config } from './config/config-schema.js';
import { systemContext } from './core/context.js';
import { FsError } from './core/errors.js';
import { AccessTokens } from './identity/access-tokens.js';
import { LoginThrottle } from './identity/login-throttle.js';
import { Mfa } from './identity/mfa.js';
import { MetadataMfaPolicy } from './identity/mfa-policy.js';
import { Sessions } from './identity/sessions.js';
import type { LocalUser } from './identity/local-users.js';
import type { Instance } from './main.js';
import { settingsPostureInputs } from './ops/posture-inputs.js';
import { createAuthorizer, type AuthUser } from './protocols/rest/authorizer.js';
import { NetworkAccess } from './protocols/rest/network-access.js';
import type { ApiRoute, Authorizer } from './protocols/rest/route.js';
import { authRoutes } from './protocols/rest/routes/auth.js';
import { fileRoutes } from './protocols/rest/routes/files.js';
import { groupRoutes } from './protocols/rest/routes/groups.js';
import { mfaRoutes } from './protocols/rest/routes/mfa.js';
import { networkRoutes } from './protocols/rest/routes/network.js';
import { postureRoutes } from './protocols/rest/routes/posture.js';
import { protocolRoutes } from './protocols/rest/routes/protocols.js';
import { quotaRoutes } from './protocols/rest/routes/quotas.js';
import { sessionRoutes } from './protocols/rest/routes/session.js';
import { userRoutes } from './protocols/rest/routes/users.js';
import { webUiRoutes } from './protocols/rest/routes/web-ui.js';
import { SessionSettings } from './settings/session-settings.js';
import { SettingsStore } from './settings/settings-store.js';
import { WebUiSettings } from './settings/web-ui-settings.js';

const UPLOAD_BYTES_MAX = 64 * 1024 ** 3;

export interface Management {
  readonly routes: readonly ApiRoute[];
  readonly authorize: Authorizer;
  readonly networkAccess: NetworkAccess;
  readonly settings: SettingsStore;
  readonly auditor: Auditor;
  readonly metrics: EnclaveMetrics;
  readonly s3AccessKeys: S3AccessKeys;
  /** The one BucketStore of the instance: the S3 server shares it, since its cache is per instance. */
  readonly buckets: BucketStore;
  /** Runs the snapshot policies; exposed so a test can run what is due at once (`tick`). */
  readonly policyScheduler: PolicyScheduler;
  close(): Promise<void>;
}

function authUser(user: LocalUser): AuthUser {
  return { id: user.id, name: user.name, uid: user.uid, primaryGid: user.primaryGid, sid: user.sid };
}

export async function openManagement(instance: Instance, _config: Config, logger: Logger): Promise<Management> {
  const { metadata, clock, users, groups, roles, fileSystem } = instance;
  const settings = new SettingsStore({ metadata, onListenerError: (error, title) => logger.error({ err: error }, `${title} listener failed`) });
  const webUi = new WebUiSettings(settings);
  const sessionSettings = new SessionSettings(settings);
  const sessions = new Sessions({
    metadata,
    clock,
    signingKey: instance.deriveKey('session-signing/v1'),
    lifetimeMs: () => sessionSettings.lifetimeMs(),
    idleTimeoutMs: () => webUi.inactivityTimeoutMs(),
  });
  const accessTokens = new AccessTokens({ metadata, clock });
  const mfaPolicy = new MetadataMfaPolicy({ metadata });
  const mfa = new Mfa({ metadata, clock, key: instance.deriveKey('mfa-secrets/v1'), policy: mfaPolicy });
  const throttle = new LoginThrottle({ clock });
  const networkAccess = await NetworkAccess.open(settings);

  const auditLog = await LocalAuditLog.open({ metadata, clock, key: CheckpointKey.fromSeed(instance.deriveKey('audit-checkpoints/v1')) });
  const auditor = new Auditor({ log: auditLog, clock, logger });
  const syslog = new SyslogSettings(settings);
  const auditRetention = new AuditRetentionSettings(settings); // audit: retention by age and size (issue 7 item 2)
  const syslogSinks = new SyslogSinks({ auditor, settings: syslog, dataDir: instance.layout.root, hostname: hostname(), logger, replay: { source: auditLog, cursors: new SinkCursors(metadata) } }); // audit: replay from the local log
  await syslogSinks.start();
  const auditTimer = setInterval(() => {
    auditLog
      .checkpoint()
      .then(async () => auditLog.trim(await auditRetention.policy()))
      .catch((error: unknown) => logger.error({ err: error }, 'audit checkpoint or retention failed'));
  }, 60_000);
  auditTimer.unref();
  // Core's own actions (snapshot expiry) and scheduled snapshots are audited as protocol 'internal'.
  const auditInternal = (operation: string, status: string, details: Record<string, string | number | boolean>): void =>
    auditor.emit({ time: clock.nowMs(), user: { name: 'system' }, clientAddress: 'local', protocol: 'internal', operation, status, details });
  const stopInternalAudit = fileSystem.onInternalEvent((event) => auditInternal(event.operation, event.status, { ...event.details }));
  const metrics = createEnclaveMetrics();
  metrics.observeAudit(auditor); // audit: backlog in the metrics (issue 7 item 5)
  const s3AccessKeys = new S3AccessKeys({ metadata, clock, key: instance.deriveKey('s3-secrets/v1') });
  const buckets = new BucketStore({ metadata });

  const policies: PolicyStore = new PolicyStore({ metadata, clock, resolveLockKey: (ref) => keys.resolveForLocking(ref) });
  const keys: SecurityKeyStore = new SecurityKeyStore({
    metadata,
    clock,
    keyUsages: async (id) => [
      ...(await policies.usagesOf(id)),
      ...fileSystem
        .listSnapshots()
        .filter((snapshot) => snapshot.lockKeyId === id)
        .map((snapshot) => ({ type: 'snapshot' as const, id: String(snapshot.id) })),
    ],
  });
  const challenges = new LockChallenges({ clock, randomBytes, findKey: (id) => keys.find(id) });
  const scheduler = new PolicyScheduler({
    policies,
    clock,
    onError: (error) => logger.error({ err: error }, 'snapshot policy scheduler failed'),
    takeSnapshot: async (policy, scheduledMs) => {
      const ctx = systemContext(logger, `policy-${policy.id}`);
      const dir = policy.source_path !== undefined ? (await fileSystem.resolvePath(ctx, policy.source_path)).handle : await fileSystem.handleOf(ctx, Number(policy.source_file_id));
      const lockKeyId = policy.lock_key_ref === null ? undefined : (await keys.resolveForLocking(policy.lock_key_ref)).id;
      try {
        const snapshot = await fileSystem.createSnapshot(ctx, dir, {
          name: policy.name,
          source: `policy:${policy.id}`,
          ...(policy.ttl === null ? {} : { expirationNs: BigInt(scheduledMs + policy.ttl * 1_000) * 1_000_000n }),
          ...(lockKeyId === undefined ? {} : { lockKeyId }),
        });
        auditInternal('snapshot_create', 'ok', { snapshot_id: snapshot.id, policy_id: policy.id });
        return { id: String(snapshot.id) };
      } catch (error) {
        auditInternal('snapshot_create', error instanceof FsError ? error.code : 'Internal', { policy_id: policy.id });
        throw error;
      }
    },
  });
  await scheduler.start();

  const findUser = async (id: string): Promise<AuthUser | undefined> => {
    const user = await users.get(id);
    return user === undefined ? undefined : authUser(user);
  };
  const groupsOf = (userId: string) => groups.groupsOf(userId);
  const forgetUser = async (id: string): Promise<void> => {
    await roles.forgetMember({ kind: 'user', id });
    await sessions.revokeAllOf(id);
    await accessTokens.revokeAllOf(id);
    await mfa.reset(id);
    await s3AccessKeys.revokeAllOf(id);
  };

  const routes: ApiRoute[] = [
    ...sessionRoutes({
      sessions,
      roles,
      verifyPassword: async (name, password) => {
        const user = await users.verifyPassword(name, password);
        return user === undefined ? undefined : authUser(user);
      },
      findUser,
      groupsOf,
      setPassword: async (user, password) => {
        await users.setPassword(user.id, password);
      },
      throttle,
      secondFactor: (user, code) => mfa.secondFactorRequirement(user, code),
      loginBanner: () => webUi.loginBanner(),
    }),
    ...mfaRoutes({ mfa, policy: mfaPolicy, userExists: async (id) => (await users.get(id)) !== undefined }),
    ...authRoutes({
      roles,
      accessTokens,
      findUserByNameOrId: async (text) => (await users.get(text)) ?? (await users.findByName(text)),
      findGroupByNameOrGid: async (text) => (/^\d+$/.test(text) ? await groups.findByGid(Number(text)) : undefined) ?? (await groups.findByName(text)),
      describeMember: async (member) =>
        member.kind === 'user' ? (await users.get(member.id))?.name : (await groups.findByGid(Number(member.id)))?.name,
    }),
    ...userRoutes({ users, groups, onUserDeleted: forgetUser, onPasswordReset: async (id) => void (await sessions.revokeAllOf(id)) }),
    ...groupRoutes({ users, groups, onGroupDeleted: async ({ gid }) => roles.forgetMember({ kind: 'group', id: String(gid) }) }),
    ...fileRoutes({ fs: fileSystem, logger, uploadBytesMax: UPLOAD_BYTES_MAX, handleOf: (ctx, id) => fileSystem.handleOf(ctx, id) }),
    ...quotaRoutes({ fs: fileSystem, logger, handleOf: (ctx, id) => fileSystem.handleOf(ctx, id) }),
    ...protocolRoutes({ settings }),
    ...networkRoutes({ settings }),
    ...webUiRoutes({ settings }),
    ...postureRoutes({
      posture: {
        ...settingsPostureInputs(settings),
        mfaRequired: () => mfaPolicy.isRequired(),
        roleHoldersBeyondAdmin: async () => {
          let holders = 0;
          for (const role of await roles.list()) {
            for (const member of await roles.members(role.name)) {
              const name = member.kind === 'user' ? (await users.get(member.id))?.name : undefined;
              if (name !== 'admin') holders++;
            }
          }
          return holders;
        },
        rootQuotaBytes: async () => {
          const ctx = systemContext(logger);
          return (await fileSystem.getQuota(ctx, await fileSystem.root(ctx)))?.limitBytes;
        },
        tlsCertificate: async () => {
          const current = instance.tlsCertificates.describe();
          return { selfSigned: current.self_signed, notAfter: new Date(current.not_after) };
        },
        ecdsaKeys: async () => (await keys.list()).length,
        enabledAuditSinks: async () => (await syslog.get()).value.sinks.filter((sink) => sink.enabled).length,
        // audit: delivery backlog in the posture check (issue 7 item 5)
        auditDelivery: async () => ({
          droppedEvents: auditor.backlog().droppedEvents,
          sinks: Object.entries(auditor.sinkBacklogs()).map(([id, sink]) => ({
            id,
            connected: sink.connected,
            backlogMessages: sink.queuedMessages + sink.spooledMessages + (sink.replayRecords ?? 0),
            ...(sink.disconnectedSinceMs === undefined ? {} : { disconnectedForMs: Date.now() - sink.disconnectedSinceMs }),
          })),
        }),
        snapshotPolicies: async () =>
          (await policies.list()).map((policy) => ({
            sourcePath: policy.source_path ?? `id:${policy.source_file_id ?? ''}`,
            intervalSeconds: longestGapSeconds(policy.schedule),
            retentionSeconds: policy.ttl ?? Number.MAX_SAFE_INTEGER,
            locked: policy.lock_key_ref !== null,
            enabled: policy.enabled,
          })),
      },
    }),
    ...auditRoutes({ log: auditLog, syslog, retention: auditRetention, auditor, clock }),
    ...tlsRoutes({ certificates: instance.tlsCertificates }),
    ...encryptionRoutes({ keyring: instance.keyring, kek: instance.kek, metadataEncryption: instance.metadataEncryption }),
    ...metricsRoutes({ metrics }),
    ...securityKeyRoutes({ keys }),
    ...snapshotPolicyRoutes({ policies, scheduler }),
    ...snapshotRoutes({ fs: fileSystem, keys, challenges, logger }),
    ...s3Routes({
      accessKeys: s3AccessKeys,
      buckets,
      fs: fileSystem,
      logger,
      findUserByName: (name) => users.findByName(name),
      findUserById: (id) => users.get(id),
      basePath: async () => (await settings.get(s3Settings)).value.base_path,
      nowMs: () => clock.nowMs(),
    }),
  ];
  const authorize = createAuthorizer({ sessions, accessTokens, roles, findUser, groupsOf, logger });
  return {
    routes,
    authorize,
    networkAccess,
    settings,
    auditor,
    metrics,
    s3AccessKeys,
    buckets,
    policyScheduler: scheduler,
    close: async () => {
      stopInternalAudit();
      clearInterval(auditTimer);
      await scheduler.stop();
      await syslogSinks.close();
      await auditor.close();
      metrics.close();
      await networkAccess.close();
    },
  };
}
