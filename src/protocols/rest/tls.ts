import type { SecureContextOptions, TlsOptions } from 'node:tls';

/**
 * TLS for every HTTPS listener: TLS 1.2 and 1.3 only, AEAD suites with forward secrecy only, in
 * the server's order of preference (Mozilla "intermediate" profile, minus the CBC suites).
 * TLS 1.3 suites are listed by their IANA names; OpenSSL picks them from the same string.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsIdentity {
  /** PEM. */
  readonly certificate: string;
  /** PEM. */
  readonly privateKey: string;
}

export function httpsOptions(identity: TlsIdentity): TlsOptions & SecureContextOptions {
  return {
    cert: identity.certificate,
    key: identity.privateKey,
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
}
