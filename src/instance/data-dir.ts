import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * The data directory's layout. Everything the instance keeps lives below one folder, 0700.
 * `instance.json` is written last by init, so its absence means "not (fully) initialised yet".
 */
export interface DataDirLayout {
  readonly root: string;
  /** The marker of a finished init: instance id, domain SID, creation time. */
  readonly instanceFile: string;
  /** Identity chosen by an init that has not finished yet, reused if init runs again. */
  readonly pendingInstanceFile: string;
  readonly initialAdminPasswordFile: string;
  readonly keysDir: string;
  readonly tlsDir: string;
  readonly tlsCertificateFile: string;
  readonly tlsPrivateKeyFile: string;
  readonly metadataDir: string;
  readonly metadataDatabaseFile: string;
  readonly chunksDir: string;
  /** The write cache's segment files (storage/chunks/layers/write-cache.ts). */
  readonly writeCacheDir: string;
}

export const DIRECTORY_MODE = 0o700;
export const SECRET_FILE_MODE = 0o600;

export function dataDirLayout(dataDir: string): DataDirLayout {
  const root = resolve(dataDir);
  return {
    root,
    instanceFile: join(root, 'instance.json'),
    pendingInstanceFile: join(root, 'instance-init.json'),
    initialAdminPasswordFile: join(root, 'initial-admin-password'),
    keysDir: join(root, 'keys'),
    tlsDir: join(root, 'tls'),
    tlsCertificateFile: join(root, 'tls', 'server.crt'),
    tlsPrivateKeyFile: join(root, 'tls', 'server.key'),
    metadataDir: join(root, 'metadata'),
    metadataDatabaseFile: join(root, 'metadata', 'enclave.db'),
    chunksDir: join(root, 'chunks'),
    writeCacheDir: join(root, 'write-cache'),
  };
}

/** Names init may leave behind; anything else in an uninitialised data dir is someone else's. */
const INSTANCE_ENTRY_NAMES = new Set(['instance.json', 'instance-init.json', 'initial-admin-password', 'keys', 'tls', 'metadata', 'chunks', 'write-cache', 'audit-spool']);

/**
 * Creates the data dir (0700) if missing and tightens it to 0700 when a new instance is made in
 * it. Returns the names of entries that do not belong to an instance (for the caller to refuse).
 */
export async function prepareDataDir(layout: DataDirLayout): Promise<{ foreignEntries: string[] }> {
  await mkdir(layout.root, { recursive: true, mode: DIRECTORY_MODE });
  const stats = await stat(layout.root);
  if (!stats.isDirectory()) throw new Error(`${layout.root} is not a directory`);
  const entries = await readdir(layout.root);
  return { foreignEntries: entries.filter((name) => !INSTANCE_ENTRY_NAMES.has(name)) };
}

export async function restrictDirectory(path: string): Promise<void> {
  if (process.platform !== 'win32') await chmod(path, DIRECTORY_MODE);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
