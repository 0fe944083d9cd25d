import type { Logger } from 'pino';

/**
 * Who is asking. Carries both POSIX and Windows identities, so that one ACL can be evaluated for a
 * caller of any protocol. The identity layer fills in whatever the protocol did not send.
 */
export interface Principal {
  readonly uid: number;
  /** Primary gid first, then supplementary gids. */
  readonly gids: readonly number[];
  readonly sid?: string;
  readonly groupSids?: readonly string[];
  readonly name?: string;
  /** Bypasses permission checks (an unsquashed NFS root, the system itself); never set from input. */
  readonly superuser?: boolean;
}

export type Protocol = 'api' | 'nfsv3' | 'nfsv4.1' | 'smb' | 's3' | 'ftp' | 'internal';

/**
 * The operation context: an explicit argument to every core call, never ambient state.
 * The abort signal lets a protocol cancel work for a client that went away.
 */
export interface OpContext {
  readonly principal: Principal;
  readonly clientAddress: string;
  readonly protocol: Protocol;
  readonly requestId: string;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

export const NOBODY_UID = 65534;
export const NOBODY_GID = 65534;

export function systemContext(logger: Logger, requestId = 'system'): OpContext {
  return {
    principal: { uid: 0, gids: [0], name: 'system', superuser: true },
    clientAddress: 'local',
    protocol: 'internal',
    requestId,
    logger,
  };
}
