import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generate } from 'selfsigned';
import { fsyncDirectory, replaceFileDurably } from '../keys/durable-file.js';
import type { TlsIdentity } from '../protocols/rest/tls.js';
import { DIRECTORY_MODE, SECRET_FILE_MODE, fileExists, type DataDirLayout } from './data-dir.js';
import { checkTlsIdentity, describeCertificateChain, type TlsCertificateDescription } from './tls-certificate-check.js';

const CERTIFICATE_FILE_MODE = 0o644;
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
  await completePendingInstall(layout, logger);
  const present = (await fileExists(layout.tlsCertificateFile)) && (await fileExists(layout.tlsPrivateKeyFile));
  if (!present) {
    await mkdir(layout.tlsDir, { recursive: true, mode: DIRECTORY_MODE });
    const pair = await generateSelfSigned(options.nowMs);
    // Key first: a certificate without its key is useless, a key without a certificate is redone.
    await replaceFileDurably(layout.tlsPrivateKeyFile, Buffer.from(pair.privateKey), SECRET_FILE_MODE);
    await replaceFileDurably(layout.tlsCertificateFile, Buffer.from(pair.certificate), CERTIFICATE_FILE_MODE);
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

/**
 * An installation is staged: both new files and then a marker are written durably beside the
 * live ones, then renamed over them. The two renames cannot be one atomic step, so a crash
 * between them is rolled forward from the marker at the next start (never a key that does not
 * match its certificate); staged files without the marker are an unfinished staging, discarded.
 */
function pendingFiles(layout: DataDirLayout): { certificate: string; privateKey: string; marker: string } {
  return {
    certificate: join(layout.tlsDir, 'pending.crt'),
    privateKey: join(layout.tlsDir, 'pending.key'),
    marker: join(layout.tlsDir, 'pending.ready'),
  };
}

async function removeIfPresent(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

async function completePendingInstall(layout: DataDirLayout, logger: Logger): Promise<void> {
  const pending = pendingFiles(layout);
  if (await fileExists(pending.marker)) {
    if (await fileExists(pending.privateKey)) await rename(pending.privateKey, layout.tlsPrivateKeyFile);
    if (await fileExists(pending.certificate)) await rename(pending.certificate, layout.tlsCertificateFile);
    await fsyncDirectory(layout.tlsDir);
    await unlink(pending.marker);
    logger.info({ certificate: layout.tlsCertificateFile }, 'completed a TLS certificate installation interrupted by a stop');
    return;
  }
  await removeIfPresent(pending.privateKey);
  await removeIfPresent(pending.certificate);
}

/** Writes `identity` to the instance's tls/ files; crash-safe as described at pendingFiles. */
export async function storeTlsIdentity(layout: DataDirLayout, identity: TlsIdentity): Promise<void> {
  const pending = pendingFiles(layout);
  await mkdir(layout.tlsDir, { recursive: true, mode: DIRECTORY_MODE });
  await removeIfPresent(pending.marker);
  await replaceFileDurably(pending.privateKey, Buffer.from(identity.privateKey), SECRET_FILE_MODE);
  await replaceFileDurably(pending.certificate, Buffer.from(identity.certificate), CERTIFICATE_FILE_MODE);
  await replaceFileDurably(pending.marker, Buffer.alloc(0), SECRET_FILE_MODE);
  await rename(pending.privateKey, layout.tlsPrivateKeyFile);
  await rename(pending.certificate, layout.tlsCertificateFile);
  await fsyncDirectory(layout.tlsDir);
  await unlink(pending.marker);
  await fsyncDirectory(layout.tlsDir);
}

export type TlsIdentityListener = (identity: TlsIdentity) => void;

/**
 * The instance's current TLS identity and its replacement. `install` checks the offered chain
 * and key (tls-certificate-check.ts), stores them durably, then tells every listener, which
 * applies them to its HTTPS server without a restart. Installations are serialised.
 */
export class TlsCertificateStore {
  readonly #layout: DataDirLayout;
  readonly #nowMs: () => number;
  readonly #logger: Logger;
  readonly #listeners: TlsIdentityListener[] = [];
  #current: TlsIdentity;
  #description: TlsCertificateDescription;
  #pending: Promise<unknown> = Promise.resolve();

  constructor(options: { layout: DataDirLayout; initial: TlsIdentity; nowMs: () => number; logger: Logger }) {
    this.#layout = options.layout;
    this.#nowMs = options.nowMs;
    this.#logger = options.logger;
    this.#current = options.initial;
    this.#description = describeCertificateChain(options.initial.certificate);
  }

  current(): TlsIdentity {
    return this.#current;
  }

  describe(): TlsCertificateDescription {
    return this.#description;
  }

  /** Called with each newly installed identity; a listener must not throw (it is logged if it does). */
  onChange(listener: TlsIdentityListener): void {
    this.#listeners.push(listener);
  }

  /** Throws TlsCertificateError for a chain or key that is refused; nothing is stored then. */
  install(identity: TlsIdentity): Promise<TlsCertificateDescription> {
    const run = async () => {
      const description = checkTlsIdentity(identity, this.#nowMs());
      await storeTlsIdentity(this.#layout, identity);
      this.#current = identity;
      this.#description = description;
      for (const listener of this.#listeners) {
        try {
          listener(identity);
        } catch (error) {
          this.#logger.error({ err: error }, 'applying the new TLS certificate failed; it takes effect at the next start');
        }
      }
      this.#logger.info({ subject: description.subject, fingerprintSha256: description.fingerprint_sha256, notAfter: description.not_after }, 'installed a new TLS certificate');
      return description;
    };
    const result = this.#pending.then(run, run);
    this.#pending = result.catch(() => undefined);
    return result;
  }
}
