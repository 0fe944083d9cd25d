import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes `data` to a new temp file beside `path` with `mode` and fsyncs it; returns the temp path. */
async function writeTemp(path: string, data: Uint8Array, mode: number): Promise<string> {
  const temp = join(dirname(path), `.tmp-${basename(path)}-${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` atomically and durably: temp file, fsync, rename over, fsync the directory.
 * Readers see the old or the new content, never a mix, also after a crash.
 */
export async function replaceFileDurably(path: string, data: Uint8Array, mode: number): Promise<void> {
  const temp = await writeTemp(path, data, mode);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/**
 * Creates `path` atomically and durably, failing with EEXIST if it exists: a hard link never
 * replaces its target, so two concurrent initialisations cannot overwrite each other's key.
 */
export async function createFileDurably(path: string, data: Uint8Array, mode: number): Promise<void> {
  const temp = await writeTemp(path, data, mode);
  try {
    await link(temp, path);
  } finally {
    // A leftover temp holds at worst the same secret the target holds, in the same directory
    // with the same mode; the failure that matters is the link's, so it is the one thrown.
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDirectory(dirname(path));
}
