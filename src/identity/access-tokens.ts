import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import { Keyspace } from '../storage/metadata/keyspaces.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { key, prefixEnd } from '../storage/metadata/tuple.js';

/**
 * Long-lived access tokens for automation: `enat_<id>.<secret>`, 256 random bits of secret. Only
 * a SHA-256 of the secret is stored (a slow hash buys nothing for a random 256-bit secret) and it
 * is compared in constant time. Optional expiry; revocation deletes the record, effective at once;
 * the last use is recorded (at most once a minute per token, to keep reads cheap).
 *
 * Records under Keyspace.identity: [0x12, id] -> token; [0x13, user id, id] -> ''.
 */

const TOKEN = 0x12;
const TOKEN_OF_USER = 0x13;
const PREFIX = 'enat_';
export const TOKENS_PER_USER_MAX = 100;
const LIST_MAX = 10_000;
const LAST_USED_RESOLUTION_MS = 60_000;

export interface AccessToken {
  readonly id: string;
  readonly userId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs?: number;
  readonly lastUsedAtMs?: number;
  readonly description: string;
}

interface StoredToken extends AccessToken {
  readonly secretSha256: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const tokenKey = (id: string) => key().byte(Keyspace.identity).byte(TOKEN).string(id).build();
const tokenPrefix = () => key().byte(Keyspace.identity).byte(TOKEN).build();
const userTokenKey = (userId: string, id: string) => key().byte(Keyspace.identity).byte(TOKEN_OF_USER).string(userId).string(id).build();
const userTokensPrefix = (userId: string) => key().byte(Keyspace.identity).byte(TOKEN_OF_USER).string(userId).build();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const publicView = ({ secretSha256: _secret, ...token }: StoredToken): AccessToken => token;

export function isAccessToken(bearer: string): boolean {
  return bearer.startsWith(PREFIX);
}

export class AccessTokens {
  constructor(private readonly options: { metadata: MetadataStore; clock: Clock }) {}

  async create(input: { userId: string; expiresAtMs?: number; description?: string }): Promise<{ token: AccessToken; bearer: string }> {
    const now = this.options.clock.nowMs();
    if (input.expiresAtMs !== undefined && input.expiresAtMs <= now) throw new FsError('InvalidArgument', 'the expiry must be in the future');
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const stored: StoredToken = {
      id,
      userId: input.userId,
      createdAtMs: now,
      ...(input.expiresAtMs === undefined ? {} : { expiresAtMs: input.expiresAtMs }),
      description: input.description ?? '',
      secretSha256: sha256(secret),
    };
    await this.options.metadata.write(async (tx) => {
      const existing = await tx.scan({ start: userTokensPrefix(input.userId), end: prefixEnd(userTokensPrefix(input.userId)), limit: TOKENS_PER_USER_MAX });
      if (existing.length >= TOKENS_PER_USER_MAX) throw new FsError('NoSpace', `a user has at most ${TOKENS_PER_USER_MAX} access tokens`);
      tx.put(tokenKey(id), encoder.encode(JSON.stringify(stored)));
      tx.put(userTokenKey(input.userId, id), new Uint8Array(0));
    });
    return { token: publicView(stored), bearer: `${PREFIX}${id}.${secret}` };
  }

  /** The token a bearer string names, if valid; records its use. */
  async verify(bearer: string): Promise<AccessToken | undefined> {
    const match = /^enat_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/.exec(bearer);
    if (match === null) return undefined;
    const [, id, secret] = match as unknown as [string, string, string];
    const value = await this.options.metadata.read((tx) => tx.get(tokenKey(id)));
    if (value === undefined) return undefined;
    const stored = JSON.parse(decoder.decode(value)) as StoredToken;
    const expected = Buffer.from(stored.secretSha256, 'hex');
    const given = Buffer.from(sha256(secret), 'hex');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const now = this.options.clock.nowMs();
    if (stored.expiresAtMs !== undefined && stored.expiresAtMs <= now) return undefined;
    if (stored.lastUsedAtMs === undefined || now - stored.lastUsedAtMs >= LAST_USED_RESOLUTION_MS) {
      await this.options.metadata.write(async (tx) => {
        const current = await tx.get(tokenKey(id));
        if (current !== undefined) tx.put(tokenKey(id), encoder.encode(JSON.stringify({ ...(JSON.parse(decoder.decode(current)) as StoredToken), lastUsedAtMs: now })));
      });
    }
    return publicView(stored);
  }

  async list(filter: { userId?: string } = {}): Promise<AccessToken[]> {
    return this.options.metadata.read(async (tx) => {
      if (filter.userId === undefined) {
        const entries = await tx.scan({ start: tokenPrefix(), end: prefixEnd(tokenPrefix()), limit: LIST_MAX });
        return entries.map((entry) => publicView(JSON.parse(decoder.decode(entry.value)) as StoredToken));
      }
      const ids = await tx.scan({ start: userTokensPrefix(filter.userId), end: prefixEnd(userTokensPrefix(filter.userId)), limit: TOKENS_PER_USER_MAX });
      const tokens: AccessToken[] = [];
      for (const entry of ids) {
        const id = decoder.decode(entry.key.subarray(userTokensPrefix(filter.userId).length, entry.key.length - 2));
        const value = await tx.get(tokenKey(id));
        if (value !== undefined) tokens.push(publicView(JSON.parse(decoder.decode(value)) as StoredToken));
      }
      return tokens;
    });
  }

  async get(id: string): Promise<AccessToken | undefined> {
    const value = await this.options.metadata.read((tx) => tx.get(tokenKey(id)));
    return value === undefined ? undefined : publicView(JSON.parse(decoder.decode(value)) as StoredToken);
  }

  async revoke(id: string): Promise<void> {
    await this.options.metadata.write(async (tx) => {
      const value = await tx.get(tokenKey(id));
      if (value === undefined) throw new FsError('NotFound', `no access token ${id}`);
      const stored = JSON.parse(decoder.decode(value)) as StoredToken;
      tx.delete(tokenKey(id));
      tx.delete(userTokenKey(stored.userId, id));
    });
  }

  async revokeAllOf(userId: string): Promise<void> {
    for (const token of await this.list({ userId })) await this.revoke(token.id);
  }
}
