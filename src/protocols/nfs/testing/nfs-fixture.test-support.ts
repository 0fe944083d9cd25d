import { randomBytes } from 'node:crypto';
import { openCoreFixture, silentLogger, type CoreFixture } from '../../../core/testing/core-fixture.test-support.js';
import type { NodeHandle } from '../../../core/file-system.js';
import { parseNfsExport, type NfsExport } from '../../../settings/nfs-exports.js';
import { createNfsServer, type NfsServer, type NfsServerOptions } from '../nfs-server.js';
import type { ExportSource } from '../exports/export-table.js';

/** A core fixture with `/exports/data` (mode 0777) and `/outside`, served by an NFS server. */
export interface NfsFixture {
  readonly core: CoreFixture;
  readonly server: NfsServer;
  readonly port: number;
  readonly dataDir: NodeHandle;
  /** Replaces the exports (as an API change would) and reloads them. */
  setExports(exports: Array<{ id: string; value: NfsExport }>): void;
  close(): Promise<void>;
}

export function exportOf(input: unknown): NfsExport {
  return parseNfsExport(input);
}

/** /data -> /exports/data, admitting 127.0.0.1 from any port with root squash (the default). */
export const DATA_EXPORT = { id: '7', value: exportOf({ export_path: '/data', fs_path: '/exports/data', restrictions: [{ host_restrictions: ['127.0.0.1'], require_privileged_port: false }] }) };

export async function openNfsFixture(options: { exports?: Array<{ id: string; value: NfsExport }>; server?: Partial<NfsServerOptions> } = {}): Promise<NfsFixture> {
  const core = await openCoreFixture();
  const { fs, root } = core;
  const rootDir = await fs.root(root);
  const exportsDir = await fs.mkdir(root, rootDir, 'exports', { mode: 0o755 });
  const dataDir = await fs.mkdir(root, exportsDir.handle, 'data', { mode: 0o777 });
  await fs.mkdir(root, rootDir, 'outside', { mode: 0o777 });
  let current = options.exports ?? [DATA_EXPORT];
  const listeners = new Set<() => void>();
  const source: ExportSource = {
    list: async () => current,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const server = createNfsServer({ fileSystem: fs, exports: source, handleKey: randomBytes(32), logger: silentLogger, ...options.server });
  const port = await server.listen('127.0.0.1', 0);
  return {
    core,
    server,
    port,
    dataDir: dataDir.handle,
    setExports: (next) => {
      current = next;
      for (const listener of listeners) listener();
    },
    close: async () => {
      await server.close();
      await core.close();
    },
  };
}
