import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { httpsOptions, type TlsIdentity } from '../protocols/rest/tls.js';

/** A chain of a leaf, intermediates and perhaps a root fits easily; a bundle of 64 KiB is abuse. */
export const CERTIFICATE_CHAIN_BYTES_MAX = 64 * 1024;
/** An RSA-8192 PKCS#8 PEM is about 6.5 KiB. */
export const PRIVATE_KEY_BYTES_MAX = 16 * 1024;
export const CHAIN_CERTIFICATES_MAX = 8;
export const RSA_MODULUS_BITS_MIN = 2048;
/** Node reports NIST P-256 and P-384 by their OpenSSL names. */
const ACCEPTED_CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384' };

export type TlsCertificateErrorCode =
  | 'too-large'
  | 'unparseable-certificate'
  | 'unparseable-key'
  | 'encrypted-key'
  | 'weak-key'
  | 'key-mismatch'
  | 'not-yet-valid'
  | 'expired'
  | 'chain-order'
  | 'rejected-by-tls';

/** An expected refusal of a certificate or key offered for installation; never carries the key. */
export class TlsCertificateError extends Error {
  constructor(
    readonly code: TlsCertificateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TlsCertificateError';
  }
}

/** What the API shows of a certificate chain: the leaf's facts, never the key. */
export interface TlsCertificateDescription {
  readonly subject: string;
  readonly issuer: string;
  readonly san: readonly string[];
  readonly not_before: string;
  readonly not_after: string;
  readonly fingerprint_sha256: string;
  readonly self_signed: boolean;
  readonly chain_length: number;
  readonly key_type: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM blocks of a chain, leaf first; text between blocks (openssl's `subject=` lines) is ignored. */
export function splitCertificateChain(chainPem: string): X509Certificate[] {
  const blocks = chainPem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsCertificateError('unparseable-certificate', 'certificate holds no PEM block "-----BEGIN CERTIFICATE-----"');
  if (blocks.length > CHAIN_CERTIFICATES_MAX) throw new TlsCertificateError('too-large', `certificate chain has ${blocks.length} certificates; at most ${CHAIN_CERTIFICATES_MAX} are accepted`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new TlsCertificateError('unparseable-certificate', `certificate ${index + 1} of the chain is not a valid X.509 certificate`);
    }
  });
}

function parsePrivateKey(pem: string): KeyObject {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new TlsCertificateError('encrypted-key', 'the private key is passphrase-protected; send it unencrypted (the server stores it 0600 in its data directory)');
  }
  try {
    // No passphrase given: an encrypted key we failed to recognise fails here rather than prompting.
    return createPrivateKey({ key: pem, format: 'pem', passphrase: '' });
  } catch {
    // The parser's message is not echoed: it may quote parts of the key.
    throw new TlsCertificateError('unparseable-key', 'private_key is not a PEM private key (PKCS#8, PKCS#1 or SEC1)');
  }
}

/**
 * Key types browsers and common clients accept for server certificates: RSA of 2048 bits or
 * more, ECDSA on P-256 or P-384. Ed25519 and Ed448 are refused: no major browser accepts them
 * in server certificates (2024), so installing one would lock the web UI out.
 */
function checkKeyStrength(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < RSA_MODULUS_BITS_MIN) throw new TlsCertificateError('weak-key', `RSA key of ${bits} bits; at least ${RSA_MODULUS_BITS_MIN} are required`);
    return `RSA-${bits}`;
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = ACCEPTED_CURVES[details.namedCurve ?? ''];
    if (curve === undefined) throw new TlsCertificateError('weak-key', `EC key on curve ${details.namedCurve ?? 'unknown'}; P-256 or P-384 is required`);
    return `EC-${curve}`;
  }
  throw new TlsCertificateError('weak-key', `key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted; use RSA (2048 bits or more) or ECDSA P-256/P-384, which browsers accept`);
}

