/**
 * The composition root: the only module that names concrete classes. It turns a configuration
 * into a running instance (keys -> stores -> core -> identity); protocol front ends are started
 * by serve.ts on top of the Instance returned here. No file-system rule lives here.
 */
import { mkdir } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from './config/config-schema.js';
import { ConfigError } from './config/load-config.js';
import { createSystemClock, type Clock } from './core/clock.js';
import { systemContext } from './core/context.js';
import { openFileSystem } from './core/open-file-system.js';
import { IdentityCache } from './identity/identity-cache.js';
import { ADMIN_USER_NAME, LocalUsers } from './identity/local-users.js';
import { LocalGroups } from './identity/local-groups.js';
import { RoleStore } from './authz/role-store.js';
import { deriveInstanceKey } from './keys/derive-key.js';
import { ensureAdminUser } from './instance/admin-user.js';
import { DIRECTORY_MODE, dataDirLayout, fileExists, prepareDataDir, restrictDirectory, type DataDirLayout } from './instance/data-dir.js';
import { completeInstance, pendingInstanceIdentity, readInstanceIdentity, type InstanceIdentity } from './instance/instance-identity.js';
import { loadOrCreateTlsIdentity, TlsCertificateStore } from './instance/tls-certificate.js';
import { completeLocalKekRotation, LocalKekRotation } from './keys/local-kek-rotation.js';
import { Keyring } from './keys/keyring.js';
import { LocalKeyFileProvider, kekFilePath } from './keys/local-key-file.js';
import type { TlsIdentity } from './protocols/rest/tls.js';
import { openChunkStore } from './instance/chunk-stores.js';
import type { ChunkStore } from './storage/chunks/chunk-store.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import { SqliteMetadataStore } from './storage/metadata/sqlite/sqlite-metadata-store.js';
import { DiskActivity } from './storage/disk-activity.js';

export type CoreFileSystem = Awaited<ReturnType<typeof openFileSystem>>;

export interface Instance {
  readonly identity: InstanceIdentity;
  readonly layout: DataDirLayout;
  /** The TLS identity at start; `tlsCertificates.current()` after an install. */
  readonly tls: TlsIdentity;
  readonly tlsCertificates: TlsCertificateStore;
  readonly keyring: Keyring;
  readonly kek: LocalKekRotation;
  readonly metadata: MetadataStore;
  /** How the metadata database's pages are encrypted (decision 0002), for the encryption status. */
  readonly metadataEncryption: string;
  /** The chunk store as core sees it (encryption layer over the local folder). */
  readonly chunkStore: ChunkStore;
  readonly fileSystem: CoreFileSystem;
  readonly users: LocalUsers;
  readonly groups: LocalGroups;
  readonly roles: RoleStore;
  /** A 32-byte key for one purpose (session signing, MFA secrets), derived from the keyring. */
  readonly deriveKey: (purpose: string) => Uint8Array;
  readonly clock: Clock;
  /** Closes everything in the reverse order of opening; metadata is flushed when it resolves. */
  close(): Promise<void>;
}

export interface OpenInstanceOptions {
  /** Read for ENCLAVE_ADMIN_PASSWORD and the KEK passphrase variable; usually process.env. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Where the one-time admin password is printed; usually process.stdout. */
  readonly stdout: Writable;
  readonly clock?: Clock;
}

/**
 * Opens the instance in `config.dataDir`, initialising it first when `instance.json` is absent.
 * Every init step is idempotent and `instance.json` is written last, so an init interrupted by a
 * crash simply runs again on the next start.
 */
