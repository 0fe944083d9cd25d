import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigSchema, SETTING_KEYS, defaultConfig, settingEnvironmentName, settingName, settingSchema } from './config-schema.js';
import { ConfigError, loadConfig } from './load-config.js';

function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw new Error(`ENOENT: no such file ${path}`);
    return text;
  };
}

function configErrorNaming(setting: string, pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.setting, setting);
    assert.match(error.message, new RegExp(`^config: .*${setting}`));
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

describe('configuration', () => {
  it('defaults match the contract', () => {
    const config = loadConfig({});
    assert.equal(config.dataDir, './enclave-data');
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual(
      [config.apiPort, config.s3Port, config.nfsPort, config.smbPort, config.ftpPort],
      [8443, 9000, 2049, 445, 21],
    );
    assert.equal(config.logLevel, 'info');
  });

  it('every setting has a description and a default within its bounds', () => {
    for (const key of SETTING_KEYS) {
      const schema = settingSchema(key) as { description?: string; default?: unknown; minimum?: number; maximum?: number; type?: string };
      assert.ok(schema.description !== undefined && schema.description.length > 10, `${key} lacks a description`);
      assert.notEqual(schema.default, undefined, `${key} lacks a default`);
      if (schema.type === 'integer') {
        assert.ok(schema.minimum !== undefined && schema.maximum !== undefined, `${key} lacks bounds`);
      }
    }
    assert.doesNotThrow(() => loadConfig({}));
    assert.equal(Object.keys(defaultConfig()).length, Object.keys(ConfigSchema.properties).length);
  });

  it('names settings in snake_case for files, environment and messages', () => {
    assert.equal(settingName('gcGraceSeconds'), 'gc_grace_seconds');
    assert.equal(settingName('s3Port'), 's3_port');
    assert.equal(settingEnvironmentName('dataDir'), 'ENCLAVE_DATA_DIR');
  });

  it('merges defaults < file < environment < flags', () => {
    const readFile = files({ '/etc/enclave.json': JSON.stringify({ api_port: 1001, s3_port: 1002, nfs_port: 1003 }) });
    const config = loadConfig({
      configFile: '/etc/enclave.json',
      readFile,
      environment: { ENCLAVE_S3_PORT: '2002', ENCLAVE_NFS_PORT: '2003' },
      flags: { nfsPort: '3003' },
    });
    assert.equal(config.apiPort, 1001);
    assert.equal(config.s3Port, 2002);
    assert.equal(config.nfsPort, 3003);
    assert.equal(config.smbPort, 445);
  });

  it('reads the config file named by ENCLAVE_CONFIG when no --config is given', () => {
    const readFile = files({ '/a.json': '{"host": "0.0.0.0"}' });
    assert.equal(loadConfig({ environment: { ENCLAVE_CONFIG: '/a.json' }, readFile }).host, '0.0.0.0');
  });

  it('ENCLAVE_DATA_DIR sets the data dir, and an empty variable counts as unset', () => {
    assert.equal(loadConfig({ environment: { ENCLAVE_DATA_DIR: '/srv/enclave' } }).dataDir, '/srv/enclave');
    assert.equal(loadConfig({ environment: { ENCLAVE_DATA_DIR: '' } }).dataDir, './enclave-data');
  });

  it('a port out of range names api_port and the bounds', () => {
    assert.throws(
      () => loadConfig({ flags: { apiPort: '70000' } }),
      configErrorNaming('api_port', /must be between 0 and 65535 \(got 70000\) from --api-port/),
    );
  });

  it('accepts the port bounds 0 and 65535', () => {
    assert.equal(loadConfig({ flags: { ftpPort: '0' } }).ftpPort, 0);
    assert.equal(loadConfig({ flags: { ftpPort: '65535' } }).ftpPort, 65535);
  });

  it('a non-numeric port from the environment names the setting and the variable', () => {
    assert.throws(
      () => loadConfig({ environment: { ENCLAVE_SMB_PORT: 'twelve' } }),
      configErrorNaming('smb_port', /must be an integer.*ENCLAVE_SMB_PORT/),
    );
  });

  it('a fractional or string-typed number in the file is rejected, not coerced', () => {
    const readFile = files({ '/c.json': '{"gc_grace_seconds": 1.5}', '/d.json': '{"api_port": "8443"}' });
    assert.throws(() => loadConfig({ configFile: '/c.json', readFile }), configErrorNaming('gc_grace_seconds', /must be an integer/));
    assert.throws(() => loadConfig({ configFile: '/d.json', readFile }), configErrorNaming('api_port', /must be an integer/));
  });

  it('an unknown key in the file is an error naming it', () => {
    const readFile = files({ '/c.json': '{"api_prot": 1}' });
    assert.throws(() => loadConfig({ configFile: '/c.json', readFile }), configErrorNaming('api_prot', /unknown setting/));
  });

  it('camelCase keys in the file are unknown: one spelling per setting', () => {
    const readFile = files({ '/c.json': '{"apiPort": 1}' });
    assert.throws(() => loadConfig({ configFile: '/c.json', readFile }), configErrorNaming('apiPort', /unknown setting/));
  });

  it('a log level outside the list names log_level and the choices', () => {
    assert.throws(
      () => loadConfig({ environment: { ENCLAVE_LOG_LEVEL: 'loud' } }),
      configErrorNaming('log_level', /must be one of fatal, error, warn, info, debug, trace, silent/),
    );
  });

  it('a bad environment variable name for the KEK passphrase is rejected', () => {
    assert.throws(
      () => loadConfig({ flags: { kekPassphraseEnv: 'not valid' } }),
      configErrorNaming('kek_passphrase_env', /must match/),
    );
  });

  it('an unreadable or malformed config file is a config error', () => {
    const readFile = files({ '/bad.json': '{', '/array.json': '[]' });
    assert.throws(() => loadConfig({ configFile: '/missing.json', readFile }), configErrorNaming('config', /cannot read/));
    assert.throws(() => loadConfig({ configFile: '/bad.json', readFile }), configErrorNaming('config', /not valid JSON/));
    assert.throws(() => loadConfig({ configFile: '/array.json', readFile }), configErrorNaming('config', /JSON object/));
  });

  it('other ENCLAVE_ variables (secrets, client token) are not settings and are ignored', () => {
    const config = loadConfig({ environment: { ENCLAVE_ADMIN_PASSWORD: 'x', ENCLAVE_TOKEN: 'y' } });
    assert.deepEqual(config, defaultConfig());
  });
});
