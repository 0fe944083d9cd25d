import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { parseAddressRules } from './address-rules.js';
import { checkAbsolutePath } from './fs-paths.js';
import { checkSchema, SettingsTag, type CollectionDefinition, type StoredRecord } from './settings-store.js';

/**
 * SMB shares. Secure defaults: encryption required, access-based enumeration on, no permission
 * entry (a share admits nobody until one is granted: answers carry `admits_nobody: true`).
 * Permissions: a DENIED entry that matches wins over any ALLOWED one. Network permissions: none
 * means every address; otherwise an address must match an ALLOWED entry and no DENIED one.
 */

export const SMB_SHARES_MAX = 1_000;
export const SHARE_NAME_CHARS_MAX = 80;
export const PERMISSIONS_MAX = 100;
const DESCRIPTION_CHARS_MAX = 1_024;
const TRUSTEE_NAME_CHARS_MAX = 256;
/** MS-SRVS: `IPC$` is the server's own pipe share; the administrative shares are reserved too. */
const RESERVED_SHARE_NAMES = new Set(['ipc$', 'admin$', 'print$']);
/** MS-FSCC 2.1.6 share names: no control characters and none of `"\/[]:|<>+=;,*?`. */
const SHARE_NAME_FORBIDDEN = /[\u0000-\u001f\u007f"\\/[\]:|<>+=;,*?]/;
const SID_PATTERN = /^S-1-[0-9]{1,14}(?:-[0-9]{1,10}){1,15}$/;

const RightsSchema = Type.Array(Type.Enum(['READ', 'CHANGE', 'FULL_CONTROL']), { minItems: 1, maxItems: 3, uniqueItems: true });
const TypeSchema = Type.Enum(['ALLOWED', 'DENIED']);

const TrusteeSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: TRUSTEE_NAME_CHARS_MAX, description: 'A user or group name, or Everyone / Guest.' })),
    uid: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_294 })),
    gid: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_294 })),
    sid: Type.Optional(Type.String({ pattern: SID_PATTERN.source })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);

const PermissionSchema = Type.Object({ type: TypeSchema, trustee: TrusteeSchema, rights: RightsSchema }, { additionalProperties: false });

const NetworkPermissionSchema = Type.Object(
  {
    type: TypeSchema,
    address_ranges: Type.Array(Type.String(), { minItems: 1, maxItems: 1_000, description: 'IP addresses, CIDR subnets or ranges (a-b).' }),
    rights: RightsSchema,
  },
  { additionalProperties: false },
);

export const SmbShareInputSchema = Type.Object(
  {
    share_name: Type.String({ minLength: 1 }),
    fs_path: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String({ maxLength: DESCRIPTION_CHARS_MAX })),
    read_only: Type.Optional(Type.Boolean({ default: false })),
    access_based_enumeration: Type.Optional(Type.Boolean({ default: true })),
    require_encryption: Type.Optional(Type.Boolean({ default: true })),
    permissions: Type.Optional(Type.Array(PermissionSchema, { maxItems: PERMISSIONS_MAX })),
    network_permissions: Type.Optional(Type.Array(NetworkPermissionSchema, { maxItems: PERMISSIONS_MAX })),
  },
  { additionalProperties: false },
);

type SmbShareInput = Static<typeof SmbShareInputSchema>;
export type SmbPermission = Static<typeof PermissionSchema>;
export type SmbNetworkPermission = Static<typeof NetworkPermissionSchema>;

export interface SmbShare {
  readonly share_name: string;
  readonly fs_path: string;
  readonly description: string;
  readonly read_only: boolean;
  readonly access_based_enumeration: boolean;
  readonly require_encryption: boolean;
  readonly permissions: readonly SmbPermission[];
  readonly network_permissions: readonly SmbNetworkPermission[];
}

/** Share name rules: 1-80 characters, none forbidden, no leading/trailing space, not reserved. */
export function checkShareName(name: string): void {
  const field = 'smb_share.share_name';
  if ([...name].length > SHARE_NAME_CHARS_MAX) throw new FsError('NameTooLong', `${field} is longer than ${SHARE_NAME_CHARS_MAX} characters`);
  if (SHARE_NAME_FORBIDDEN.test(name)) throw new FsError('InvalidName', `${field} must not contain control characters or any of " \\ / [ ] : | < > + = ; , * ?`);
  if (name.trim() !== name) throw new FsError('InvalidName', `${field} must not start or end with a space`);
  if (name === '.' || name === '..') throw new FsError('InvalidName', `${field} must not be "." or ".."`);
  if (RESERVED_SHARE_NAMES.has(name.toLowerCase())) throw new FsError('InvalidName', `${field} ${name} is reserved by the SMB server`);
}

export function parseSmbShare(input: unknown): SmbShare {
  checkSchema(SmbShareInputSchema, input, 'smb_share');
  const checked = input as SmbShareInput;
  checkShareName(checked.share_name);
  checkAbsolutePath(checked.fs_path, 'smb_share.fs_path');
  const networkPermissions = checked.network_permissions ?? [];
  networkPermissions.forEach((permission, index) =>
    parseAddressRules(permission.address_ranges, { allowHostnames: false, field: `smb_share.network_permissions[${index}].address_ranges` }),
  );
  return {
    share_name: checked.share_name,
    fs_path: checked.fs_path,
    description: checked.description ?? '',
    read_only: checked.read_only ?? false,
    access_based_enumeration: checked.access_based_enumeration ?? true,
    require_encryption: checked.require_encryption ?? true,
    permissions: checked.permissions ?? [],
    network_permissions: networkPermissions,
  };
}

export const smbShares: CollectionDefinition<SmbShare> = {
  tag: SettingsTag.smbShares,
  title: 'SMB share',
  recordsMax: SMB_SHARES_MAX,
  parse: parseSmbShare,
  // Windows compares share names case-insensitively; `Data` and `DATA` would be one share.
  checkAgainst: (value, others) => {
    const name = value.share_name.toLowerCase();
    const clash = others.find((other) => other.value.share_name.toLowerCase() === name);
    if (clash !== undefined) throw new FsError('Exists', `share_name ${value.share_name} is already used by SMB share ${clash.id} (${clash.value.share_name}); names are case-insensitive`);
  },
};

/** True when no permission entry allows anything: the share is defined but closed. */
export function shareAdmitsNobody(value: SmbShare): boolean {
  return !value.permissions.some((permission) => permission.type === 'ALLOWED');
}

export function presentSmbShare(record: StoredRecord<SmbShare>): Record<string, unknown> {
  return { id: record.id, ...record.value, ...(shareAdmitsNobody(record.value) ? { admits_nobody: true } : {}) };
}
