import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { changedFields, REDACTED, redactSecrets } from './changes.js';

describe('audit before/after', () => {
  it('keeps only the fields that changed, old and new', () => {
    assert.deepEqual(changedFields({ mode: 0o644, uid: 1, size: 10 }, { mode: 0o600, uid: 1, size: 10 }), { before: { mode: 0o644 }, after: { mode: 0o600 } });
    assert.deepEqual(changedFields({ a: 1 }, { a: 1, b: 2 }), { before: { b: null }, after: { b: 2 } });
    assert.deepEqual(changedFields(null, { limit: 5 }), { before: null, after: { limit: 5 } });
  });

  it('redacts passwords, tokens, secret access keys, client keys and PEM private keys at any depth', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
    const safe = redactSecrets({ name: 'x', password: 'hunter2', nested: [{ secret_access_key: 'abc', access_key_id: 'AKIA' }], sink: { client_key: pem, ca_certificate: 'cert' }, note: pem, token: 'tok', size: 5n }) as Record<string, unknown>;
    assert.deepEqual(safe, { name: 'x', password: REDACTED, nested: [{ secret_access_key: REDACTED, access_key_id: 'AKIA' }], sink: { client_key: REDACTED, ca_certificate: 'cert' }, note: REDACTED, token: REDACTED, size: '5' });
    assert.deepEqual(changedFields({ password: 'old-secret', name: 'a' }, { password: 'new-secret', name: 'a' }), { before: { password: REDACTED }, after: { password: REDACTED } }, 'a changed secret shows as changed, never its value');
  });
});
