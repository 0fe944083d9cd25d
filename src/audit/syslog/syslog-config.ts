import { X509Certificate, createPrivateKey } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { FsError } from '../../core/errors.js';
import { checkSchema, type SettingsStore, type SingletonDefinition, type Versioned } from '../../settings/settings-store.js';
import type { SyslogTarget } from './syslog-sink.js';

/**
 * `/v1/audit/syslog/config`: `{sinks: [{enabled, server_address, server_port, transport, format,
 * ca_certificate?, client_certificate?, client_key?}]}`, stored as a settings singleton (tag 0x07,
 * the metadata store encrypts it at rest). The client key is write-only: `publicView` never
 * returns it; a PUT that leaves it out keeps the stored key of the sink with the same address,
 * port and client certificate.
 */
export const SINKS_MAX = 8;
const PEM_LENGTH_MAX = 64 * 1024;

export const SyslogSinkSchema = Type.Object(
  {
    enabled: Type.Boolean(),
    server_address: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\-\\[\\]]+$' }),
    server_port: Type.Integer({ minimum: 1, maximum: 65_535 }),
    transport: Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls'), Type.Literal('relp')]),
    format: Type.Union([Type.Literal('csv'), Type.Literal('json')]),
    ca_certificate: Type.Optional(Type.String({ maxLength: PEM_LENGTH_MAX })),
    client_certificate: Type.Optional(Type.String({ maxLength: PEM_LENGTH_MAX })),
    client_key: Type.Optional(Type.String({ maxLength: PEM_LENGTH_MAX })),
  },
  { additionalProperties: false },
);
export const SyslogConfigSchema = Type.Object({ sinks: Type.Array(SyslogSinkSchema, { maxItems: SINKS_MAX }) }, { additionalProperties: false });
export const SyslogConfigViewSchema = Type.Object({ sinks: Type.Array(Type.Omit(SyslogSinkSchema, ['client_key'])) });

export type SyslogSinkConfig = Static<typeof SyslogSinkSchema>;
export type SyslogConfig = Static<typeof SyslogConfigSchema>;

function sameEndpoint(a: SyslogSinkConfig, b: SyslogSinkConfig): boolean {
  return a.server_address === b.server_address && a.server_port === b.server_port && a.client_certificate === b.client_certificate;
}

function checkSink(sink: SyslogSinkConfig, index: number): void {
  const field = `sinks.${index}`;
  if (sink.transport !== 'tls' && (sink.ca_certificate !== undefined || sink.client_certificate !== undefined || sink.client_key !== undefined)) {
    throw new FsError('InvalidArgument', `${field}: certificates and keys apply only to transport tls`);
  }
  try {
    if (sink.ca_certificate !== undefined) new X509Certificate(sink.ca_certificate);
    if (sink.client_certificate !== undefined) new X509Certificate(sink.client_certificate);
    if (sink.client_key !== undefined) createPrivateKey(sink.client_key);
  } catch {
    throw new FsError('InvalidArgument', `${field}: a certificate or key is not valid PEM`);
  }
  if ((sink.client_certificate === undefined) !== (sink.client_key === undefined)) throw new FsError('InvalidArgument', `${field}: client_certificate and client_key go together`);
}

export const syslogConfigDefinition: SingletonDefinition<SyslogConfig> = {
  tag: 0x07,
  title: 'audit syslog configuration',
  defaults: () => ({ sinks: [] }),
  parse: (input, current) => {
    checkSchema(SyslogConfigSchema, input, 'config');
    const next = input as SyslogConfig;
    const sinks = next.sinks.map((sink) => {
      if (sink.client_key !== undefined || sink.client_certificate === undefined) return sink;
      const kept = current.sinks.find((old) => sameEndpoint(old, sink))?.client_key;
      return kept === undefined ? sink : { ...sink, client_key: kept };
    });
    sinks.forEach(checkSink);
    return { sinks };
  },
};

/** The configuration as the API shows it: without client keys. */
export function publicView(config: SyslogConfig): { sinks: Array<Omit<SyslogSinkConfig, 'client_key'>> } {
  return { sinks: config.sinks.map(({ client_key: _secret, ...rest }) => rest) };
}

/** A stable id per destination, so a sink's spool survives unrelated config changes. */
export function sinkId(sink: SyslogSinkConfig): string {
  return `${sink.transport}-${sink.server_address.replace(/[^A-Za-z0-9.-]/g, '_')}-${sink.server_port}`;
}

export function targetOf(sink: SyslogSinkConfig): SyslogTarget {
  return {
    serverAddress: sink.server_address.replace(/^\[(.*)\]$/, '$1'),
    serverPort: sink.server_port,
    transport: sink.transport,
    format: sink.format,
    ...(sink.ca_certificate === undefined ? {} : { caCertificate: sink.ca_certificate }),
    ...(sink.client_certificate === undefined ? {} : { clientCertificate: sink.client_certificate }),
    ...(sink.client_key === undefined ? {} : { clientKey: sink.client_key }),
  };
}

export class SyslogSettings {
  constructor(private readonly settings: SettingsStore) {}
  get(): Promise<Versioned<SyslogConfig>> {
    return this.settings.get(syslogConfigDefinition);
  }
  put(input: unknown, options?: { ifVersion?: number }): Promise<Versioned<SyslogConfig>> {
    return this.settings.put(syslogConfigDefinition, input, options);
  }
  onChange(listener: (config: SyslogConfig) => void | Promise<void>): () => void {
    return this.settings.onChange(syslogConfigDefinition, listener);
  }
}