function checkValidity(certificates: readonly X509Certificate[], nowMs: number): void {
  certificates.forEach((certificate, index) => {
    const which = index === 0 ? 'the leaf certificate' : `certificate ${index + 1} of the chain`;
    const fromMs = Date.parse(certificate.validFrom);
    const toMs = Date.parse(certificate.validTo);
    if (nowMs < fromMs) throw new TlsCertificateError('not-yet-valid', `${which} is not valid before ${new Date(fromMs).toISOString()}`);
    if (nowMs > toMs) throw new TlsCertificateError('expired', `${which} expired on ${new Date(toMs).toISOString()}`);
  });
}

/** RFC 5246 §7.4.2: each certificate must certify the one before it, leaf first. */
function checkChainOrder(certificates: readonly X509Certificate[]): void {
  for (let index = 0; index + 1 < certificates.length; index += 1) {
    const subject = certificates[index] as X509Certificate;
    const issuer = certificates[index + 1] as X509Certificate;
    if (!subject.checkIssued(issuer) || !subject.verify(issuer.publicKey)) {
      throw new TlsCertificateError('chain-order', `certificate ${index + 2} of the chain did not issue certificate ${index + 1}; send the leaf first, then each issuer in order`);
    }
  }
}

/**
 * Issued by itself: its own name as issuer and its own key's signature. Not checkIssued: OpenSSL
 * also wants keyCertSign in the key usage, which a self-signed server certificate rightly lacks.
 */
function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey);
}

function oneLine(distinguishedName: string): string {
  return distinguishedName.split('\n').filter((part) => part !== '').join(', ');
}

export function describeCertificateChain(chainPem: string, keyType?: string): TlsCertificateDescription {
  const certificates = splitCertificateChain(chainPem);
  const leaf = certificates[0] as X509Certificate;
  return {
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    san: leaf.subjectAltName === undefined ? [] : leaf.subjectAltName.split(', '),
    not_before: new Date(Date.parse(leaf.validFrom)).toISOString(),
    not_after: new Date(Date.parse(leaf.validTo)).toISOString(),
    fingerprint_sha256: leaf.fingerprint256,
    self_signed: isSelfSigned(leaf),
    chain_length: certificates.length,
    key_type: keyType ?? describePublicKey(leaf.publicKey),
  };
}

function describePublicKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `RSA-${details.modulusLength ?? 0}`;
  if (key.asymmetricKeyType === 'ec') return `EC-${ACCEPTED_CURVES[details.namedCurve ?? ''] ?? details.namedCurve ?? 'unknown'}`;
  return key.asymmetricKeyType ?? 'unknown';
}

/**
 * Checks a chain and key offered for installation: sizes, parseable, the key strong enough and
 * matching the leaf, every certificate currently valid, the chain in order, and finally that
 * OpenSSL builds a context from it with the server's TLS options. Throws TlsCertificateError.
 */
export function checkTlsIdentity(identity: TlsIdentity, nowMs: number): TlsCertificateDescription {
  if (Buffer.byteLength(identity.certificate) > CERTIFICATE_CHAIN_BYTES_MAX) {
    throw new TlsCertificateError('too-large', `certificate is larger than ${CERTIFICATE_CHAIN_BYTES_MAX} bytes`);
  }
  if (Buffer.byteLength(identity.privateKey) > PRIVATE_KEY_BYTES_MAX) {
    throw new TlsCertificateError('too-large', `private_key is larger than ${PRIVATE_KEY_BYTES_MAX} bytes`);
  }
  const certificates = splitCertificateChain(identity.certificate);
  const leaf = certificates[0] as X509Certificate;
  const key = parsePrivateKey(identity.privateKey);
  const keyType = checkKeyStrength(key);
  if (!leaf.checkPrivateKey(key)) throw new TlsCertificateError('key-mismatch', 'private_key does not belong to the leaf (first) certificate');
  checkValidity(certificates, nowMs);
  checkChainOrder(certificates);
  try {
    createSecureContext(httpsOptions(identity));
  } catch (error) {
    throw new TlsCertificateError('rejected-by-tls', `the TLS library refuses this certificate and key: ${(error as { code?: string }).code ?? 'unknown reason'}`);
  }
  return describeCertificateChain(identity.certificate, keyType);
}
