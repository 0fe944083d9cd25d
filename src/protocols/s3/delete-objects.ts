import { FsError } from '../../core/errors.js';
import type { BucketRequest, S3Services } from './context.js';
import { FS_ERROR_S3, S3_ERRORS, S3Error } from './errors.js';
import { deleteKey } from './object-operations.js';
import { sendXml } from './respond.js';
import { readSmallBody } from './small-body.js';
import { childText, element, parseXml } from './xml.js';

const DELETE_OBJECTS_MAX = 1_000;
const DELETE_BODY_BYTES_MAX = 2 * 1024 * 1024;

/**
 * DeleteObjects: up to 1,000 keys, each deleted on its own and answered Deleted or Error; Quiet
 * answers errors only. Without versioning, a VersionId of `null` names the one current version.
 */
export async function deleteObjects(services: S3Services, s3: BucketRequest): Promise<void> {
  requireIntegrityHeader(s3);
  const root = parseXml((await readSmallBody(s3, DELETE_BODY_BYTES_MAX)).toString('utf8'));
  if (root.name !== 'Delete') throw new S3Error('MalformedXML');
  const quiet = (childText(root, 'Quiet') ?? 'false').trim() === 'true';
  const objects = root.children.filter((child) => child.name === 'Object');
  if (objects.length === 0 || objects.length > DELETE_OBJECTS_MAX) throw new S3Error('MalformedXML', `Delete needs 1 to ${DELETE_OBJECTS_MAX} objects`);
  const answers: string[] = [];
  for (const object of objects) {
    const key = childText(object, 'Key');
    const versionId = childText(object, 'VersionId');
    if (key === undefined) throw new S3Error('MalformedXML', 'every Object needs a Key');
    try {
      if (versionId !== undefined && versionId !== 'null') throw new S3Error('NoSuchKey', 'The specified version does not exist.');
      s3.authorize?.('s3:DeleteObject', key);
      await deleteKey(services, s3, key);
      if (!quiet) answers.push(element('Deleted', [element('Key', key), ...(versionId === undefined ? [] : [element('VersionId', versionId)])]));
    } catch (error) {
      if (!(error instanceof S3Error) && !(error instanceof FsError)) throw error;
      const code = error instanceof S3Error ? error.code : FS_ERROR_S3[error.code];
      answers.push(element('Error', [element('Key', key), element('Code', code), element('Message', error instanceof S3Error ? error.message : S3_ERRORS[code].message)]));
    }
  }
  sendXml(s3.response, 200, 'DeleteResult', answers.join(''));
}

/**
 * S3 API reference, DeleteObjects: "The Content-MD5 request header is required for all
 * Multi-Object Delete requests"; S3 also takes an `x-amz-checksum-*` header (or trailer) instead,
 * which is what current SDKs send. The body reader then checks whichever was given.
 */
function requireIntegrityHeader(s3: BucketRequest): void {
  const headers = s3.request.headers;
  if (headers['content-md5'] !== undefined) return;
  if (Object.keys(headers).some((name) => name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type' && name !== 'x-amz-checksum-algorithm')) return;
  const trailer = headers['x-amz-trailer'];
  if (typeof trailer === 'string' && trailer.toLowerCase().includes('x-amz-checksum-')) return;
  throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
}
