import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../ops/logger.js';
import { dataDirLayout, fileExists, type DataDirLayout } from './data-dir.js';
import { checkTlsIdentity, TlsCertificateError, type TlsCertificateErrorCode } from './tls-certificate-check.js';
import { TlsCertificateStore, loadOrCreateTlsIdentity, storeTlsIdentity } from './tls-certificate.js';
import { makeCertificate, makeChain, type TestCertificate } from './tls-pki.test-support.js';

const NOW_MS = Date.now();
const DAY_MS = 86_400_000;
const logger = createLogger({ level: 'silent' });

function refusedWith(code: TlsCertificateErrorCode) {
  return (error: unknown) => error instanceof TlsCertificateError && error.code === code;
}

describe('checkTlsIdentity', () => {
  let chain: { root: TestCertificate; intermediate: TestCertificate; leaf: TestCertificate };
  before(async () => {
    chain = await makeChain(NOW_MS);
  });

  it('accepts a leaf-first chain with its key and describes the leaf', () => {
    const description = checkTlsIdentity({ certificate: chain.leaf.pem + chain.intermediate.pem, privateKey: chain.leaf.keyPem }, NOW_MS);
    assert.equal(description.subject, 'CN=enclave.test');
    assert.equal(description.issuer, 'CN=Enclave Test Intermediate');
    assert.deepEqual(description.san, ['DNS:enclave.test', 'IP Address:127.0.0.1']);
    assert.equal(description.chain_length, 2);
    assert.equal(description.self_signed, false);
    assert.match(description.fingerprint_sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(description.key_type, 'EC-P-256');
  });

  it('refuses a key that does not belong to the leaf', () => {
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: chain.intermediate.keyPem }, NOW_MS), refusedWith('key-mismatch'));
  });

  it('refuses an expired or not yet valid certificate', async () => {
    const expired = await makeCertificate({ commonName: 'old.test', nowMs: NOW_MS, notBeforeMs: NOW_MS - 30 * DAY_MS, notAfterMs: NOW_MS - DAY_MS });
    assert.throws(() => checkTlsIdentity({ certificate: expired.pem, privateKey: expired.keyPem }, NOW_MS), refusedWith('expired'));
    const future = await makeCertificate({ commonName: 'future.test', nowMs: NOW_MS, notBeforeMs: NOW_MS + DAY_MS });
    assert.throws(() => checkTlsIdentity({ certificate: future.pem, privateKey: future.keyPem }, NOW_MS), refusedWith('not-yet-valid'));
  });

  it('refuses garbage PEM for the certificate and for the key, without echoing the key', () => {
    assert.throws(() => checkTlsIdentity({ certificate: 'hello', privateKey: chain.leaf.keyPem }, NOW_MS), refusedWith('unparseable-certificate'));
    const broken = chain.leaf.pem.replace(/[A-Za-z0-9]{20}/, 'A'.repeat(20));
    assert.throws(() => checkTlsIdentity({ certificate: broken, privateKey: chain.leaf.keyPem }, NOW_MS), refusedWith('unparseable-certificate'));
    const garbageKey = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----\n';
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: garbageKey }, NOW_MS), (error: unknown) => refusedWith('unparseable-key')(error) && !(error as Error).message.includes('c2VjcmV0'));
  });

  it('refuses a chain in the wrong order', () => {
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem + chain.root.pem + chain.intermediate.pem, privateKey: chain.leaf.keyPem }, NOW_MS), refusedWith('chain-order'));
    assert.throws(() => checkTlsIdentity({ certificate: chain.intermediate.pem + chain.leaf.pem, privateKey: chain.leaf.keyPem }, NOW_MS), refusedWith('key-mismatch'));
  });

  it('refuses weak or browser-incompatible keys and passphrase-protected keys', () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: rsa1024 }, NOW_MS), refusedWith('weak-key'));
    const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: ed25519 }, NOW_MS), refusedWith('weak-key'));
    const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: p521 }, NOW_MS), refusedWith('weak-key'));
    const encrypted = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: encrypted }, NOW_MS), refusedWith('encrypted-key'));
  });

  it('refuses oversized input before parsing it', () => {
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem + ' '.repeat(64 * 1024), privateKey: chain.leaf.keyPem }, NOW_MS), refusedWith('too-large'));
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem, privateKey: chain.leaf.keyPem + ' '.repeat(16 * 1024) }, NOW_MS), refusedWith('too-large'));
    assert.throws(() => checkTlsIdentity({ certificate: chain.leaf.pem.repeat(9), privateKey: chain.leaf.keyPem }, NOW_MS), refusedWith('too-large'));
  });
});

