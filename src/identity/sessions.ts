import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { key, prefixEnd } from '../storage/metadata/tuple.js';

/**
 * Management sessions: `POST /v1/session/login` hands out a signed, expiring bearer token
 * `v1.<payload>.<signature>` (HMAC-SHA256 under a key derived from the instance keyring; payload:
 * session id, user id, expiry). The signature and expiry are checked first, without touching the
 * store; the session record must then still exist, which makes logout and revocation immediate.
 * A session also ends when it has not been used for longer than the inactivity timeout: each use
 * records its time (at most once per LAST_USE_RESOLUTION_MS, so a busy session does not write on
 * every request).
 *
 * Records under Keyspace.identity: [0x10, session id] -> session; [0x11, user id, session id] -> ''.
 */

const SESSION = 0x10;
const SESSION_OF_USER = 0x11;
const TOKEN_VERSION = 'v1';
const SESSIONS_PER_USER_MAX = 1_000;
const TOKEN_CHARS_MAX = 1_024;
/** How stale a recorded last use may get: small against the shortest inactivity timeout (1 min). */
export const LAST_USE_RESOLUTION_MS = 5_000;

export type SessionScope = 'full' | 'mfa-enrolment';

export interface Session {
  readonly id: string;
  readonly userId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  /** 'mfa-enrolment': the user must enrol a second factor before anything but SELF routes. */
  readonly scope: SessionScope;
  readonly clientAddress: string;
  /** When the session was last used; records from before this field read as createdAtMs. */
  readonly lastUsedAtMs?: number;
}

export interface SessionsOptions {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /** 32 bytes; derived from the keyring so tokens survive restarts and die with the instance. */
  readonly signingKey: Uint8Array;
  readonly lifetimeMs: () => Promise<number>;
  /** A session not used for longer than this is refused and ended; absent: no inactivity limit. */
  readonly idleTimeoutMs?: () => Promise<number>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const sessionKey = (id: string) => key().byte(Keyspace.identity).byte(SESSION).string(id).build();
const userSessionKey = (userId: string, id: string) => key().byte(Keyspace.identity).byte(SESSION_OF_USER).string(userId).string(id).build();
const userSessionsPrefix = (userId: string) => key().byte(Keyspace.identity).byte(SESSION_OF_USER).string(userId).build();

export class Sessions {
  constructor(private readonly options: SessionsOptions) {}

  async create(input: { userId: string; scope: SessionScope; clientAddress: string }): Promise<{ token: string; session: Session }> {
    const now = this.options.clock.nowMs();
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      userId: input.userId,
      createdAtMs: now,
      expiresAtMs: now + (input.scope === 'full' ? await this.options.lifetimeMs() : 15 * 60_000),
      scope: input.scope,
      clientAddress: input.clientAddress,
      lastUsedAtMs: now,
    };
    await this.options.metadata.write(async (tx) => {
      const existing = await tx.scan({ start: userSessionsPrefix(session.userId), end: prefixEnd(userSessionsPrefix(session.userId)), limit: SESSIONS_PER_USER_MAX });
      // A user at the limit loses their oldest sessions' index entries first (bounded storage).
      if (existing.length >= SESSIONS_PER_USER_MAX) for (const entry of existing.slice(0, existing.length - SESSIONS_PER_USER_MAX + 1)) tx.delete(entry.key);
      tx.put(sessionKey(session.id), encoder.encode(JSON.stringify(session)));
      tx.put(userSessionKey(session.userId, session.id), new Uint8Array(0));
    });
    return { token: this.sign(session), session };
  }

  /**
   * The live session a token names, or undefined (bad signature, expired, revoked, or idle for
   * longer than the inactivity timeout, which also ends it). Records the use.
   */
  async verify(token: string): Promise<Session | undefined> {
    const claims = this.claims(token);
    if (claims === undefined || claims.exp <= this.options.clock.nowMs()) return undefined;
    const stored = await this.options.metadata.read((tx) => tx.get(sessionKey(claims.sid)));
    if (stored === undefined) return undefined;
    const session = JSON.parse(decoder.decode(stored)) as Session;
    const now = this.options.clock.nowMs();
    if (session.userId !== claims.uid || session.expiresAtMs <= now) return undefined;
    const lastUsedAtMs = session.lastUsedAtMs ?? session.createdAtMs;
    const idleTimeoutMs = await this.options.idleTimeoutMs?.();
    if (idleTimeoutMs !== undefined && now - lastUsedAtMs > idleTimeoutMs) {
      await this.revoke(session.id);
      return undefined;
    }
    if (now - lastUsedAtMs < LAST_USE_RESOLUTION_MS) return session;
    await this.recordUse(session.id, now);
    return { ...session, lastUsedAtMs: now };
  }

  private async recordUse(sessionId: string, nowMs: number): Promise<void> {
    await this.options.metadata.write(async (tx) => {
      const stored = await tx.get(sessionKey(sessionId));
      // Revoked meanwhile: nothing to record (and nothing to bring back).
      if (stored === undefined) return;
      const session = JSON.parse(decoder.decode(stored)) as Session;
      if ((session.lastUsedAtMs ?? 0) >= nowMs) return;
      tx.put(sessionKey(sessionId), encoder.encode(JSON.stringify({ ...session, lastUsedAtMs: nowMs })));
    });
  }

  async revoke(sessionId: string): Promise<void> {
    await this.options.metadata.write(async (tx) => {
      const stored = await tx.get(sessionKey(sessionId));
      if (stored === undefined) return;
      const session = JSON.parse(decoder.decode(stored)) as Session;
      tx.delete(sessionKey(sessionId));
      tx.delete(userSessionKey(session.userId, sessionId));
    });
  }

  /** Ends every session of a user (password change, deletion), optionally but one. */
  async revokeAllOf(userId: string, except?: string): Promise<number> {
    return this.options.metadata.write(async (tx) => {
      const entries = await tx.scan({ start: userSessionsPrefix(userId), end: prefixEnd(userSessionsPrefix(userId)), limit: SESSIONS_PER_USER_MAX });
      let revoked = 0;
      for (const entry of entries) {
        const id = decoder.decode(entry.key.subarray(userSessionsPrefix(userId).length, entry.key.length - 2));
        if (id === except) continue;
        tx.delete(entry.key);
        tx.delete(sessionKey(id));
        revoked++;
      }
      return revoked;
    });
  }

  private sign(session: Session): string {
    const payload = Buffer.from(JSON.stringify({ sid: session.id, uid: session.userId, exp: session.expiresAtMs })).toString('base64url');
    return `${TOKEN_VERSION}.${payload}.${this.mac(payload)}`;
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.options.signingKey).update(`${TOKEN_VERSION}.${payload}`).digest('base64url');
  }

  private claims(token: string): { sid: string; uid: string; exp: number } | undefined {
    if (token.length > TOKEN_CHARS_MAX) return undefined;
    const [version, payload, signature, ...rest] = token.split('.');
    if (version !== TOKEN_VERSION || payload === undefined || signature === undefined || rest.length > 0) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sid?: unknown; uid?: unknown; exp?: unknown };
      if (typeof claims.sid !== 'string' || typeof claims.uid !== 'string' || typeof claims.exp !== 'number') return undefined;
      return { sid: claims.sid, uid: claims.uid, exp: claims.exp };
    } catch {
      return undefined;
    }
  }
}
