import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { replaceFileDurably } from '../keys/durable-file.js';
import type { DataDirLayout } from './data-dir.js';
import { fileExists } from './data-dir.js';

/** What makes this instance itself; fixed at init. */
export interface InstanceIdentity {
  readonly format: 1;
  readonly instanceId: string;
  /** The Windows domain SID of local accounts, `S-1-5-21-x-y-z` with three random sub-authorities. */
  readonly domainSid: string;
  readonly createdAtMs: number;
}

export function newInstanceIdentity(nowMs: number): InstanceIdentity {
  const random = randomBytes(12);
  const subAuthorities = [0, 4, 8].map((offset) => random.readUInt32BE(offset));
  return { format: 1, instanceId: randomUUID(), domainSid: `S-1-5-21-${subAuthorities.join('-')}`, createdAtMs: nowMs };
}

export async function readInstanceIdentity(path: string): Promise<InstanceIdentity> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<InstanceIdentity>;
  if (
    parsed.format !== 1 ||
    typeof parsed.instanceId !== 'string' ||
    typeof parsed.domainSid !== 'string' ||
    !/^S-1-5-21-\d+-\d+-\d+$/.test(parsed.domainSid) ||
    typeof parsed.createdAtMs !== 'number'
  ) {
    throw new Error(`${path} is not a valid instance file`);
  }
  return parsed as InstanceIdentity;
}

/**
 * The identity an unfinished init chose, or a new one recorded durably before anything depends on
 * it, so an init that crashed and runs again gives the admin user the same SID.
 */
export async function pendingInstanceIdentity(layout: DataDirLayout, nowMs: number): Promise<InstanceIdentity> {
  if (await fileExists(layout.pendingInstanceFile)) return readInstanceIdentity(layout.pendingInstanceFile);
  const identity = newInstanceIdentity(nowMs);
  await replaceFileDurably(layout.pendingInstanceFile, encode(identity), 0o600);
  return identity;
}

/** The last step of init: the marker that says the instance is complete. */
export async function completeInstance(layout: DataDirLayout, identity: InstanceIdentity): Promise<void> {
  await replaceFileDurably(layout.instanceFile, encode(identity), 0o600);
  await unlink(layout.pendingInstanceFile).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

function encode(identity: InstanceIdentity): Uint8Array {
  return Buffer.from(`${JSON.stringify(identity, null, 2)}\n`, 'utf8');
}
