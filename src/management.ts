/**
 * The management plane's composition: identity services, settings, and every API route area, on
 * top of an opened Instance. Like main.ts it names concrete classes and holds no rules; serve.ts
 * hands the routes and the authorizer to the API server.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config/config-schema.js';
import { systemContext } from './core/context.js';
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
import { SettingsStore } from './settings/settings-store.js';
import { WebUiSettings } from './settings/web-ui-settings.js';

const SESSION_LIFETIME_MS = 10 * 3_600_000;
const UPLOAD_BYTES_MAX = 64 * 1024 ** 3;

export interface Management {
  readonly routes: readonly ApiRoute[];
  readonly authorize: Authorizer;
  readonly networkAccess: NetworkAccess;
  readonly settings: SettingsStore;
  close(): Promise<void>;
}

function authUser(user: LocalUser): AuthUser {
  return { id: user.id, name: user.name, uid: user.uid, primaryGid: user.primaryGid, sid: user.sid };
}

export async function openManagement(instance: Instance, _config: Config, logger: Logger): Promise<Management> {
  const { metadata, clock, users, groups, roles, fileSystem } = instance;
  const sessions = new Sessions({ metadata, clock, signingKey: instance.deriveKey('session-signing/v1'), lifetimeMs: async () => SESSION_LIFETIME_MS });
  const accessTokens = new AccessTokens({ metadata, clock });
  const mfaPolicy = new MetadataMfaPolicy({ metadata });
  const mfa = new Mfa({ metadata, clock, key: instance.deriveKey('mfa-secrets/v1'), policy: mfaPolicy });
  const throttle = new LoginThrottle({ clock });
  const settings = new SettingsStore({ metadata, onListenerError: (error, title) => logger.error({ err: error }, `${title} listener failed`) });
  const networkAccess = await NetworkAccess.open(settings);
  const webUi = new WebUiSettings(settings);

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
  };
  const certificate = new X509Certificate(instance.tls.certificate);

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
      bannerRequired: () => webUi.bannerRequired(),
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
    ...webUiRoutes({ webUi }),
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
        tlsCertificate: async () => ({ selfSigned: certificate.issuer === certificate.subject, notAfter: new Date(certificate.validTo) }),
      },
    }),
  ];
  const authorize = createAuthorizer({ sessions, accessTokens, roles, findUser, groupsOf, logger });
  return {
    routes,
    authorize,
    networkAccess,
    settings,
    close: async () => networkAccess.close(),
  };
}
