import type { Server } from 'node:https';
import Type, { type Static } from 'typebox';
import type { TlsCertificateStore } from '../../../instance/tls-certificate.js';
import { TlsCertificateError, type TlsCertificateErrorCode } from '../../../instance/tls-certificate-check.js';
import { ApiError } from '../errors.js';
import type { ApiRoute } from '../route.js';
import { httpsOptions, type TlsIdentity } from '../tls.js';
import { strictObject } from './users.js';

/**
 * `/v1/security/tls/certificate`: the API's certificate (never its key), and the installation of
 * a CA-issued chain and key, applied to the listening server without a restart.
 */
export interface TlsRoutesDeps {
  readonly certificates: TlsCertificateStore;
}

/**
 * Replaces the certificate of a listening HTTPS server with the same TLS options it started with
 * (tls.ts). Connections already open keep the old one; new handshakes get the new one.
 */
export function applyTls(server: Server, identity: TlsIdentity): void {
  server.setSecureContext(httpsOptions(identity));
}

const InstallBody = strictObject({
  certificate: Type.String({ description: 'PEM chain, leaf first, then each issuer in order.' }),
  private_key: Type.String({ description: 'PEM private key of the leaf, unencrypted. RSA >= 2048 bits, or ECDSA P-256/P-384.' }),
});

const CertificateSchema = Type.Object({
  subject: Type.String(),
  issuer: Type.String(),
  san: Type.Array(Type.String()),
  not_before: Type.String({ description: 'RFC 3339' }),
  not_after: Type.String({ description: 'RFC 3339' }),
  fingerprint_sha256: Type.String(),
  self_signed: Type.Boolean(),
  chain_length: Type.Integer(),
  key_type: Type.String(),
});

/** Every refusal's HTTP answer; complete by type. */
const TLS_ERROR_STATUS: Record<TlsCertificateErrorCode, { readonly status: number; readonly errorClass: string }> = {
  'too-large': { status: 413, errorClass: 'tls_certificate_too_large_error' },
  'unparseable-certificate': { status: 400, errorClass: 'tls_certificate_invalid_error' },
  'unparseable-key': { status: 400, errorClass: 'tls_private_key_invalid_error' },
  'encrypted-key': { status: 400, errorClass: 'tls_private_key_encrypted_error' },
  'weak-key': { status: 400, errorClass: 'tls_private_key_weak_error' },
  'key-mismatch': { status: 400, errorClass: 'tls_private_key_mismatch_error' },
  'not-yet-valid': { status: 400, errorClass: 'tls_certificate_not_yet_valid_error' },
  expired: { status: 400, errorClass: 'tls_certificate_expired_error' },
  'chain-order': { status: 400, errorClass: 'tls_certificate_chain_error' },
  'rejected-by-tls': { status: 400, errorClass: 'tls_certificate_rejected_error' },
};

export function tlsRoutes(deps: TlsRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/security/tls/certificate',
      privilege: 'SECURITY_READ',
      summary: 'The API\'s TLS certificate: subject, issuer, SAN, validity, SHA-256 fingerprint, whether it is self-signed, and the chain length. The key is never shown.',
      schema: { response: { 200: CertificateSchema } },
      handler: async () => deps.certificates.describe(),
    },
    {
      method: 'PUT',
      url: '/v1/security/tls/certificate',
      privilege: 'SECURITY_WRITE',
      summary: 'Install a certificate chain (PEM, leaf first) and its private key; checked, stored in the data directory, and applied to new connections at once.',
      schema: { body: InstallBody, response: { 200: CertificateSchema } },
      handler: async (request) => {
        const body = request.body as Static<typeof InstallBody>;
        try {
          return await deps.certificates.install({ certificate: body.certificate, privateKey: body.private_key });
        } catch (error) {
          if (!(error instanceof TlsCertificateError)) throw error;
          const mapped = TLS_ERROR_STATUS[error.code];
          throw new ApiError(mapped.status, mapped.errorClass, error.message);
        }
      },
    },
  ];
}
