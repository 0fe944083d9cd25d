import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import { verifySignature } from './security-keys.js';

/**
 * Unlocking a locked snapshot (Qumulo's unlock-challenge / unlock): the server issues a random
 * challenge bound to the snapshot, its current expiration and its lock key (id and version); the
 * holder of the private key signs it (base64 DER ECDSA-SHA256) and sends the signature back.
 *
 * - Challenges live in memory only: a restart forgets them (ask again), and nothing about them
 *   needs to survive. At most `challengesMax` in all and `perSnapshotMax` per snapshot; each
 *   lives `ttlMs`.
 * - A challenge is single-use: the first signature that verifies consumes it, so a replayed
 *   signature fails. A signature that does not verify consumes nothing (a wrong key must not
 *   spoil the right key's challenge).
 * - A change of the snapshot's expiration (extending it is allowed while locked) or of its key
 *   (a rotation) makes its outstanding challenges stale.
 */

export const CHALLENGE_TTL_MS = 10 * 60_000;
export const CHALLENGES_MAX = 1_024;
export const CHALLENGES_PER_SNAPSHOT_MAX = 4;
const NONCE_BYTES = 32;

/** What the challenge machinery needs to know about a snapshot. Expirations in ns since the epoch. */
export interface LockableSnapshot {
  readonly id: string;
  readonly expirationNs: bigint | null;
  /** The key that locks it; null when it is not locked. */
  readonly lockKeyId: string | null;
}

/** The public half of a lock key, as the key store has it now. */
export interface LockKey {
  readonly id: string;
  readonly public_key: string;
  readonly version: number;
}

export interface LockChallengesOptions {
  readonly clock: Clock;
  readonly randomBytes: (size: number) => Uint8Array;
  /** The key store's current view of a key (SecurityKeyStore.find); undefined if deleted. */
  readonly findKey: (keyId: string) => Promise<LockKey | undefined>;
  readonly ttlMs?: number;
  readonly challengesMax?: number;
  readonly perSnapshotMax?: number;
}

interface Outstanding {
  readonly challenge: string;
  readonly snapshotId: string;
  readonly expiration: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly issuedMs: number;
}

const expirationText = (expirationNs: bigint | null) => (expirationNs === null ? 'never' : expirationNs.toString());

export class LockChallenges {
  private readonly ttlMs: number;
  private readonly challengesMax: number;
  private readonly perSnapshotMax: number;
  /** In issue order (Map keeps insertion order), so the oldest are evicted first. */
  private readonly outstanding = new Map<string, Outstanding>();

  constructor(private readonly options: LockChallengesOptions) {
    this.ttlMs = options.ttlMs ?? CHALLENGE_TTL_MS;
    this.challengesMax = options.challengesMax ?? CHALLENGES_MAX;
    this.perSnapshotMax = options.perSnapshotMax ?? CHALLENGES_PER_SNAPSHOT_MAX;
  }

  /** How many challenges are outstanding (tests check the bounds). */
  get size(): number {
    return this.outstanding.size;
  }

  /**
   * A new challenge for a locked snapshot. The text names what it binds, so the signer can read
   * what they sign. Throws Conflict if the snapshot is not locked, NotFound if its key is gone.
   */
  async issueChallenge(snapshot: LockableSnapshot): Promise<string> {
    if (snapshot.lockKeyId === null) throw new FsError('Conflict', `snapshot ${snapshot.id} is not locked`);
    const key = await this.options.findKey(snapshot.lockKeyId);
    if (key === undefined) throw new FsError('NotFound', `the security key ${snapshot.lockKeyId} that locks snapshot ${snapshot.id} no longer exists`);
    const nowMs = this.options.clock.nowMs();
    this.purgeExpired(nowMs);
    const nonce = Buffer.from(this.options.randomBytes(NONCE_BYTES)).toString('base64url');
    const expiration = expirationText(snapshot.expirationNs);
    const challenge = [
      'enclave-snapshot-unlock:v1',
      `snapshot=${snapshot.id}`,
      `expiration_ns=${expiration}`,
      `key=${key.id}`,
      `key_version=${key.version}`,
      `issued_ms=${nowMs}`,
      `nonce=${nonce}`,
    ].join(':');
    const ofSnapshot = [...this.outstanding.values()].filter((entry) => entry.snapshotId === snapshot.id);
    for (const old of ofSnapshot.slice(0, Math.max(0, ofSnapshot.length - this.perSnapshotMax + 1))) this.outstanding.delete(old.challenge);
    while (this.outstanding.size >= this.challengesMax) {
      const oldest = this.outstanding.keys().next().value;
      if (oldest === undefined) break;
      this.outstanding.delete(oldest);
    }
    this.outstanding.set(challenge, { challenge, snapshotId: snapshot.id, expiration, keyId: key.id, keyVersion: key.version, issuedMs: nowMs });
    return challenge;
  }

