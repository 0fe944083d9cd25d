/**
 * The peer: the same workloads straight on the local file system with node:fs/promises, made
 * durable the POSIX way (fsync of the file, and of the directory whose entry changed).
 */
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, opendir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchConfig } from './bench-config.js';
import type { BenchSide } from './side.js';

const FILE_MODE = 0o644;

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function createExclusive(path: string): Promise<FileHandle> {
  return open(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, FILE_MODE);
}

export async function openLocalSide(root: string, config: BenchConfig): Promise<BenchSide<string, FileHandle>> {
  await mkdir(root, { recursive: true });
  const sequential =
    config.localSequentialSync === 'each' ? 'pwrite + fdatasync per 1 MiB write' : 'pwrite per 1 MiB write, one fsync at the end';
  return {
    name: 'local',
    describe: {
      create: 'open(O_CREAT\\|O_EXCL) + fsync(file) + fsync(directory) per file',
      stat: 'lstat(path)',
      list: `opendir (bufferSize = page) + lstat of each entry, a page's lstats in parallel`,
      sequential: `${sequential}; file entry fsynced once at creation; read: pread 1 MiB (page cache warm)`,
      random: 'pwrite + fdatasync on one shared fd',
    },
    async makeDirectory(name) {
      const path = join(root, name);
      await mkdir(path);
      await fsyncDirectory(root);
      return path;
    },
    async createEmpty(directory, name) {
      const handle = await createExclusive(join(directory, name));
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDirectory(directory);
    },
    async stat(directory, name) {
      return (await lstat(join(directory, name))).size;
    },
    async list(directory, pageEntries) {
      let count = 0;
      let page: string[] = [];
      const statPage = async (): Promise<void> => {
        await Promise.all(page.map((name) => lstat(join(directory, name))));
        count += page.length;
        page = [];
      };
      for await (const entry of await opendir(directory, { bufferSize: pageEntries })) {
        page.push(entry.name);
        if (page.length === pageEntries) await statPage();
      }
      await statPage();
      return count;
    },
    async createFile(name) {
      const handle = await createExclusive(join(root, name));
      await fsyncDirectory(root);
      return handle;
    },
    async write(file, offset, data, options) {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await file.write(data, written, data.length - written, offset + written);
        written += bytesWritten;
      }
      if (options.sync) await file.datasync();
    },
    async flush(file) {
      await file.sync();
    },
    async read(file, offset, length) {
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await file.read(buffer, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    },
    async closeFile(file) {
      await file.close();
    },
    async close() {},
  };
}
