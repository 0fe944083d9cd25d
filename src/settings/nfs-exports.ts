import Type, { type Static } from 'typebox';
import { FsError } from '../core/errors.js';
import { AddressMatcher, parseAddressRules } from './address-rules.js';
import { canonicalPath, checkAbsolutePath } from './fs-paths.js';
import { checkSchema, SettingsTag, type CollectionDefinition, type StoredRecord } from './settings-store.js';

/**
 * NFS exports (CONTRACT: `POST /v1/nfs/exports`). Restrictions are an ordered list: the first rule
 * whose host_restrictions match the client decides. Unlike Qumulo, an export with no rule admits
 * nobody (answers carry `admits_nobody: true`), every rule lists its hosts (to admit everyone, say
 * so: `0.0.0.0/0` and `::/0`), root is squashed by default (user_mapping ROOT to nobody 65534)
 * and clients must use a privileged port by default. `manage_gids` is per export (NFS-Ganesha's
 * Manage_Gids is an export option too): the 16-gid limit of AUTH_SYS matters for the data of some
 * exports and not others, and an export is the unit an administrator reasons about; it applies to
 * whichever rule admitted the client, after that rule's user mapping. docs/nfs.md has the details.
 */

export const NFS_EXPORTS_MAX = 1_000;
export const RESTRICTIONS_MAX = 100;
export const HOSTS_PER_RESTRICTION_MAX = 1_000;
export const DESCRIPTION_CHARS_MAX = 1_024;
/** The anonymous uid and gid (`nobody`, `nogroup`) that squashed users become by default. */
export const NOBODY_ID = 65_534;
const ID_MAX = 4_294_967_294;

const HOSTS_DESCRIPTION =
  'IP addresses, CIDR subnets, ranges (a-b), or RFC 1123 hostnames with an optional one-level wildcard (*.lab.example.org). A hostname matches a client whose address has that PTR name and whose name resolves back to the address (forward-confirmed reverse DNS), case-insensitively; answers are cached per address, and a lookup that fails or times out does not match (docs/nfs.md).';
const MANAGE_GIDS_DESCRIPTION =
  "Take callers' supplementary groups from Enclave's local users and groups instead of the AUTH_SYS credential, which carries at most 16 (like rpc.mountd --manage-gids, Ganesha Manage_Gids). The credential's gid stays the primary group; a uid with no local user keeps the client's list; squashed callers keep only map_to_gid. Cached per uid for 30 s.";

export const UserMappingSchema = Type.Enum(['NONE', 'ROOT', 'ALL'], {
  description: 'NONE trusts client uids; ROOT maps uid 0 to map_to_uid/gid (root squash); ALL maps every user.',
});

const RestrictionInputSchema = Type.Object(
  {
    host_restrictions: Type.Array(Type.String(), { minItems: 1, maxItems: HOSTS_PER_RESTRICTION_MAX, description: HOSTS_DESCRIPTION }),
    read_only: Type.Optional(Type.Boolean({ default: false })),
    require_privileged_port: Type.Optional(Type.Boolean({ default: true })),
    user_mapping: Type.Optional(UserMappingSchema),
    map_to_uid: Type.Optional(Type.Integer({ minimum: 0, maximum: ID_MAX })),
    map_to_gid: Type.Optional(Type.Integer({ minimum: 0, maximum: ID_MAX })),
  },
  { additionalProperties: false },
);

export const NfsExportInputSchema = Type.Object(
  {
    export_path: Type.String({ minLength: 1 }),
    fs_path: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String({ maxLength: DESCRIPTION_CHARS_MAX })),
    restrictions: Type.Array(RestrictionInputSchema, { maxItems: RESTRICTIONS_MAX }),
    manage_gids: Type.Optional(Type.Boolean({ default: false, description: MANAGE_GIDS_DESCRIPTION })),
  },
  { additionalProperties: false },
);