export async function openInstance(config: Config, logger: Logger, options: OpenInstanceOptions): Promise<Instance> {
  const clock = options.clock ?? createSystemClock();
  const layout = dataDirLayout(config.dataDir);
  const { foreignEntries } = await prepareDataDir(layout);
  const initialised = await fileExists(layout.instanceFile);
  if (!initialised && foreignEntries.length > 0 && !(await fileExists(layout.pendingInstanceFile))) {
    throw new ConfigError(
      `config: data_dir ${layout.root} is not empty and holds no Enclave instance (found ${foreignEntries.slice(0, 5).join(', ')}); choose an empty or new folder`,
      { setting: 'data_dir' },
    );
  }
  if (!initialised) {
    logger.info({ dataDir: layout.root }, 'initialising a new instance');
    await restrictDirectory(layout.root);
  }
  const identity = initialised ? await readInstanceIdentity(layout.instanceFile) : await pendingInstanceIdentity(layout, clock.nowMs());

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse().splice(0)) {
      await close().catch((error: unknown) => logger.error({ err: error }, 'error while closing the instance'));
    }
  };
  try {
    const passphraseVariable = config.kekPassphraseEnv;
    const hasPassphrase = (options.environment[passphraseVariable] ?? '') !== '';
    const passphrase = hasPassphrase ? { envVar: passphraseVariable, env: options.environment } : undefined;
    // A KEK rotation interrupted between rewrapping the keyring and replacing the key file ends here.
    if (initialised) await completeLocalKekRotation({ file: kekFilePath(layout.root), keysDir: layout.keysDir, ...(passphrase === undefined ? {} : { passphrase }) });
    const provider = await LocalKeyFileProvider.open({
      file: kekFilePath(layout.root),
      create: !initialised,
      ...(passphrase === undefined ? {} : { passphrase }),
    });
    closers.push(() => provider.close());
    const keyring = await Keyring.open({ dir: layout.keysDir, provider, create: !initialised });
    closers.push(() => keyring.close());
    const kek = new LocalKekRotation({ file: kekFilePath(layout.root), keyring, provider, ...(passphrase === undefined ? {} : { passphrase }) });
    closers.push(() => kek.close());

    const tls = await loadOrCreateTlsIdentity({ layout, logger, nowMs: clock.nowMs() });
    const tlsCertificates = new TlsCertificateStore({ layout, initial: tls, nowMs: () => clock.nowMs(), logger });

    await prepareSubdirectory(layout.metadataDir);
    const metadata = await SqliteMetadataStore.open({
      path: layout.metadataDatabaseFile,
      encryptionKey: keyring.metadataKey(),
      logger: logger.child({ component: 'metadata' }),
      batchMax: config.metadataGroupCommitTransactionsMax,
    });
    closers.push(() => metadata.close());
    // The write cache copies chunks to the folder while the disk is otherwise quiet.
    const diskActivity = new DiskActivity();
    metadata.onCommitted(() => diskActivity.note());
    const chunks = await openChunkStore({ folders: layout, keyring, writeCacheBytes: config.writeCacheBytes, logger, activity: diskActivity });
    closers.push(() => chunks.close());
    const fileSystem = await openFileSystem({
      metadata,
      chunks,
      logger: logger.child({ component: 'core' }),
      clock,
      gc: { sweepGraceMs: config.gcGraceSeconds * 1_000 },
    });
    closers.push(() => fileSystem.close());

    // One cache for both: deleting a user drops its group memberships (see IdentityCache).
    const identityCache = new IdentityCache();
    const users = new LocalUsers({ metadata, domainSid: identity.domainSid, clock, cache: identityCache });
    const groups = new LocalGroups({ metadata, domainSid: identity.domainSid, clock, cache: identityCache });
    const roles = new RoleStore(metadata);
    const deriveKey = (purpose: string): Uint8Array => deriveInstanceKey(keyring.metadataKey(), purpose);
    if (!initialised) {
      await ensureAdminUser({ users, layout, environment: options.environment, stdout: options.stdout, logger });
      const admin = await users.findByName(ADMIN_USER_NAME);
      if (admin !== undefined) {
        await roles.addMember('Administrators', { kind: 'user', id: admin.id });
        // The namespace root belongs to the administrator (mode 0755): they can build the tree
        // through the API and grant others access; nobody else can write at the top by default.
        const ctx = systemContext(logger, 'init');
        await fileSystem.setattr(ctx, await fileSystem.root(ctx), { uid: admin.uid, gid: admin.primaryGid });
      }
      await completeInstance(layout, identity);
      logger.info({ instanceId: identity.instanceId, dataDir: layout.root }, 'instance initialised');
    }
    const metadataEncryption = metadata.pageCipher === 'aegis' ? 'AEGIS-256 pages (SQLite3 Multiple Ciphers)' : 'SQLCipher 4 pages (AES-256-CBC, HMAC-SHA512)';
    return { identity, layout, tls, tlsCertificates, keyring, kek, metadata, metadataEncryption, chunkStore: chunks, fileSystem, users, groups, roles, deriveKey, clock, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function prepareSubdirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: DIRECTORY_MODE });
}
