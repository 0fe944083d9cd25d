import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Error } from './errors.js';
import { canonicalRequest, parseAuthorization, SigningKeyCache, verifySignature } from './sigv4.js';

// The worked examples of the S3 API reference, "Examples: Signature Calculations in AWS Signature
// Version 4" (header auth) and "Authenticating Requests: Using Query Parameters" (presigned).
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EXAMPLE_TIME = Date.UTC(2013, 4, 24, 0, 0, 0);

const getObjectExample = {
  method: 'GET',
  url: '/test.txt',
  rawHeaders: [
    'Host', 'examplebucket.s3.amazonaws.com',
    'Range', 'bytes=0-9',
    'x-amz-content-sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-amz-date', '20130524T000000Z',
    'Authorization', 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  ],
};

describe('SigV4', () => {
  it('verifies the S3 reference GetObject example', () => {
    const auth = parseAuthorization(getObjectExample);
    assert.ok(auth !== undefined);
    assert.equal(auth.accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
    const verified = verifySignature({ request: getObjectExample, auth, secret: SECRET, nowMs: EXAMPLE_TIME, keys: new SigningKeyCache() });
    assert.equal(verified.seedSignature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('verifies the S3 reference presigned URL example (expires 86400)', () => {
    const request = {
      method: 'GET',
      url: '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
      rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com'],
    };
    const auth = parseAuthorization(request);
    assert.ok(auth?.presigned);
    verifySignature({ request, auth, secret: SECRET, nowMs: EXAMPLE_TIME + 3_600_000, keys: new SigningKeyCache() });
    assert.throws(() => verifySignature({ request, auth, secret: SECRET, nowMs: EXAMPLE_TIME + 86_401_000, keys: new SigningKeyCache() }), (error: unknown) => error instanceof S3Error && error.code === 'AccessDenied');
  });

  it('a changed header, a wrong secret and a skewed clock are refused with their S3 codes', () => {
    const auth = parseAuthorization(getObjectExample);
    assert.ok(auth !== undefined);
    const tampered = { ...getObjectExample, rawHeaders: getObjectExample.rawHeaders.map((value) => (value === 'bytes=0-9' ? 'bytes=0-99' : value)) };
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof S3Error ? error.code : String(error);
      }
      return 'no error';
    };
    const keys = new SigningKeyCache();
    assert.equal(code(() => verifySignature({ request: tampered, auth, secret: SECRET, nowMs: EXAMPLE_TIME, keys })), 'SignatureDoesNotMatch');
    assert.equal(code(() => verifySignature({ request: getObjectExample, auth, secret: `${SECRET}x`, nowMs: EXAMPLE_TIME, keys })), 'SignatureDoesNotMatch');
    assert.equal(code(() => verifySignature({ request: getObjectExample, auth, secret: SECRET, nowMs: EXAMPLE_TIME + 16 * 60_000, keys })), 'RequestTimeTooSkewed');
    assert.equal(code(() => verifySignature({ request: getObjectExample, auth, secret: SECRET, nowMs: EXAMPLE_TIME + 14 * 60_000, keys })), 'no error');
  });

  it('refuses Signature Version 2 with a clear error, in the header and in the query', () => {
    for (const request of [
      { method: 'GET', url: '/b/k', rawHeaders: ['Authorization', 'AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg='] },
      { method: 'GET', url: '/b/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D', rawHeaders: [] },
    ]) {
      assert.throws(() => parseAuthorization(request), (error: unknown) => error instanceof S3Error && error.code === 'InvalidRequest' && /Signature Version 2/.test(error.message));
    }
  });

  it('presigned URLs may not live longer than 7 days; anonymous requests parse as undefined', () => {
    const url = '/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00';
    assert.throws(() => parseAuthorization({ method: 'GET', url, rawHeaders: [] }), (error: unknown) => error instanceof S3Error && error.code === 'AuthorizationQueryParametersError');
    assert.equal(parseAuthorization({ method: 'GET', url: '/b/k', rawHeaders: [] }), undefined);
  });

  it('canonical requests encode the path once and sort the query', () => {
    const canonical = canonicalRequest({ method: 'GET', url: '/b/a%20b%2Bc?z=1&a=%2F&empty', rawHeaders: ['Host', 'h'] }, ['host'], 'UNSIGNED-PAYLOAD', { presigned: false });
    assert.equal(canonical.split('\n').slice(0, 3).join('\n'), 'GET\n/b/a%20b%2Bc\na=%2F&empty=&z=1');
  });
});