describe('TlsCertificateStore', () => {
  let root: string;
  let layout: DataDirLayout;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'enclave-tls-'));
    layout = dataDirLayout(root);
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('starts with the self-signed certificate, installs a chain durably (key 0600) and tells listeners', async () => {
    const initial = await loadOrCreateTlsIdentity({ layout, logger, nowMs: NOW_MS });
    const store = new TlsCertificateStore({ layout, initial, nowMs: () => NOW_MS, logger });
    assert.equal(store.describe().self_signed, true);
    assert.equal(store.describe().chain_length, 1);
    const seen: string[] = [];
    store.onChange((identity) => seen.push(identity.certificate));
    const chain = await makeChain(NOW_MS);
    const certificate = chain.leaf.pem + chain.intermediate.pem;
    const description = await store.install({ certificate, privateKey: chain.leaf.keyPem });
    assert.equal(description.subject, 'CN=enclave.test');
    assert.deepEqual(seen, [certificate]);
    assert.equal(await readFile(layout.tlsCertificateFile, 'utf8'), certificate);
    assert.equal(await readFile(layout.tlsPrivateKeyFile, 'utf8'), chain.leaf.keyPem);
    assert.equal((await stat(layout.tlsPrivateKeyFile)).mode & 0o777, 0o600);
    assert.equal(store.describe().fingerprint_sha256, description.fingerprint_sha256);
    const reloaded = await loadOrCreateTlsIdentity({ layout, logger, nowMs: NOW_MS });
    assert.equal(reloaded.certificate, certificate);
  });

  it('a refused installation changes nothing', async () => {
    const initial = await loadOrCreateTlsIdentity({ layout, logger, nowMs: NOW_MS });
    const store = new TlsCertificateStore({ layout, initial, nowMs: () => NOW_MS, logger });
    const other = await makeCertificate({ commonName: 'other.test', nowMs: NOW_MS });
    await assert.rejects(store.install({ certificate: initial.certificate, privateKey: other.keyPem }), refusedWith('key-mismatch'));
    assert.equal(await readFile(layout.tlsCertificateFile, 'utf8'), initial.certificate);
    assert.equal(store.current(), initial);
  });

  it('an installation interrupted between its renames is completed at the next load', async () => {
    const chain = await makeChain(NOW_MS);
    await storeTlsIdentity(layout, { certificate: chain.root.pem, privateKey: chain.root.keyPem });
    // Simulate a stop after the key's rename: staged certificate and marker still present.
    const leaf = chain.leaf.pem + chain.intermediate.pem;
    await writeFile(layout.tlsPrivateKeyFile, chain.leaf.keyPem, { mode: 0o600 });
    await writeFile(join(layout.tlsDir, 'pending.crt'), leaf);
    await writeFile(join(layout.tlsDir, 'pending.ready'), '');
    const loaded = await loadOrCreateTlsIdentity({ layout, logger, nowMs: NOW_MS });
    assert.deepEqual(loaded, { certificate: leaf, privateKey: chain.leaf.keyPem });
    assert.equal(await fileExists(join(layout.tlsDir, 'pending.ready')), false);
    // Staged files without the marker are an unfinished staging: discarded.
    await writeFile(join(layout.tlsDir, 'pending.crt'), chain.root.pem);
    const again = await loadOrCreateTlsIdentity({ layout, logger, nowMs: NOW_MS });
    assert.equal(again.certificate, leaf);
    assert.equal(await fileExists(join(layout.tlsDir, 'pending.crt')), false);
  });
});
