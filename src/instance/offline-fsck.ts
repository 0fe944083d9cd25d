import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { checkConsistency, type ConsistencyReport } from '../core/check/consistency-check.js';
import { Keyring } from '../keys/keyring.js';
import { LocalKeyFileProvider, kekFilePath } from '../keys/local-key-file.js';
import { openChunkStore } from './chunk-stores.js';
import { SqliteMetadataStore } from '../storage/metadata/sqlite/sqlite-metadata-store.js';
import { dataDirLayout, fileExists } from './data-dir.js';

/**
 * `enclave fsck --data-dir DIR`: opens an instance's stores the way the server does (keys, the
 * encrypted SQLite metadata, the encrypted chunks in the write cache, read-only, and the chunk
 * folder) but starts nothing else: no core, so no
 * garbage collector, reclaim, compaction or recovery, and no listener. Runs the consistency check
 * over them, writes nothing, and closes them. Best run with the server stopped; with it running,
 * the check still reads one consistent state of the metadata (SQLite WAL), and a chunk found
 * missing is re-checked as online fsck does.
 */
export async function offlineFsck(config: Config, logger: Logger, environment: Readonly<Record<string, string | undefined>>): Promise<ConsistencyReport> {
  const layout = dataDirLayout(config.dataDir);
  if (!(await fileExists(layout.instanceFile))) throw new ConfigError(`config: data_dir ${layout.root} holds no initialised Enclave instance`, { setting: 'data_dir' });
  const passphraseVariable = config.kekPassphraseEnv;
  const passphrase = (environment[passphraseVariable] ?? '') !== '' ? { envVar: passphraseVariable, env: environment } : undefined;
  const closers: Array<() => Promise<void>> = [];
  try {
    const provider = await LocalKeyFileProvider.open({ file: kekFilePath(layout.root), create: false, ...(passphrase === undefined ? {} : { passphrase }) });
    closers.push(() => provider.close());
    const keyring = await Keyring.open({ dir: layout.keysDir, provider, create: false });
    closers.push(() => keyring.close());
    const metadata = await SqliteMetadataStore.open({
      path: layout.metadataDatabaseFile,
      encryptionKey: keyring.metadataKey(),
      logger: logger.child({ component: 'metadata' }),
      batchMax: config.metadataGroupCommitTransactionsMax,
    });
    closers.push(() => metadata.close());
    // Read-only: chunks a stopped server left in its write cache are checked where they are.
    const chunks = await openChunkStore({ folders: layout, keyring, writeCacheBytes: config.writeCacheBytes, logger, readOnly: true });
    closers.push(() => chunks.close());
    return await checkConsistency(metadata, chunks, { online: true });
  } finally {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'closing a store after fsck failed'));
  }
}