/** An export as the API answers it (`presentNfsExport`): the OpenAPI document shows this shape. */
export const NfsExportSchema = Type.Object({
  id: Type.String({ description: 'The record id; also the export id inside NFS file handles.' }),
  export_path: Type.String({ description: 'The path clients mount.' }),
  fs_path: Type.String({ description: 'The directory served.' }),
  description: Type.String(),
  restrictions: Type.Array(
    Type.Object({
      host_restrictions: Type.Array(Type.String(), { description: HOSTS_DESCRIPTION }),
      read_only: Type.Boolean(),
      require_privileged_port: Type.Boolean({ description: 'Refuse clients whose source port is 1024 or above.' }),
      user_mapping: UserMappingSchema,
      map_to_uid: Type.Optional(Type.Integer()),
      map_to_gid: Type.Optional(Type.Integer()),
    }),
    { description: 'In order: the first rule whose host_restrictions match the client decides.' },
  ),
  manage_gids: Type.Boolean({ description: MANAGE_GIDS_DESCRIPTION }),
  admits_nobody: Type.Optional(Type.Boolean({ description: 'Present (true) when the export has no rule and so admits no client.' })),
});

export interface NfsRestriction {
  readonly host_restrictions: readonly string[];
  readonly read_only: boolean;
  readonly require_privileged_port: boolean;
  readonly user_mapping: 'NONE' | 'ROOT' | 'ALL';
  /** Present when user_mapping is ROOT or ALL. */
  readonly map_to_uid?: number;
  readonly map_to_gid?: number;
}

export interface NfsExport {
  readonly export_path: string;
  readonly fs_path: string;
  readonly description: string;
  readonly restrictions: readonly NfsRestriction[];
  /** Records stored before this field existed lack it: read it as `manage_gids === true`. */
  readonly manage_gids: boolean;
}

type RestrictionInput = Static<typeof RestrictionInputSchema>;

function completeRestriction(input: RestrictionInput, index: number): NfsRestriction {
  const field = `nfs_export.restrictions[${index}]`;
  parseAddressRules(input.host_restrictions, { allowHostnames: true, field: `${field}.host_restrictions` });
  const userMapping = input.user_mapping ?? 'ROOT';
  const base = {
    host_restrictions: [...input.host_restrictions],
    read_only: input.read_only ?? false,
    require_privileged_port: input.require_privileged_port ?? true,
    user_mapping: userMapping,
  };
  if (userMapping === 'NONE') {
    if (input.map_to_uid !== undefined || input.map_to_gid !== undefined) {
      throw new FsError('InvalidArgument', `${field}: map_to_uid and map_to_gid need user_mapping ROOT or ALL`);
    }
    return base;
  }
  return { ...base, map_to_uid: input.map_to_uid ?? NOBODY_ID, map_to_gid: input.map_to_gid ?? NOBODY_ID };
}

export function parseNfsExport(input: unknown): NfsExport {
  checkSchema(NfsExportInputSchema, input, 'nfs_export');
  const checked = input as Static<typeof NfsExportInputSchema>;
  checkAbsolutePath(checked.export_path, 'nfs_export.export_path');
  checkAbsolutePath(checked.fs_path, 'nfs_export.fs_path');
  return {
    export_path: checked.export_path,
    fs_path: checked.fs_path,
    description: checked.description ?? '',
    restrictions: checked.restrictions.map(completeRestriction),
    manage_gids: checked.manage_gids ?? false,
  };
}

export const nfsExports: CollectionDefinition<NfsExport> = {
  tag: SettingsTag.nfsExports,
  title: 'NFS export',
  recordsMax: NFS_EXPORTS_MAX,
  parse: parseNfsExport,
  checkAgainst: (value, others) => {
    const path = canonicalPath(value.export_path);
    const clash = others.find((other) => canonicalPath(other.value.export_path) === path);
    if (clash !== undefined) throw new FsError('Exists', `export_path ${value.export_path} is already used by NFS export ${clash.id}`);
  },
};

/** True when no rule can admit any client: the export is defined but closed. */
export function admitsNobody(value: NfsExport): boolean {
  return value.restrictions.length === 0;
}

/** The API shape of an export: its id, its fields, and `admits_nobody` when it has no rule. */
export function presentNfsExport(record: StoredRecord<NfsExport>): Record<string, unknown> {
  return { id: record.id, ...record.value, manage_gids: record.value.manage_gids === true, ...(admitsNobody(record.value) ? { admits_nobody: true } : {}) };
}

/** The compiled host rules of each restriction, for the NFS server (first match wins). */
export function compileRestrictions(value: NfsExport): Array<{ restriction: NfsRestriction; hosts: AddressMatcher }> {
  return value.restrictions.map((restriction, index) => ({
    restriction,
    hosts: new AddressMatcher(parseAddressRules(restriction.host_restrictions, { allowHostnames: true, field: `restrictions[${index}].host_restrictions` })),
  }));
}
