import type { BucketRequest, S3Services } from './context.js';
import { S3Error } from './errors.js';
import { listKeys, maxKeysOf } from './list-objects.js';
import { isoTime, ownerElements, sendXml } from './respond.js';
import { uriEncode } from './sigv4.js';
import { element } from './xml.js';
import { objectMetadata } from './object-metadata.js';

/**
 * ListObjectVersions on a bucket without versioning: every current object is its one version,
 * VersionId "null", IsLatest true; there are no delete markers. key-marker is exclusive (a key has
 * one version, so version-id-marker adds nothing).
 */
export async function listObjectVersions(services: S3Services, s3: BucketRequest): Promise<void> {
  const prefix = s3.query.get('prefix') ?? '';
  const delimiter = s3.query.get('delimiter') ?? '';
  const keyMarker = s3.query.get('key-marker') ?? '';
  const versionIdMarker = s3.query.get('version-id-marker');
  if (versionIdMarker !== undefined && versionIdMarker !== '' && keyMarker === '') throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker' });
  if (versionIdMarker !== undefined && versionIdMarker !== '' && versionIdMarker !== 'null') throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
  const encodingType = s3.query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
  const encode = (text: string) => (encodingType === 'url' ? uriEncode(text, true) : text);
  const maxKeys = maxKeysOf(s3);
  const result = await listKeys(services, s3, { prefix, delimiter, after: keyMarker, maxKeys });
  const versions: string[] = [];
  for (const object of result.objects) {
    const metadata = objectMetadata(object.attributes, object.xattrs);
    versions.push(element('Version', [
      element('Key', encode(object.key)),
      element('VersionId', 'null'),
      element('IsLatest', true),
      element('LastModified', isoTime(object.attributes.mtimeNs)),
      element('ETag', `"${metadata.etag}"`),
      element('Size', object.attributes.size),
      element('Owner', ownerElements(s3, object.attributes.uid)),
      element('StorageClass', 'STANDARD'),
    ]));
  }
  const parts = [element('Name', s3.bucket.name), element('Prefix', encode(prefix)), element('KeyMarker', encode(keyMarker)), element('VersionIdMarker', versionIdMarker ?? '')];
  if (result.truncated && result.last !== undefined) parts.push(element('NextKeyMarker', encode(result.last)), element('NextVersionIdMarker', 'null'));
  parts.push(element('MaxKeys', maxKeys));
  if (delimiter !== '') parts.push(element('Delimiter', encode(delimiter)));
  if (encodingType !== undefined) parts.push(element('EncodingType', 'url'));
  parts.push(element('IsTruncated', result.truncated));
  const common = result.prefixes.map((item) => element('CommonPrefixes', [element('Prefix', encode(item))]));
  sendXml(s3.response, 200, 'ListVersionsResult', parts.join('') + versions.join('') + common.join(''));
}
