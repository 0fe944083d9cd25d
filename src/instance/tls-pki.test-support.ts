import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Certificates for TLS tests: a CA, an intermediate and a leaf for 127.0.0.1, made with
 * @peculiar/x509 over Node's WebCrypto. Keys are ECDSA P-256 unless a test asks for others.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const DAY_MS = 86_400_000;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCertificate {
  readonly pem: string;
  readonly keyPem: string;
  readonly subject: string;
  readonly certificate: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

let serial = 1;

export async function makeCertificate(options: {
  readonly commonName: string;
  readonly issuer?: TestCertificate;
  readonly ca?: boolean;
  readonly nowMs: number;
  readonly notBeforeMs?: number;
  readonly notAfterMs?: number;
}): Promise<TestCertificate> {
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const subject = `CN=${options.commonName}`;
  const extensions: x509.Extension[] = options.ca === true
    ? [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: options.commonName }, { type: 'ip', value: '127.0.0.1' }]),
      ];
  serial += 1;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString(16).padStart(4, '0'),
    subject,
    issuer: options.issuer?.subject ?? subject,
    notBefore: new Date(options.notBeforeMs ?? options.nowMs - DAY_MS),
    notAfter: new Date(options.notAfterMs ?? options.nowMs + 90 * DAY_MS),
    signingKey: options.issuer?.keys.privateKey ?? keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ECDSA,
    extensions,
  });
  return { pem: `${certificate.toString('pem')}\n`, keyPem: await keyPem(keys.privateKey), subject, certificate, keys };
}

/** A root CA, an intermediate it signed, and a leaf the intermediate signed. */
export async function makeChain(nowMs: number): Promise<{ root: TestCertificate; intermediate: TestCertificate; leaf: TestCertificate }> {
  const root = await makeCertificate({ commonName: 'Enclave Test Root', ca: true, nowMs });
  const intermediate = await makeCertificate({ commonName: 'Enclave Test Intermediate', ca: true, issuer: root, nowMs });
  const leaf = await makeCertificate({ commonName: 'enclave.test', issuer: intermediate, nowMs });
  return { root, intermediate, leaf };
}
