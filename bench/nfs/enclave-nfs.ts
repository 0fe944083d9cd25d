/**
 * Enclave's NFSv3 server as production runs it, for bench/nfs/run.sh: the instance from the
 * composition root (encrypted SQLite metadata, encrypted local chunks), the management plane's
 * auditor (every NFS call audited, as when wired by src/protocol-servers.ts), and one export
 * `/bench` -> fs `/bench` (mode 0777) admitting 127.0.0.1 from any port, root squash on.
 *
 * Usage: node --import tsx bench/nfs/enclave-nfs.ts DATA_DIR PORT   (prints "ready PORT", runs until SIGTERM)
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { defaultConfig } from '../../src/config/config-schema.js';
import { openInstance } from '../../src/main.js';
import { openManagement } from '../../src/management.js';
import { createNfsServer } from '../../src/protocols/nfs/nfs-server.js';
import { parseNfsExport } from '../../src/settings/nfs-exports.js';
import type { OpContext } from '../../src/core/context.js';

const [dataDir, portText] = process.argv.slice(2);
if (dataDir === undefined || portText === undefined) throw new Error('usage: enclave-nfs.ts DATA_DIR PORT');
const logger = pino({ level: process.env.ENCLAVE_LOG_LEVEL ?? 'silent' });
// BENCH_WRITE_CACHE_BYTES sets write_cache_bytes, for side-by-side runs.
const writeCache = process.env.BENCH_WRITE_CACHE_BYTES === undefined ? {} : { writeCacheBytes: Number(process.env.BENCH_WRITE_CACHE_BYTES) };
const config = { ...defaultConfig(), ...writeCache, dataDir };
const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const instance = await openInstance(config, logger, { environment: { ENCLAVE_ADMIN_PASSWORD: randomBytes(18).toString('base64url') }, stdout: discard });
const management = await openManagement(instance, config, logger);
const ctx: OpContext = { principal: { uid: 0, gids: [0], superuser: true }, clientAddress: '127.0.0.1', protocol: 'internal', requestId: 'bench-nfs', logger };
const fs = instance.fileSystem;
const root = await fs.root(ctx);
try {
  await fs.mkdir(ctx, root, 'bench', { mode: 0o777 });
} catch {
  // exists from an earlier run
}
const exports = [{ id: '1', value: parseNfsExport({ export_path: '/bench', fs_path: '/bench', restrictions: [{ host_restrictions: ['127.0.0.1'], require_privileged_port: false }] }) }];
const audited = process.env.ENCLAVE_NFS_AUDIT !== '0';
const server = createNfsServer({
  fileSystem: fs,
  exports: { list: async () => exports, onChange: () => () => undefined },
  handleKey: instance.deriveKey('nfs-handles/v1'),
  logger,
  ...(audited ? { auditor: management.auditor } : {}),
});
const port = await server.listen('127.0.0.1', Number(portText));
process.stdout.write(`ready ${port} audit=${audited} pid=${process.pid}\n`);
const stop = async (): Promise<void> => {
  await server.close();
  await management.close();
  await instance.close();
  process.exit(0);
};
// SIGUSR2: empty /bench (nfs.sh reuses its file names every round, and NFS CREATE of an
// existing name is EXIST; ganesha's side is emptied through its local folder), then say so.
let cleanings = 0;
process.on('SIGUSR2', () => {
  void (async () => {
    const bench = (await fs.lookup(ctx, root, 'bench')).handle;
    for (;;) {
      const page = await fs.readdir(ctx, bench, { limit: 1_000 });
      if (page.entries.length === 0) break;
      for (const entry of page.entries) await fs.remove(ctx, bench, entry.name);
    }
    cleanings += 1;
    process.stdout.write(`cleaned ${cleanings}\n`);
  })();
});
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
