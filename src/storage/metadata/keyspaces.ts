/**
 * The first byte of every metadata key names its keyspace, so modules that share one store never
 * collide. Each module owns its range and defines its record layouts itself.
 */
export const Keyspace = {
  /** core/: 0x01-0x1f (see core/records.ts). */
  coreFirst: 0x01,
  coreLast: 0x1f,
  /** identity/: users, groups, id mapping. */
  identity: 0x20,
  /** authz/: roles and assignments. */
  authz: 0x21,
  /** Instance settings (protocol settings, security settings). */
  settings: 0x30,
  /** audit/. */
  audit: 0x40,
} as const;
