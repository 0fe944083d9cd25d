import type { Principal } from '../../../core/context.js';
import type { LocalGroups } from '../../../identity/local-groups.js';
import type { LocalUsers } from '../../../identity/local-users.js';
import { ExpiringCache } from './expiring-cache.js';

/**
 * An export's `manage_gids`: AUTH_SYS carries at most 16 supplementary gids (RFC 5531 Appendix
 * A), so a user in more groups loses the rest on the wire. With manage_gids the server replaces
 * the client's list with the user's groups from Enclave's identity layer, as knfsd's
 * `rpc.mountd --manage-gids` and NFS-Ganesha's `Manage_Gids` do. Like them, the credential's
 * primary gid stays first (it is the group of files the caller creates); only the rest of the list
 * is replaced, by the user's primary gid and supplementary gids from the user record. A uid no
 * local user has keeps the client's list.
 *
 * Answers are cached per uid for `ttlMs` (30 s by default), unknown uids too, so a call costs no
 * metadata read while its uid is cached; a change of membership reaches NFS within that time.
 */

/** The groups of local users by uid: `localUserGroups(instance.users, instance.groups)` in production. */
export interface UserGroupsSource {
  /**
   * The gids of the local user whose uid is `uid`, primary gid first; undefined when no local user
   * has it. Rejects with the store's FsError (Unavailable, ...) when it cannot be read.
   */
  gidsOfUid(uid: number): Promise<readonly number[] | undefined>;
}

export function localUserGroups(users: Pick<LocalUsers, 'findByUid'>, groups: Pick<LocalGroups, 'groupsOf'>): UserGroupsSource {
  return {
    async gidsOfUid(uid) {
      const user = await users.findByUid(uid);
      if (user === undefined) return undefined;
      return [user.primaryGid, ...(await groups.groupsOf(user.id)).filter((gid) => gid !== user.primaryGid)];
    },
  };
}

export interface CallerGroupsLimits {
  readonly ttlMs: number;
  readonly entriesMax: number;
}

export const CALLER_GROUPS_LIMITS: CallerGroupsLimits = { ttlMs: 30_000, entriesMax: 4_096 };

export class CallerGroups {
  private readonly cache: ExpiringCache<number, readonly number[] | undefined>;
  private readonly ttlMs: number;

  constructor(private readonly options: { source: UserGroupsSource | undefined; nowMs: () => number; limits?: Partial<CallerGroupsLimits> }) {
    const limits = { ...CALLER_GROUPS_LIMITS, ...options.limits };
    this.ttlMs = limits.ttlMs;
    this.cache = new ExpiringCache({ entriesMax: limits.entriesMax, nowMs: options.nowMs });
  }

  /**
   * `principal` (an unsquashed AUTH_SYS caller, its credential gid first) with its supplementary
   * gids taken from the identity layer; unchanged when no local user has its uid. Synchronous
   * while the uid is cached; rejects when the identity store cannot be read.
   */
  withManagedGids(principal: Principal): Principal | Promise<Principal> {
    const source = this.options.source;
    if (source === undefined) return principal;
    const gids = this.cache.get(principal.uid, () => source.gidsOfUid(principal.uid), () => this.ttlMs);
    return gids instanceof Promise ? gids.then((loaded) => replaceGids(principal, loaded)) : replaceGids(principal, gids);
  }
}

function replaceGids(principal: Principal, identityGids: readonly number[] | undefined): Principal {
  if (identityGids === undefined) return principal;
  const primary = principal.gids[0];
  const gids = primary === undefined ? [...identityGids] : [primary, ...identityGids.filter((gid) => gid !== primary)];
  return { ...principal, gids };
}
