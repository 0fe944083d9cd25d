/**
 * Edge cases of the S3 API reference that conformance suites (ceph/s3-tests, MinIO mint) check:
 * listing parameters, response overrides, ranges, conditions, digests and checksums, copy and
 * multipart validation, DeleteObjects, bucket names, ACL reads and the shape of every error.
 * Raw signed requests where an SDK would refuse to send the request under test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, DeleteBucketPolicyCommand, PutBucketPolicyCommand, CreateMultipartUploadCommand, DeleteObjectsCommand, GetBucketAclCommand, GetObjectAclCommand,
  GetObjectCommand, ListBucketsCommand, PutBucketAclCommand, PutObjectAclCommand, ListMultipartUploadsCommand, ListObjectsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, S3Client, S3ServiceException, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { rawRequest, signedRequest, startS3, type RawAnswer, type S3Fixture } from './support/s3-fixture.js';

const md5Base64 = (data: Buffer) => createHash('md5').update(data).digest('base64');
const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');
const crc32Base64 = (data: Buffer) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(data) >>> 0);
  return bytes.toString('base64');
};
/** The text of every `<name>` element of an XML answer, in order (no nesting of the same name). */
const xmlAll = (body: Buffer | string, name: string): string[] => [...String(body).matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((match) => match[1] as string);
const xmlOne = (body: Buffer | string, name: string): string | undefined => xmlAll(body, name)[0];
const PART_BYTES_MIN = 64 * 1024;
const OBJECT_BYTES_MAX = 1024 * 1024;

describe('S3 API reference edge cases (conformance)', () => {
  let fixture: S3Fixture;
  let alice: S3Client;
  let bob: S3Client;

  before(async () => {
    fixture = await startS3({ limits: { partBytesMin: PART_BYTES_MIN, objectBytesMax: OBJECT_BYTES_MAX } });
    alice = fixture.client(fixture.users.alice.credentials);
    bob = fixture.client(fixture.users.bob.credentials);
  });
  after(async () => fixture?.stop());

  const signed = (options: Parameters<typeof signedRequest>[2]) => signedRequest(fixture.port, fixture.users.alice.credentials, options);
  const put = (key: string, body: string | Buffer, extra: Omit<ConstructorParameters<typeof PutObjectCommand>[0], 'Bucket' | 'Key' | 'Body'> = {}) => alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: key, Body: body, ...extra }));
  const errorOf = (answer: RawAnswer): string => `${answer.status} ${xmlOne(answer.body, 'Code') ?? ''}`;
  const errorName = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof S3ServiceException, String(error));
      return `${error.$metadata.httpStatusCode} ${error.name}`;
    }
    return 'no error';
  };

  describe('listing', () => {
    before(async () => {
      for (const key of ['enc/foo+1/bar', 'enc/foo/bar/xyzzy', 'enc/quux ab/thud', 'enc/asdf+b', 'enc/caf\u00e9']) await put(key, 'x');
      for (const key of ['dl/bar', 'dl/baz', 'dl/cab', 'dl/foo']) await put(key, 'x');
      for (let index = 0; index < 5; index++) await put(`page/${index}`, 'x');
    });

    it('encoding-type=url encodes keys, prefixes, the delimiter and StartAfter, and echoes EncodingType', async () => {
      const answer = await signed({ method: 'GET', bucket: 'alpha', query: [['list-type', '2'], ['prefix', 'enc/'], ['delimiter', '/'], ['encoding-type', 'url'], ['start-after', 'enc/ a']] });
      assert.equal(answer.status, 200);
      assert.deepEqual(xmlAll(answer.body, 'Key'), ['enc/asdf%2Bb', 'enc/caf%C3%A9']);
      assert.deepEqual(xmlAll(answer.body, 'Prefix').slice(1), ['enc/foo%2B1/', 'enc/foo/', 'enc/quux%20ab/']);
      assert.equal(xmlOne(answer.body, 'StartAfter'), 'enc/%20a');
      assert.equal(xmlOne(answer.body, 'Delimiter'), '/');
      assert.equal(xmlOne(answer.body, 'EncodingType'), 'url');
      const bad = await signed({ method: 'GET', bucket: 'alpha', query: [['list-type', '2'], ['encoding-type', 'base64']] });
      assert.equal(errorOf(bad), '400 InvalidArgument');
    });

    it('max-keys 0 answers nothing and is not truncated; max-keys above 1,000 is capped; KeyCount counts prefixes too', async () => {
      const zero = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'page/', MaxKeys: 0 }));
      assert.equal(zero.KeyCount, 0);
      assert.equal(zero.IsTruncated, false);
      assert.equal(zero.Contents, undefined);
      const many = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'page/', MaxKeys: 5000 }));
      assert.equal(many.MaxKeys, 1000);
      assert.equal(many.KeyCount, 5);
      const grouped = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'enc/', Delimiter: '/' }));
      assert.equal(grouped.KeyCount, 5);
      assert.equal(errorOf(await signed({ method: 'GET', bucket: 'alpha', query: [['list-type', '2'], ['max-keys', '-1']] })), '400 InvalidArgument');
      assert.equal(errorOf(await signed({ method: 'GET', bucket: 'alpha', query: [['list-type', '2'], ['max-keys', 'blah']] })), '400 InvalidArgument');
    });

    it('continuation tokens page through; a forged token is InvalidArgument; a prefix without matches is an empty page', async () => {
      const first = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'page/', MaxKeys: 2 }));
      assert.equal(first.IsTruncated, true);
      assert.equal(first.KeyCount, 2);
      const second = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'page/', MaxKeys: 3, ContinuationToken: first.NextContinuationToken }));
      assert.deepEqual(second.Contents?.map((item) => item.Key), ['page/2', 'page/3', 'page/4']);
      assert.equal(second.IsTruncated, false);
      assert.equal(second.NextContinuationToken, undefined);
      assert.equal(second.ContinuationToken, first.NextContinuationToken);
      assert.equal(await errorName(alice.send(new ListObjectsV2Command({ Bucket: 'alpha', ContinuationToken: 'bm90IGEgdG9rZW4' }))), '400 InvalidArgument');
      const none = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'no/such/prefix' }));
      assert.equal(none.KeyCount, 0);
      assert.equal(none.IsTruncated, false);
    });

    it('fetch-owner adds Owner only when true; V1 always has Owner', async () => {
      const without = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'page/', FetchOwner: false }));
      assert.equal(without.Contents?.[0]?.Owner, undefined);
      const withOwner = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'page/', FetchOwner: true }));
      assert.ok(withOwner.Contents?.[0]?.Owner?.ID !== undefined);
      const v1 = await alice.send(new ListObjectsCommand({ Bucket: 'alpha', Prefix: 'page/' }));
      assert.ok(v1.Contents?.[0]?.Owner?.ID !== undefined);
      // One canonical ID per user across answers.
      const buckets = await alice.send(new ListBucketsCommand({}));
      assert.deepEqual(withOwner.Contents?.[0]?.Owner, buckets.Owner);
      assert.deepEqual(buckets.Owner, { ID: String(fixture.users.alice.uid), DisplayName: 'alice' });
    });

    it('V1: Marker is echoed; NextMarker only with a delimiter', async () => {
      const plain = await alice.send(new ListObjectsCommand({ Bucket: 'alpha', Prefix: 'page/', MaxKeys: 2, Marker: 'page/0' }));
      assert.equal(plain.Marker, 'page/0');
      assert.deepEqual(plain.Contents?.map((item) => item.Key), ['page/1', 'page/2']);
      assert.equal(plain.IsTruncated, true);
      assert.equal(plain.NextMarker, undefined);
      const delimited = await alice.send(new ListObjectsCommand({ Bucket: 'alpha', Prefix: 'enc/', Delimiter: '/', MaxKeys: 2 }));
      assert.equal(delimited.IsTruncated, true);
      assert.equal(delimited.NextMarker, 'enc/caf\u00e9');
    });

    it('a delimiter other than "/" rolls keys up into CommonPrefixes', async () => {
      const answer = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: 'dl/', Delimiter: 'a' }));
      assert.deepEqual(answer.CommonPrefixes?.map((item) => item.Prefix), ['dl/ba', 'dl/ca']);
      assert.deepEqual(answer.Contents?.map((item) => item.Key), ['dl/foo']);
      const v1 = await alice.send(new ListObjectsCommand({ Bucket: 'alpha', Prefix: 'dl/', Delimiter: 'a', MaxKeys: 1 }));
      assert.deepEqual(v1.CommonPrefixes?.map((item) => item.Prefix), ['dl/ba']);
      assert.equal(v1.NextMarker, 'dl/ba');
      const rest = await alice.send(new ListObjectsCommand({ Bucket: 'alpha', Prefix: 'dl/', Delimiter: 'a', Marker: v1.NextMarker }));
      assert.deepEqual(rest.CommonPrefixes?.map((item) => item.Prefix), ['dl/ca']);
      assert.deepEqual(rest.Contents?.map((item) => item.Key), ['dl/foo']);
    });
  });

  describe('GetObject and HeadObject', () => {
    const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    let etag: string;
    before(async () => {
      etag = (await put('get/object', body, { ContentType: 'text/plain' })).ETag as string;
    });

    it('response-* parameters override headers on signed requests only', async () => {
      const got = await alice.send(new GetObjectCommand({
        Bucket: 'alpha', Key: 'get/object', ResponseContentType: 'application/x-override', ResponseContentDisposition: 'attachment; filename="x.bin"',
        ResponseCacheControl: 'no-cache', ResponseContentLanguage: 'fr', ResponseContentEncoding: 'identity', ResponseExpires: new Date('2030-01-01T00:00:00Z'),
      }));
      assert.equal(got.ContentType, 'application/x-override');
      assert.equal(got.ContentDisposition, 'attachment; filename="x.bin"');
      assert.equal(got.CacheControl, 'no-cache');
      assert.equal(got.ContentLanguage, 'fr');
      assert.equal(got.ContentEncoding, 'identity');
      assert.equal(got.ExpiresString, 'Tue, 01 Jan 2030 00:00:00 GMT');
      assert.equal(await got.Body!.transformToString(), body.toString());
      const head = await signed({ method: 'HEAD', bucket: 'alpha', key: 'get/object', query: [['response-content-type', 'image/png']] });
      assert.equal(head.headers['content-type'], 'image/png');
      const statement = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::alpha/get/*' };
      await alice.send(new PutBucketPolicyCommand({ Bucket: 'alpha', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }) }));
      try {
        assert.equal((await rawRequest(fixture.port, { method: 'GET', path: '/alpha/get/object' })).status, 200);
        const anonymous = await rawRequest(fixture.port, { method: 'GET', path: '/alpha/get/object?response-content-type=image/png' });
        assert.equal(errorOf(anonymous), '400 InvalidRequest');
      } finally {
        await alice.send(new DeleteBucketPolicyCommand({ Bucket: 'alpha' }));
      }
    });

    it('ranges: suffix, open-ended, past the end (416 with Content-Range */size), multi-range ignored', async () => {
      const range = async (header: string) => signed({ method: 'GET', bucket: 'alpha', key: 'get/object', headers: { range: header } });
      const suffix = await range('bytes=-7');
      assert.equal(suffix.status, 206);
      assert.equal(suffix.body.toString(), 'tuvwxyz');
      assert.equal(suffix.headers['content-range'], `bytes 29-35/${body.length}`);
      const open = await range('bytes=30-');
      assert.equal(open.body.toString(), 'uvwxyz');
      const longSuffix = await range('bytes=-100');
      assert.equal(longSuffix.body.toString(), body.toString());
      const beyondEnd = await range('bytes=20-1000');
      assert.equal(beyondEnd.headers['content-range'], `bytes 20-35/${body.length}`);
      const past = await range(`bytes=${body.length}-`);
      assert.equal(errorOf(past), '416 InvalidRange');
      assert.equal(past.headers['content-range'], `bytes */${body.length}`);
      const multi = await range('bytes=0-1,4-5');
      assert.equal(multi.status, 200);
      assert.equal(multi.body.length, body.length);
      await put('get/empty', '');
      assert.equal(errorOf(await signed({ method: 'GET', bucket: 'alpha', key: 'get/empty', headers: { range: 'bytes=0-' } })), '416 InvalidRange');
    });

    it('conditions: If-Match beats If-Unmodified-Since, If-None-Match beats If-Modified-Since; 304 has no body; HEAD errors have no body', async () => {
      const past = 'Mon, 01 Jan 2001 00:00:00 GMT';
      const future = new Date(Date.now() + 86_400_000).toUTCString();
      const get = (headers: Record<string, string>, method = 'GET') => signed({ method, bucket: 'alpha', key: 'get/object', headers });
      assert.equal((await get({ 'if-match': etag, 'if-unmodified-since': past })).status, 200);
      assert.equal(errorOf(await get({ 'if-match': '"nope"', 'if-unmodified-since': future })), '412 PreconditionFailed');
      assert.equal(errorOf(await get({ 'if-unmodified-since': past })), '412 PreconditionFailed');
      const notModified = await get({ 'if-none-match': etag, 'if-modified-since': past });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.body.length, 0);
      assert.equal(notModified.headers.etag, etag);
      assert.equal((await get({ 'if-none-match': '"other"', 'if-modified-since': future })).status, 200);
      assert.equal((await get({ 'if-modified-since': future })).status, 304);
      const headFailed = await get({ 'if-match': '"nope"' }, 'HEAD');
      assert.equal(headFailed.status, 412);
      assert.equal(headFailed.body.length, 0);
      const headMissing = await signed({ method: 'HEAD', bucket: 'alpha', key: 'get/missing' });
      assert.equal(headMissing.status, 404);
      assert.equal(headMissing.body.length, 0);
      assert.ok(typeof headMissing.headers['x-amz-request-id'] === 'string');
    });

    it('partNumber: 1 of a single-part object is the whole object; others are InvalidPartNumber; with Range it is InvalidRequest', async () => {
      const first = await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'get/object', PartNumber: 1 }));
      assert.equal(await first.Body!.transformToString(), body.toString());
      assert.equal(first.ETag, etag);
      assert.equal(first.PartsCount, undefined);
      assert.equal(await errorName(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'get/object', PartNumber: 2 }))), '416 InvalidPartNumber');
      assert.equal(errorOf(await signed({ method: 'GET', bucket: 'alpha', key: 'get/object', query: [['partNumber', '0']] })), '400 InvalidArgument');
      assert.equal(errorOf(await signed({ method: 'GET', bucket: 'alpha', key: 'get/object', query: [['partNumber', '1']], headers: { range: 'bytes=0-1' } })), '400 InvalidRequest');
      const head = await signed({ method: 'HEAD', bucket: 'alpha', key: 'get/object', query: [['partNumber', '1']] });
      assert.equal(head.headers['content-length'], String(body.length));
    });
  });

  describe('PutObject', () => {
    it('Content-MD5: malformed is InvalidDigest, a mismatch is BadDigest, a match stores the object', async () => {
      const body = Buffer.from('digest me');
      assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', key: 'put/md5', body, headers: { 'content-md5': 'not base64!' } })), '400 InvalidDigest');
      assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', key: 'put/md5', body, headers: { 'content-md5': Buffer.from('short').toString('base64') } })), '400 InvalidDigest');
      assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', key: 'put/md5', body, headers: { 'content-md5': md5Base64(Buffer.from('other')) } })), '400 BadDigest');
      const good = await signed({ method: 'PUT', bucket: 'alpha', key: 'put/md5', body, headers: { 'content-md5': md5Base64(body) } });
      assert.equal(good.status, 200);
      assert.equal(good.headers.etag, `"${md5Hex(body)}"`);
    });

    it('x-amz-checksum-* headers are validated and echoed (CRC32, CRC32C, SHA-1, SHA-256); the SDK trailer checksum is echoed', async () => {
      const body = Buffer.from('checksummed body');
      const sha1 = createHash('sha1').update(body).digest('base64');
      const sha256 = createHash('sha256').update(body).digest('base64');
      for (const [name, value] of [['x-amz-checksum-crc32', crc32Base64(body)], ['x-amz-checksum-sha1', sha1], ['x-amz-checksum-sha256', sha256]] as const) {
        const answer = await signed({ method: 'PUT', bucket: 'alpha', key: 'put/checksum', body, headers: { [name]: value } });
        assert.equal(answer.status, 200, `${name}: ${answer.body.toString()}`);
        assert.equal(answer.headers[name], value);
        const wrong = await signed({ method: 'PUT', bucket: 'alpha', key: 'put/checksum', body, headers: { [name]: name === 'x-amz-checksum-crc32' ? crc32Base64(Buffer.from('x')) : createHash(name.slice(15)).update('x').digest('base64') } });
        assert.equal(errorOf(wrong), '400 BadDigest');
        assert.equal(wrong.headers[name], undefined);
      }
      const crc32c = await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'put/checksum', Body: body, ChecksumAlgorithm: 'CRC32C' }));
      // CRC-32C of the body by a bitwise reference implementation (check value 0xe3069283 for "123456789").
      assert.equal(crc32c.ChecksumCRC32C, 'TN0j2Q==');
      const malformed = await signed({ method: 'PUT', bucket: 'alpha', key: 'put/checksum', body, headers: { 'x-amz-checksum-sha256': 'abc' } });
      assert.equal(errorOf(malformed), '400 InvalidRequest');
      const viaSdk = await put('put/sdk-checksum', body);
      assert.equal(viaSdk.ChecksumCRC32, crc32Base64(body));
    });

    it('a body without Content-Length is MissingContentLength (411); too large is EntityTooLarge', async () => {
      const chunked = await new Promise<RawAnswer>((resolve, reject) => {
        void signed({ method: 'PUT', bucket: 'alpha', key: 'put/no-length', headers: { 'transfer-encoding': 'chunked' }, payloadHash: 'UNSIGNED-PAYLOAD' }).then(resolve, reject);
      });
      assert.equal(errorOf(chunked), '411 MissingContentLength');
      const big = Buffer.alloc(OBJECT_BYTES_MAX + 1);
      assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', key: 'put/big', body: big, payloadHash: 'UNSIGNED-PAYLOAD' })), '400 EntityTooLarge');
    });

    it('user metadata over 2 KiB is MetadataTooLarge', async () => {
      assert.equal(await errorName(put('put/meta', 'x', { Metadata: { big: 'v'.repeat(2100) } })), '400 MetadataTooLarge');
      await put('put/meta', 'x', { Metadata: { fits: 'v'.repeat(2000) } });
    });

    it('x-amz-storage-class STANDARD is accepted; anything else is InvalidStorageClass', async () => {
      await put('put/class', 'x', { StorageClass: 'STANDARD' });
      assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', key: 'put/class', body: Buffer.from('x'), headers: { 'x-amz-storage-class': 'PLATINUM' } })), '400 InvalidStorageClass');
      assert.equal(await errorName(put('put/class', 'x', { StorageClass: 'GLACIER' })), '400 InvalidStorageClass');
      assert.equal(await errorName(alice.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'put/class', StorageClass: 'DEEP_ARCHIVE' }))), '400 InvalidStorageClass');
    });
  });

  describe('CopyObject and UploadPartCopy', () => {
    it('the copy source is URL-decoded and takes versionId=null; the result XML has ETag and LastModified', async () => {
      const source = await put('copy/sp ace+\u00e9', 'copy me');
      const answer = await signed({ method: 'PUT', bucket: 'alpha', key: 'copy/target', headers: { 'x-amz-copy-source': `/alpha/${encodeURIComponent('copy/sp ace+\u00e9')}?versionId=null` } });
      assert.equal(answer.status, 200, answer.body.toString());
      assert.equal(xmlOne(answer.body, 'ETag'), source.ETag?.replace(/"/g, '&quot;'));
      assert.match(xmlOne(answer.body, 'LastModified') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const other = await signed({ method: 'PUT', bucket: 'alpha', key: 'copy/target', headers: { 'x-amz-copy-source': '/alpha/copy/target?versionId=3HL4kqtJlcpXroDTDmJ' } });
      assert.equal(errorOf(other), '404 NoSuchKey');
    });

    it('copying onto itself needs REPLACE (or a tagging or storage-class change); unknown directives are InvalidArgument', async () => {
      await put('copy/self', 'self', { Metadata: { a: '1' } });
      const copy = (headers: Record<string, string>) => signed({ method: 'PUT', bucket: 'alpha', key: 'copy/self', headers: { 'x-amz-copy-source': '/alpha/copy/self', ...headers } });
      assert.equal(errorOf(await copy({})), '400 InvalidRequest');
      assert.equal((await copy({ 'x-amz-metadata-directive': 'REPLACE', 'x-amz-meta-b': '2' })).status, 200);
      const head = await signed({ method: 'HEAD', bucket: 'alpha', key: 'copy/self' });
      assert.equal(head.headers['x-amz-meta-b'], '2');
      assert.equal(head.headers['x-amz-meta-a'], undefined);
      assert.equal((await copy({ 'x-amz-storage-class': 'STANDARD' })).status, 200);
      assert.equal(errorOf(await copy({ 'x-amz-metadata-directive': 'MERGE' })), '400 InvalidArgument');
      assert.equal(errorOf(await copy({ 'x-amz-tagging-directive': 'MERGE' })), '400 InvalidArgument');
    });

    it('UploadPartCopy takes only bytes=first-last within the source', async () => {
      await put('copy/range-source', Buffer.alloc(100, 1));
      const { UploadId } = await alice.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'copy/range-target' }));
      const copyPart = (range: string) => signed({ method: 'PUT', bucket: 'alpha', key: 'copy/range-target', query: [['partNumber', '1'], ['uploadId', UploadId as string]], headers: { 'x-amz-copy-source': '/alpha/copy/range-source', 'x-amz-copy-source-range': range } });
      for (const range of ['bytes=-1', 'bytes=0-', 'bytes=hello-world', 'bytes=0-bar', 'bytes=0-2,3-5', 'bytes=5-1']) assert.equal(errorOf(await copyPart(range)), '400 InvalidArgument', range);
      assert.equal(errorOf(await copyPart('bytes=0-100')), '416 InvalidRange');
      const good = await copyPart('bytes=10-19');
      assert.equal(good.status, 200);
      assert.equal(xmlOne(good.body, 'ETag'), `&quot;${md5Hex(Buffer.alloc(10, 1))}&quot;`);
    });
  });

  describe('multipart', () => {
    it('part numbers, EntityTooSmall, InvalidPartOrder, InvalidPart, NoSuchUpload; the -N ETag', async () => {
      const Key = 'mp/checks';
      const { UploadId } = await alice.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key }));
      for (const number of ['0', '10001', 'x']) {
        assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', key: Key, query: [['partNumber', number], ['uploadId', UploadId as string]], body: Buffer.from('x') })), '400 InvalidArgument', number);
      }
      const big = Buffer.alloc(PART_BYTES_MIN, 2);
      const small = Buffer.from('tail');
      const one = await alice.send(new UploadPartCommand({ Bucket: 'alpha', Key, UploadId, PartNumber: 1, Body: small }));
      const two = await alice.send(new UploadPartCommand({ Bucket: 'alpha', Key, UploadId, PartNumber: 2, Body: small }));
      const complete = (parts: Array<{ PartNumber: number; ETag: string }>) => alice.send(new CompleteMultipartUploadCommand({ Bucket: 'alpha', Key, UploadId, MultipartUpload: { Parts: parts } }));
      assert.equal(await errorName(complete([{ PartNumber: 1, ETag: one.ETag! }, { PartNumber: 2, ETag: two.ETag! }])), '400 EntityTooSmall');
      assert.equal(await errorName(complete([{ PartNumber: 2, ETag: two.ETag! }, { PartNumber: 1, ETag: one.ETag! }])), '400 InvalidPartOrder');
      assert.equal(await errorName(complete([{ PartNumber: 1, ETag: two.ETag!.replace(/^"./, '"0') }])), '400 InvalidPart');
      assert.equal(await errorName(complete([{ PartNumber: 3, ETag: one.ETag! }])), '400 InvalidPart');
      const bigPart = await alice.send(new UploadPartCommand({ Bucket: 'alpha', Key, UploadId, PartNumber: 1, Body: big }));
      const done = await complete([{ PartNumber: 1, ETag: bigPart.ETag! }, { PartNumber: 2, ETag: two.ETag! }]);
      const expected = createHash('md5').update(Buffer.concat([createHash('md5').update(big).digest(), createHash('md5').update(small).digest()])).digest('hex');
      assert.equal(done.ETag, `"${expected}-2"`);
      assert.equal(await errorName(complete([{ PartNumber: 1, ETag: bigPart.ETag! }])), '404 NoSuchUpload');
      assert.equal(await errorName(alice.send(new ListPartsCommand({ Bucket: 'alpha', Key, UploadId: '0123456789abcdef0123456789abcdef' }))), '404 NoSuchUpload');
    });

    it('ListParts pages with max-parts and part-number-marker', async () => {
      const Key = 'mp/parts';
      const { UploadId } = await alice.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key }));
      for (const PartNumber of [1, 2, 3, 5]) await alice.send(new UploadPartCommand({ Bucket: 'alpha', Key, UploadId, PartNumber, Body: `part ${PartNumber}` }));
      const first = await alice.send(new ListPartsCommand({ Bucket: 'alpha', Key, UploadId, MaxParts: 2 }));
      assert.deepEqual(first.Parts?.map((part) => part.PartNumber), [1, 2]);
      assert.equal(first.IsTruncated, true);
      assert.equal(first.NextPartNumberMarker, '2');
      const rest = await alice.send(new ListPartsCommand({ Bucket: 'alpha', Key, UploadId, PartNumberMarker: first.NextPartNumberMarker }));
      assert.deepEqual(rest.Parts?.map((part) => part.PartNumber), [3, 5]);
      assert.equal(rest.IsTruncated, false);
    });

    it('ListMultipartUploads with prefix, delimiter, key-marker and upload-id-marker', async () => {
      const ids: Record<string, string> = {};
      for (const key of ['mpl/a', 'mpl/b', 'mpl/b', 'mpl/dir/c', 'mpl/dir/d']) {
        const { UploadId } = await alice.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: key }));
        ids[`${key}#${Object.keys(ids).filter((name) => name.startsWith(`${key}#`)).length}`] = UploadId as string;
      }
      const grouped = await alice.send(new ListMultipartUploadsCommand({ Bucket: 'alpha', Prefix: 'mpl/', Delimiter: '/' }));
      assert.deepEqual(grouped.Uploads?.map((upload) => upload.Key), ['mpl/a', 'mpl/b', 'mpl/b']);
      assert.deepEqual(grouped.CommonPrefixes?.map((item) => item.Prefix), ['mpl/dir/']);
      const page = await alice.send(new ListMultipartUploadsCommand({ Bucket: 'alpha', Prefix: 'mpl/', MaxUploads: 2 }));
      assert.equal(page.IsTruncated, true);
      assert.equal(page.NextKeyMarker, 'mpl/b');
      const rest = await alice.send(new ListMultipartUploadsCommand({ Bucket: 'alpha', Prefix: 'mpl/', KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker }));
      assert.deepEqual(rest.Uploads?.map((upload) => upload.Key), ['mpl/b', 'mpl/dir/c', 'mpl/dir/d']);
      assert.ok(!rest.Uploads?.some((upload) => upload.UploadId === page.NextUploadIdMarker));
      const afterKey = await alice.send(new ListMultipartUploadsCommand({ Bucket: 'alpha', Prefix: 'mpl/', KeyMarker: 'mpl/b' }));
      assert.deepEqual(afterKey.Uploads?.map((upload) => upload.Key), ['mpl/dir/c', 'mpl/dir/d']);
    });
  });

  describe('DeleteObjects', () => {
    const document = (keys: string[], quiet = false) => Buffer.from(`<Delete>${quiet ? '<Quiet>true</Quiet>' : ''}${keys.map((key) => `<Object><Key>${key}</Key></Object>`).join('')}</Delete>`);
    const deleteObjects = (body: Buffer, headers: Record<string, string> = { 'content-md5': md5Base64(body) }) => signed({ method: 'POST', bucket: 'alpha', query: [['delete', '']], body, headers });

    it('needs Content-MD5 or a checksum header; both are checked', async () => {
      const body = document(['del/a']);
      assert.equal(errorOf(await deleteObjects(body, {})), '400 InvalidRequest');
      assert.equal(errorOf(await deleteObjects(body, { 'content-md5': md5Base64(Buffer.from('x')) })), '400 BadDigest');
      assert.equal((await deleteObjects(body, { 'x-amz-checksum-crc32': crc32Base64(body) })).status, 200);
      assert.equal((await deleteObjects(body)).status, 200);
    });

    it('quiet answers errors only; missing keys are Deleted; bad keys are per-key errors; >1,000 keys or bad XML is MalformedXML', async () => {
      await put('del/one', 'x');
      const verbose = await deleteObjects(document(['del/one', 'del/never', 'a//b']));
      assert.equal(verbose.status, 200);
      assert.deepEqual(xmlAll(verbose.body, 'Deleted').map((item) => xmlOne(item, 'Key')), ['del/one', 'del/never']);
      assert.deepEqual(xmlAll(verbose.body, 'Error').map((item) => [xmlOne(item, 'Key'), xmlOne(item, 'Code')]), [['a//b', 'InvalidArgument']]);
      const quiet = await deleteObjects(document(['del/never', 'a//b'], true));
      assert.equal(xmlAll(quiet.body, 'Deleted').length, 0);
      assert.equal(xmlAll(quiet.body, 'Error').length, 1);
      assert.equal(errorOf(await deleteObjects(document(Array.from({ length: 1001 }, (_, index) => `del/k${index}`)))), '400 MalformedXML');
      assert.equal(errorOf(await deleteObjects(Buffer.from('<Delete><Object><Key>x</Key></Delete>'))), '400 MalformedXML');
      const sdk = await alice.send(new DeleteObjectsCommand({ Bucket: 'alpha', Delete: { Objects: [{ Key: 'del/never' }] } }));
      assert.deepEqual(sdk.Deleted?.map((item) => item.Key), ['del/never']);
    });
  });

  describe('buckets', () => {
    it('names follow the S3 rules (InvalidBucketName)', async () => {
      const invalid = ['ab', 'a'.repeat(64), 'Upper', 'under_score', '-start', 'end-', 'two..dots', '192.168.5.4', 'xn--punycode', 'sthree-bucket', 'amzn-s3-demo-bucket', 'name-s3alias', 'name--ol-s3', 'name.mrap', 'name--x-s3', 'name--table-s3', 'dot.-dash', 'dash-.dot'];
      for (const name of invalid) assert.equal(errorOf(await signed({ method: 'PUT', bucket: name })), '400 InvalidBucketName', name);
      for (const name of ['abc', 'a'.repeat(63), 'my.bucket-1', '1bucket']) {
        const answer = await signed({ method: 'PUT', bucket: name });
        assert.equal(answer.status, 200, `${name}: ${answer.body.toString()}`);
      }
    });

    it('BucketAlreadyOwnedByYou for the owner, BucketAlreadyExists for others', async () => {
      await alice.send(new CreateBucketCommand({ Bucket: 'owned' }));
      assert.equal(await errorName(alice.send(new CreateBucketCommand({ Bucket: 'owned' }))), '409 BucketAlreadyOwnedByYou');
      assert.equal(await errorName(bob.send(new CreateBucketCommand({ Bucket: 'owned' }))), '409 BucketAlreadyExists');
    });

    it('GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL; other subresources are NotImplemented', async () => {
      await put('acl/object', 'x');
      const bucketAcl = await alice.send(new GetBucketAclCommand({ Bucket: 'alpha' }));
      assert.equal(bucketAcl.Grants?.length, 1);
      assert.equal(bucketAcl.Grants?.[0]?.Permission, 'FULL_CONTROL');
      assert.equal(bucketAcl.Grants?.[0]?.Grantee?.ID, bucketAcl.Owner?.ID);
      assert.equal(bucketAcl.Grants?.[0]?.Grantee?.Type, 'CanonicalUser');
      const objectAcl = await alice.send(new GetObjectAclCommand({ Bucket: 'alpha', Key: 'acl/object' }));
      assert.equal(objectAcl.Grants?.[0]?.Permission, 'FULL_CONTROL');
      assert.equal(await errorName(alice.send(new GetObjectAclCommand({ Bucket: 'alpha', Key: 'acl/missing' }))), '404 NoSuchKey');
      for (const name of ['cors', 'lifecycle', 'website']) assert.equal(errorOf(await signed({ method: 'GET', bucket: 'alpha', query: [[name, '']] })), '501 NotImplemented', name);
    });

    it('ACLs other than the owner\'s FULL_CONTROL are refused (bucket owner enforced), never dropped', async () => {
      await put('acl/private', 'x', { ACL: 'private' });
      await put('acl/owner', 'x', { ACL: 'bucket-owner-full-control' });
      assert.equal(await errorName(put('acl/public', 'x', { ACL: 'public-read' })), '400 AccessControlListNotSupported');
      assert.equal(await errorName(put('acl/grant', 'x', { GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })), '400 AccessControlListNotSupported');
      assert.equal(await errorName(alice.send(new CreateBucketCommand({ Bucket: 'public-bucket', ACL: 'public-read' }))), '400 InvalidBucketAclWithObjectOwnership');
      await alice.send(new CreateBucketCommand({ Bucket: 'private-bucket', ACL: 'private' }));
      const owner = (await alice.send(new GetObjectAclCommand({ Bucket: 'alpha', Key: 'acl/private' }))).Owner!;
      await alice.send(new PutObjectAclCommand({ Bucket: 'alpha', Key: 'acl/private', ACL: 'private' }));
      await alice.send(new PutObjectAclCommand({ Bucket: 'alpha', Key: 'acl/private', AccessControlPolicy: { Owner: owner, Grants: [{ Grantee: { Type: 'CanonicalUser', ID: owner.ID }, Permission: 'FULL_CONTROL' }] } }));
      const everyone = { Grantee: { Type: 'Group' as const, URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' as const };
      assert.equal(await errorName(alice.send(new PutObjectAclCommand({ Bucket: 'alpha', Key: 'acl/private', AccessControlPolicy: { Owner: owner, Grants: [everyone] } }))), '400 AccessControlListNotSupported');
      assert.equal(await errorName(alice.send(new PutBucketAclCommand({ Bucket: 'alpha', ACL: 'public-read-write' }))), '400 AccessControlListNotSupported');
      await alice.send(new PutBucketAclCommand({ Bucket: 'alpha', ACL: 'private' }));
      assert.equal(await errorName(bob.send(new PutObjectAclCommand({ Bucket: 'alpha', Key: 'acl/private', ACL: 'private' }))), '403 AccessDenied');
      assert.equal(errorOf(await signed({ method: 'PUT', bucket: 'alpha', query: [['acl', '']] })), '400 MissingSecurityHeader');
    });
  });

  describe('errors', () => {
    it('every error body has Code, Message, Resource and RequestId; every answer has x-amz-request-id and x-amz-id-2; 405 where no method fits', async () => {
      const answers = [
        await signed({ method: 'GET', bucket: 'alpha', key: 'err/missing' }),
        await signed({ method: 'GET', bucket: 'nosuchbucket' }),
        await signed({ method: 'POST', bucket: 'alpha', key: 'err/x' }),
        await rawRequest(fixture.port, { method: 'GET', path: '/' }),
      ];
      for (const answer of answers) {
        assert.ok(answer.status >= 400);
        for (const name of ['Code', 'Message', 'Resource', 'RequestId']) assert.ok(xmlOne(answer.body, name) !== undefined, `${name} in ${answer.body.toString()}`);
        assert.equal(xmlOne(answer.body, 'RequestId'), answer.headers['x-amz-request-id']);
        assert.ok(typeof answer.headers['x-amz-id-2'] === 'string');
      }
      assert.equal(xmlOne(answers[0]!.body, 'Resource'), '/alpha/err/missing');
      assert.equal(errorOf(answers[2]!), '405 MethodNotAllowed');
      const ok = await signed({ method: 'GET', bucket: 'alpha', query: [['location', '']] });
      assert.equal(ok.status, 200);
      assert.ok(typeof ok.headers['x-amz-request-id'] === 'string' && typeof ok.headers['x-amz-id-2'] === 'string');
    });
  });
});