  /**
   * Checks an unlock signature against the snapshot's outstanding challenges and consumes the one
   * it signs. `snapshot` must be the snapshot as it is NOW (its current expiration and key). The
   * caller clears the lock only when this resolves. Throws PermissionDenied with the reason:
   * no challenge, all stale or expired, or a signature that matches none.
   */
  async verifyUnlock(snapshot: LockableSnapshot, signatureBase64: string): Promise<void> {
    if (snapshot.lockKeyId === null) throw new FsError('Conflict', `snapshot ${snapshot.id} is not locked`);
    const key = await this.options.findKey(snapshot.lockKeyId);
    if (key === undefined) throw new FsError('NotFound', `the security key ${snapshot.lockKeyId} that locks snapshot ${snapshot.id} no longer exists`);
    // From here on nothing awaits, so two requests with one signature cannot both succeed.
    const nowMs = this.options.clock.nowMs();
    this.purgeExpired(nowMs);
    const candidates = [...this.outstanding.values()].filter((entry) => entry.snapshotId === snapshot.id);
    if (candidates.length === 0) throw new FsError('PermissionDenied', `no unlock challenge is outstanding for snapshot ${snapshot.id} (challenges are single-use and last ${this.ttlMs / 60_000} minutes); ask for one`);
    const current = candidates.filter((entry) => entry.expiration === expirationText(snapshot.expirationNs) && entry.keyId === key.id && entry.keyVersion === key.version);
    for (const stale of candidates.filter((entry) => !current.includes(entry))) this.outstanding.delete(stale.challenge);
    if (current.length === 0) throw new FsError('PermissionDenied', `the unlock challenges for snapshot ${snapshot.id} are stale: its expiration or lock key changed since; ask for a new one`);
    const signed = current.find((entry) => verifySignature(key.public_key, Buffer.from(entry.challenge, 'utf8'), signatureBase64));
    if (signed === undefined) throw new FsError('PermissionDenied', `the signature does not sign an outstanding unlock challenge of snapshot ${snapshot.id} with its lock key`);
    this.outstanding.delete(signed.challenge);
  }

  /** Forgets a snapshot's challenges (it was unlocked another way, or deleted). */
  forget(snapshotId: string): void {
    for (const entry of [...this.outstanding.values()]) if (entry.snapshotId === snapshotId) this.outstanding.delete(entry.challenge);
  }

  private purgeExpired(nowMs: number): void {
    for (const entry of [...this.outstanding.values()]) {
      // A clock that went backwards also ends a challenge: its age is unknowable.
      if (nowMs - entry.issuedMs >= this.ttlMs || nowMs < entry.issuedMs) this.outstanding.delete(entry.challenge);
    }
  }
}

/** A change to a snapshot that a lock may forbid. */
export type SnapshotChange =
  | { readonly kind: 'delete' }
  /** The expiry path: the server deletes a snapshot whose expiration has passed. */
  | { readonly kind: 'expire' }
  | { readonly kind: 'set-expiration'; readonly expirationNs: bigint | null };

export type LockDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/**
 * The lock rule, for everyone, the administrator included: a locked snapshot cannot be deleted,
 * nor its expiration shortened or removed; it can be extended, and it is still deleted on
 * schedule once its expiration has passed. An unlocked snapshot allows everything here.
 */
export function canDeleteOrShorten(snapshot: LockableSnapshot, change: SnapshotChange, nowNs: bigint): LockDecision {
  if (change.kind === 'expire') {
    return snapshot.expirationNs !== null && nowNs >= snapshot.expirationNs ? { allowed: true } : { allowed: false, reason: `snapshot ${snapshot.id} has not expired yet` };
  }
  if (snapshot.lockKeyId === null) return { allowed: true };
  if (change.kind === 'delete') return { allowed: false, reason: `snapshot ${snapshot.id} is locked; unlock it with its key first (unlock-challenge, then unlock)` };
  if (change.expirationNs === null) {
    return snapshot.expirationNs === null ? { allowed: true } : { allowed: false, reason: `snapshot ${snapshot.id} is locked; its expiration can be extended but not removed` };
  }
  if (snapshot.expirationNs === null || change.expirationNs < snapshot.expirationNs) {
    return { allowed: false, reason: `snapshot ${snapshot.id} is locked; its expiration can only be extended` };
  }
  return { allowed: true };
}

/** `canDeleteOrShorten` as a guard: throws FsError Locked (HTTP 423) with the reason. */
export function checkLockAllows(snapshot: LockableSnapshot, change: SnapshotChange, nowNs: bigint): void {
  const decision = canDeleteOrShorten(snapshot, change, nowNs);
  if (!decision.allowed) throw new FsError('Locked', decision.reason);
}
