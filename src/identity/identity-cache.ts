import { ExactCache } from '../storage/metadata/exact-cache.js';
import type { LocalUser } from './local-users.js';

/** Users and users' group lists kept in memory, each (least recently used dropped first). */
export const IDENTITY_ENTRIES_CACHED_MAX = 10_000;

/**
 * The in-memory copies of identity records that every authenticated request reads (S3 and REST
 * authentication, NFS manage_gids): user records by id, and each user's explicit group gids.
 * Exact, not timed (ExactCache): every write of a user record or a membership goes through
 * `mutate` of the cache here, so a deleted user or a membership change takes effect at the next
 * request. LocalUsers and LocalGroups both write memberships (deleting a user drops its own), so
 * instances over one metadata store must share one IdentityCache: the composition root passes it
 * to both.
 */
export class IdentityCache {
  readonly users: ExactCache<string, LocalUser>;
  readonly groupsOf: ExactCache<string, readonly number[]>;

  constructor(options: { entriesMax?: number } = {}) {
    const entriesMax = options.entriesMax ?? IDENTITY_ENTRIES_CACHED_MAX;
    this.users = new ExactCache({ entriesMax });
    this.groupsOf = new ExactCache({ entriesMax });
  }
}
