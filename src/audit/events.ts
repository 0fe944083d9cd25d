import type { OpContext, Protocol } from '../core/context.js';

/**
 * The audit event: who did what, from where, through which protocol, with which outcome.
 * Operation names follow Qumulo's audit log where one exists (fs_read_data, rest_login, ...);
 * management actions are `<area>_<verb>` (users_create, audit_set_syslog_config). Status is `ok`
 * or the error class the caller saw (fs_access_denied_error, http_unauthorized_error, ...).
 */
export interface AuditUser {
  readonly name?: string;
  readonly uid?: number;
  readonly sid?: string;
  /** The internal user id (local user id, access-token owner). */
  readonly id?: string;
}

export type AuditProtocol = Protocol;

export const FS_OPERATIONS = [
  'fs_open',
  'fs_read_data',
  'fs_write_data',
  'fs_create_file',
  'fs_create_directory',
  'fs_create_symlink',
  'fs_create_hard_link',
  'fs_delete',
  'fs_tree_delete',
  'fs_rename',
  'fs_list_directory',
  'fs_read_metadata',
  'fs_write_metadata',
  'fs_read_link',
  'fs_set_quota',
  'fs_fsstat',
] as const;
export const CONNECTIVITY_OPERATIONS = ['rest_login', 'rest_logout', 'nfs_mount', 'smb_login', 'share_connect', 'ftp_login'] as const;

/** Operations coalesced when repeated (see Coalescer): reads change nothing, so a count suffices. */
export const COALESCED_OPERATIONS: ReadonlySet<string> = new Set(['fs_read_data', 'fs_read_metadata', 'fs_list_directory', 'fs_read_link']);

const OPERATION_PATTERN = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/;
export const OPERATION_LENGTH_MAX = 64;

export type AuditDetails = Readonly<Record<string, unknown>>;

export interface AuditEvent {
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  readonly user: AuditUser;
  readonly clientAddress: string;
  readonly protocol: AuditProtocol;
  readonly operation: string;
  readonly status: string;
  readonly fileId?: string;
  readonly path?: string;
  readonly targetPath?: string;
  /** Offset and size for data; before and after for metadata; `count` for coalesced reads. */
  readonly details?: AuditDetails;
}

/** An event after the local log accepted it: `seq` is its place in the hash chain. */
export interface AuditRecordEvent extends AuditEvent {
  readonly seq: number;
}

/** Programmer error (a misspelt operation name), not an expected failure: it throws. */
export function assertOperationName(operation: string): void {
  if (operation.length > OPERATION_LENGTH_MAX || !OPERATION_PATTERN.test(operation)) {
    throw new RangeError(`audit operation ${JSON.stringify(operation)} is not <area>_<verb> in lower case`);
  }
}

export interface EventFields {
  readonly operation: string;
  readonly status?: string;
  readonly fileId?: string;
  readonly path?: string;
  readonly targetPath?: string;
  readonly details?: AuditDetails;
  /** Overrides what the context says (a login names the user before a principal exists). */
  readonly user?: AuditUser;
}

/** Builds an event for an operation run under `ctx`, stamped with `nowMs`. */
export function eventFromContext(ctx: OpContext, nowMs: number, fields: EventFields): AuditEvent {
  const principal = ctx.principal;
  const user: AuditUser = fields.user ?? {
    ...(principal.name === undefined ? {} : { name: principal.name }),
    uid: principal.uid,
    ...(principal.sid === undefined ? {} : { sid: principal.sid }),
  };
  return {
    time: nowMs,
    user,
    clientAddress: ctx.clientAddress,
    protocol: ctx.protocol,
    operation: fields.operation,
    status: fields.status ?? 'ok',
    ...(fields.fileId === undefined ? {} : { fileId: fields.fileId }),
    ...(fields.path === undefined ? {} : { path: fields.path }),
    ...(fields.targetPath === undefined ? {} : { targetPath: fields.targetPath }),
    ...(fields.details === undefined ? {} : { details: fields.details }),
  };
}

/** The user as one CSV column, Qumulo's fallback order: name, then SID, then UID, then id. */
export function userLabel(user: AuditUser): string {
  return user.name ?? user.sid ?? (user.uid === undefined ? undefined : String(user.uid)) ?? user.id ?? '';
}
