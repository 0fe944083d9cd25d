import { readFileSync } from 'node:fs';
import Value from 'typebox/value';
import {
  ConfigSchema,
  SETTING_KEYS,
  defaultConfig,
  settingEnvironmentName,
  settingFlag,
  settingName,
  settingSchema,
  type Config,
  type SettingKey,
} from './config-schema.js';

/** Bad configuration. The message always names the setting, so an operator knows what to fix. */
export class ConfigError extends Error {
  /** The snake_case name of the offending setting, when one setting is to blame. */
  readonly setting: string | undefined;

  constructor(message: string, options?: { setting?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.setting = options?.setting;
  }
}

export interface ConfigSources {
  /** Path of a JSON config file (`--config FILE`, else `ENCLAVE_CONFIG`). */
  readonly configFile?: string | undefined;
  /** Usually `process.env`; only `ENCLAVE_<SETTING>` names of known settings are read. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags, as typed (strings), keyed by setting. */
  readonly flags?: Readonly<Partial<Record<SettingKey, string>>>;
  /** Injected for tests; defaults to reading the file as UTF-8. */
  readonly readFile?: (path: string) => string;
}

/**
 * Merges defaults < config file < environment < flags, validating each value where it enters so
 * the error names both the setting and where the bad value came from. Never clamps: a value out
 * of bounds is an error, not silently corrected.
 */
export function loadConfig(sources: ConfigSources): Config {
  const environment = sources.environment ?? {};
  const config: Record<string, unknown> = { ...defaultConfig() };
  const configFile = sources.configFile ?? nonEmpty(environment.ENCLAVE_CONFIG);
  if (configFile !== undefined) {
    const fromFile = readConfigFile(configFile, sources.readFile ?? ((path) => readFileSync(path, 'utf8')));
    Object.assign(config, fromFile);
  }
  for (const key of SETTING_KEYS) {
    const raw = nonEmpty(environment[settingEnvironmentName(key)]);
    if (raw !== undefined) config[key] = checkSetting(key, coerce(key, raw), settingEnvironmentName(key));
  }
  for (const key of SETTING_KEYS) {
    const raw = sources.flags?.[key];
    if (raw !== undefined) config[key] = checkSetting(key, coerce(key, raw), settingFlag(key));
  }
  // Each value was checked on entry; this catches a schema/loader mismatch (a programmer error).
  if (!Value.Check(ConfigSchema, config)) throw new Error('assertion failed: merged configuration does not match its schema');
  return config;
}

function readConfigFile(path: string, readFile: (path: string) => string): Partial<Config> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`config: cannot read config file ${path}: ${(error as Error).message}`, { setting: 'config', cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config: config file ${path} is not valid JSON: ${(error as Error).message}`, { setting: 'config', cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config: config file ${path} must hold a JSON object of settings`, { setting: 'config' });
  }
  const byName = new Map(SETTING_KEYS.map((key) => [settingName(key), key]));
  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed)) {
    const key = byName.get(name);
    if (key === undefined) {
      throw new ConfigError(`config: unknown setting ${name} in ${path} (known: ${[...byName.keys()].join(', ')})`, { setting: name });
    }
    result[key] = checkSetting(key, value, path);
  }
  return result as Partial<Config>;
}

/** Environment and flag values are strings; integers must be written as plain decimal digits. */
function coerce(key: SettingKey, raw: string): unknown {
  const schema = settingSchema(key) as { type?: string };
  if (schema.type === 'integer' && /^-?\d{1,16}$/.test(raw.trim())) return Number(raw.trim());
  return raw;
}

function checkSetting(key: SettingKey, value: unknown, source: string): unknown {
  const schema = settingSchema(key);
  if (Value.Check(schema, value)) return value;
  const name = settingName(key);
  throw new ConfigError(`config: ${name} ${describeRule(schema, value)} (got ${JSON.stringify(value)}) from ${source}`, { setting: name });
}

function describeRule(schema: unknown, value: unknown): string {
  const rule = schema as {
    type?: string;
    minimum?: number;
    maximum?: number;
    minLength?: number;
    maxLength?: number;
    pattern?: string;
    anyOf?: { const?: unknown }[];
  };
  if (rule.anyOf !== undefined) return `must be one of ${rule.anyOf.map((option) => String(option.const)).join(', ')}`;
  if (rule.type === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer';
    return `must be between ${rule.minimum} and ${rule.maximum}`;
  }
  if (rule.type === 'string') {
    if (typeof value !== 'string') return 'must be a string';
    if (rule.pattern !== undefined && !new RegExp(rule.pattern).test(value)) return `must match ${rule.pattern}`;
    return `must be ${rule.minLength ?? 0} to ${rule.maxLength} characters long`;
  }
  return 'is invalid';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
