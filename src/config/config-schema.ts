import Type, { type Static, type TSchema } from 'typebox';

/**
 * The one configuration schema. Every setting has a description, a default and bounds, and its
 * unit last in its name. The TypeScript name is camelCase (`gcGraceSeconds`); the setting's name
 * everywhere an operator sees it is the snake_case form (`gc_grace_seconds`): in the config file,
 * in the environment (`ENCLAVE_GC_GRACE_SECONDS`) and in error messages. See load-config.ts.
 */

const port = (service: string, fallback: number) =>
  Type.Integer({
    description: `TCP port of the ${service} listener; 0 picks a free port.`,
    default: fallback,
    minimum: 0,
    maximum: 65_535,
  });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      description: 'Folder holding all instance state (keys, metadata, chunks, TLS); relative to the working directory.',
      default: './enclave-data',
      minLength: 1,
      maxLength: 4_096,
    }),
    host: Type.String({
      description: 'Address every listener binds to.',
      default: '127.0.0.1',
      minLength: 1,
      maxLength: 255,
    }),
    apiPort: port('HTTPS management API and web UI', 8443),
    s3Port: port('S3', 9000),
    nfsPort: port('NFS', 2049),
    smbPort: port('SMB', 445),
    ftpPort: port('FTP', 21),
    // Unsafe keeps the static type a union of the names (a mapped array of literals infers never).
    logLevel: Type.Unsafe<(typeof LOG_LEVELS)[number]>(
      Type.Union(
        LOG_LEVELS.map((level) => Type.Literal(level)),
        { description: 'Least severe level of the operator log (JSON lines on stderr).', default: 'info' },
      ),
    ),
    metadataGroupCommitTransactionsMax: Type.Integer({
      description: 'Most write transactions the metadata store groups into one durable commit.',
      default: 256,
      minimum: 1,
      maximum: 10_000,
    }),
    gcGraceSeconds: Type.Integer({
      description:
        'How long a chunk that no record references (left by an interrupted write) is kept before the garbage collector deletes it.',
      default: 900,
      minimum: 0,
      maximum: 30 * 24 * 3_600,
    }),
    writeCacheBytes: Type.Integer({
      description:
        'Size of the write cache: chunk data is acknowledged once durable in segment files under data_dir/write-cache, preallocated at start, and copied to the chunk folder in the background while the disk is otherwise quiet (decision 0006). 0 writes every chunk straight to the chunk folder.',
      default: 2 * 1_073_741_824,
      minimum: 0,
      maximum: 64 * 1_073_741_824,
    }),
    kekPassphraseEnv: Type.String({
      description:
        'Name of the environment variable holding the passphrase that protects the local key-encryption key file; when that variable is unset the key file relies on its 0600 mode alone.',
      default: 'ENCLAVE_KEK_PASSPHRASE',
      pattern: '^[A-Z_][A-Z0-9_]*$',
      maxLength: 128,
    }),
    apiBodyBytesMax: Type.Integer({
      description: 'Largest request body the management API accepts (file uploads stream separately).',
      default: 1_048_576,
      minimum: 1_024,
      maximum: 64 * 1_048_576,
    }),
    shutdownTimeoutMs: Type.Integer({
      description: 'On SIGTERM/SIGINT, how long in-flight requests may run before their connections are closed.',
      default: 10_000,
      minimum: 0,
      maximum: 600_000,
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type SettingKey = keyof Config & string;

export const SETTING_KEYS = Object.keys(ConfigSchema.properties) as SettingKey[];

export function settingSchema(key: SettingKey): TSchema {
  return ConfigSchema.properties[key];
}

/** `gcGraceSeconds` -> `gc_grace_seconds`: the name operators see. */
export function settingName(key: SettingKey): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** `gcGraceSeconds` -> `ENCLAVE_GC_GRACE_SECONDS`. */
export function settingEnvironmentName(key: SettingKey): string {
  return `ENCLAVE_${settingName(key).toUpperCase()}`;
}

/** `gcGraceSeconds` -> `--gc-grace-seconds`. */
export function settingFlag(key: SettingKey): string {
  return `--${settingName(key).replaceAll('_', '-')}`;
}

export function defaultConfig(): Config {
  const entries = SETTING_KEYS.map((key) => [key, (settingSchema(key) as { default: unknown }).default]);
  return Object.fromEntries(entries) as Config;
}
