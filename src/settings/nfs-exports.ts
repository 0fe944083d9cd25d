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
 * and clients must use a privileged port by default.
 */

export const NFS_EXPORTS_MAX = 1_000;
export const RESTRICTIONS_MAX = 100;
export const HOSTS_PER_RESTRICTION_MAX = 1_000;
export const DESCRIPTION_CHARS_MAX = 1_024;
/** The anonymous uid and gid (`nobody`, `nogroup`) that squashed users become by default. */
export const NOBODY_ID = 65_534;
const ID_MAX = 4_294_967_294;

export const UserMappingSchema = Type.Enum(['NONE', 'ROOT', 'ALL'], {
  description: 'NONE trusts client uids; ROOT maps uid 0 to map_to_uid/gid (root squash); ALL maps every user.',
});

const RestrictionInputSchema = Type.Object(
  {
    host_restrictions: Type.Array(Type.String(), { minItems: 1, maxItems: HOSTS_PER_RESTRICTION_MAX, description: 'IP addresses, CIDR subnets, ranges (a-b) or RFC 1123 hostnames (*.domain allowed).' }),
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
  },
  { additionalProperties: false },
);

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
  return { id: record.id, ...record.value, ...(admitsNobody(record.value) ? { admits_nobody: true } : {}) };
}

/** The compiled host rules of each restriction, for the NFS server (first match wins). */
export function compileRestrictions(value: NfsExport): Array<{ restriction: NfsRestriction; hosts: AddressMatcher }> {
  return value.restrictions.map((restriction, index) => ({
    restriction,
    hosts: new AddressMatcher(parseAddressRules(restriction.host_restrictions, { allowHostnames: true, field: `restrictions[${index}].host_restrictions` })),
  }));
}
