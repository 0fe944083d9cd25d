import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { dataDirLayout } from '../../../instance/data-dir.js';
import { TlsCertificateStore, loadOrCreateTlsIdentity } from '../../../instance/tls-certificate.js';
import { makeCertificate, makeChain } from '../../../instance/tls-pki.test-support.js';
import { createLogger } from '../../../ops/logger.js';
import type { ApiApp } from '../route.js';
import { createApiServer } from '../server.js';
import { as, TEST_ADMIN, TEST_NOBODY, testAuthorizer, type TestCaller } from '../testing/api-harness.test-support.js';
import { applyTls, tlsRoutes } from './tls.js';

const READER: TestCaller = { name: 'reader', privileges: ['SECURITY_READ'] };
const URL = '/v1/security/tls/certificate';
const logger = createLogger({ level: 'silent' });

/** The certificate a real TLS client is shown by the server, and the protocol it negotiated. */
function peerCertificate(port: number): Promise<{ fingerprint: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      const protocol = socket.getProtocol();
      socket.end();
      resolve({ fingerprint, protocol });
    });
    socket.on('error', reject);
  });
}

describe('/v1/security/tls/certificate', () => {
  let root: string;
  let app: ApiApp;
  let port: number;
  let store: TlsCertificateStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'enclave-tls-route-'));
    const layout = dataDirLayout(root);
    const initial = await loadOrCreateTlsIdentity({ layout, logger, nowMs: Date.now() });
    store = new TlsCertificateStore({ layout, initial, nowMs: () => Date.now(), logger });
    app = await createApiServer({
      tls: initial,
      logger,
      version: { name: 'enclave', version: '0.0.0-test' },
      bodyBytesMax: 1024 * 1024,
      routes: tlsRoutes({ certificates: store }),
      authorize: testAuthorizer([TEST_ADMIN, TEST_NOBODY, READER]),
    });
    store.onChange((identity) => applyTls(app.server, identity));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await app.close();
    await rm(root, { recursive: true, force: true });
  });

  it('GET describes the self-signed certificate made at init', async () => {
    const response = await app.inject({ method: 'GET', url: URL, headers: as(READER) });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.self_signed, true);
    assert.equal(body.chain_length, 1);
    assert.ok(body.san.includes('DNS:localhost') && body.san.includes('IP Address:127.0.0.1'));
    assert.ok(Date.parse(body.not_after) > Date.now());
    assert.equal(body.fingerprint_sha256, (await peerCertificate(port)).fingerprint);
    assert.ok(!response.body.includes('PRIVATE KEY'));
  });

  it('PUT installs a CA-issued chain that a real TLS client sees at once, TLS 1.2+ only', async () => {
    const chain = await makeChain(Date.now());
    const response = await app.inject({ method: 'PUT', url: URL, headers: as(TEST_ADMIN), payload: { certificate: chain.leaf.pem + chain.intermediate.pem, private_key: chain.leaf.keyPem } });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.deepEqual(Object.keys(body).sort(), ['chain_length', 'fingerprint_sha256', 'issuer', 'key_type', 'not_after', 'not_before', 'san', 'self_signed', 'subject']);
    assert.equal(body.subject, 'CN=enclave.test');
    assert.equal(body.chain_length, 2);
    assert.equal(body.self_signed, false);
    assert.ok(!response.body.includes('PRIVATE KEY'));
    const seen = await peerCertificate(port);
    assert.equal(seen.fingerprint, new X509Certificate(chain.leaf.pem).fingerprint256);
    assert.equal(seen.fingerprint, body.fingerprint_sha256);
    assert.ok(seen.protocol === 'TLSv1.3' || seen.protocol === 'TLSv1.2');
    assert.equal((await app.inject({ method: 'GET', url: URL, headers: as(READER) })).json().fingerprint_sha256, body.fingerprint_sha256);
    // The old protocol floor still holds after the swap.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve(socket.end()));
        socket.on('error', reject);
      }),
    );
  });

  it('refuses a key mismatch, an expired certificate, garbage PEM and a wrong chain order with 400, keeping the certificate', async () => {
    const before = (await peerCertificate(port)).fingerprint;
    const chain = await makeChain(Date.now());
    const expired = await makeCertificate({ commonName: 'old.test', nowMs: Date.now(), notBeforeMs: Date.now() - 10 * 86_400_000, notAfterMs: Date.now() - 86_400_000 });
    const cases: Array<[unknown, string]> = [
      [{ certificate: chain.leaf.pem, private_key: chain.root.keyPem }, 'tls_private_key_mismatch_error'],
      [{ certificate: expired.pem, private_key: expired.keyPem }, 'tls_certificate_expired_error'],
      [{ certificate: 'not a certificate', private_key: chain.leaf.keyPem }, 'tls_certificate_invalid_error'],
      [{ certificate: chain.leaf.pem, private_key: 'not a key' }, 'tls_private_key_invalid_error'],
      [{ certificate: chain.leaf.pem + chain.root.pem + chain.intermediate.pem, private_key: chain.leaf.keyPem }, 'tls_certificate_chain_error'],
    ];
    for (const [payload, errorClass] of cases) {
      const response = await app.inject({ method: 'PUT', url: URL, headers: as(TEST_ADMIN), payload: payload as object });
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json().error_class, errorClass);
      assert.ok(!response.body.includes('BEGIN PRIVATE KEY'));
    }
    const extra = await app.inject({ method: 'PUT', url: URL, headers: as(TEST_ADMIN), payload: { certificate: chain.leaf.pem, private_key: chain.leaf.keyPem, debug: true } });
    assert.equal(extra.statusCode, 400);
    assert.equal((await peerCertificate(port)).fingerprint, before);
  });

  it('refuses an oversized certificate with 413', async () => {
    const chain = await makeChain(Date.now());
    const response = await app.inject({ method: 'PUT', url: URL, headers: as(TEST_ADMIN), payload: { certificate: chain.leaf.pem + '#'.repeat(70 * 1024), private_key: chain.leaf.keyPem } });
    assert.equal(response.statusCode, 413);
    assert.equal(response.json().error_class, 'tls_certificate_too_large_error');
  });

  it('needs a session (401) and SECURITY_READ / SECURITY_WRITE (403)', async () => {
    assert.equal((await app.inject({ method: 'GET', url: URL })).statusCode, 401);
    assert.equal((await app.inject({ method: 'PUT', url: URL, payload: {} })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: URL, headers: as(TEST_NOBODY) })).statusCode, 403);
    assert.equal((await app.inject({ method: 'PUT', url: URL, headers: as(READER), payload: { certificate: 'x', private_key: 'y' } })).statusCode, 403);
  });
});
