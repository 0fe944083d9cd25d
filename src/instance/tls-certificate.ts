import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { generate } from 'selfsigned';
import { replaceFileDurably } from '../keys/durable-file.js';
import type { TlsIdentity } from '../protocols/rest/tls.js';
import { DIRECTORY_MODE, SECRET_FILE_MODE, fileExists, type DataDirLayout } from './data-dir.js';

const CERTIFICATE_VALIDITY_DAYS = 825;
const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * Loads the instance's TLS certificate and key from `<dataDir>/tls/`, making a self-signed pair
 * for localhost/127.0.0.1/::1 if either is missing (first start, or an operator who deleted them to
 * get a new one). An operator may replace both files with a CA-issued pair; they are read as is.
 */
export async function loadOrCreateTlsIdentity(options: { layout: DataDirLayout; logger: Logger; nowMs: number }): Promise<TlsIdentity> {
  const { layout, logger } = options;
  const present = (await fileExists(layout.tlsCertificateFile)) && (await fileExists(layout.tlsPrivateKeyFile));
  if (!present) {
    await mkdir(layout.tlsDir, { recursive: true, mode: DIRECTORY_MODE });
    const pair = await generateSelfSigned(options.nowMs);
    // Key first: a certificate without its key is useless, a key without a certificate is redone.
    await replaceFileDurably(layout.tlsPrivateKeyFile, Buffer.from(pair.privateKey), SECRET_FILE_MODE);
    await replaceFileDurably(layout.tlsCertificateFile, Buffer.from(pair.certificate), 0o644);
    logger.info({ certificate: layout.tlsCertificateFile }, 'created a self-signed TLS certificate');
  }
  const identity = {
    certificate: await readFile(layout.tlsCertificateFile, 'utf8'),
    privateKey: await readFile(layout.tlsPrivateKeyFile, 'utf8'),
  };
  warnIfExpiring(identity.certificate, options.nowMs, logger, layout.tlsCertificateFile);
  return identity;
}

async function generateSelfSigned(nowMs: number): Promise<TlsIdentity> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(nowMs - DAY_MS),
    notAfterDate: new Date(nowMs + CERTIFICATE_VALIDITY_DAYS * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { certificate: pems.cert, privateKey: pems.private };
}

function warnIfExpiring(certificate: string, nowMs: number, logger: Logger, file: string): void {
  const validToMs = Date.parse(new X509Certificate(certificate).validTo);
  if (validToMs - nowMs < EXPIRY_WARNING_DAYS * DAY_MS) {
    logger.warn({ certificate: file, validTo: new Date(validToMs).toISOString() }, 'the TLS certificate expires soon or has expired; delete both files in the tls folder to get a new self-signed one, or install your own');
  }
}
