/**
 * S3 errors: the code, status and message of the S3 API reference ("Error responses"), and the
 * one table mapping every core error code to an S3 error, complete by type.
 */
import { type FsErrorCode } from '../../core/errors.js';

export interface S3ErrorSpec {
  readonly status: number;
  readonly message: string;
}

/** The S3 error codes this server answers, with their statuses and AWS's default messages. */
export const S3_ERRORS = {
  AccessControlListNotSupported: { status: 400, message: 'The bucket does not allow ACLs.' },
  AccessDenied: { status: 403, message: 'Access Denied' },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header is malformed.' },
  AuthorizationQueryParametersError: { status: 400, message: 'The query-string authentication parameters are malformed.' },
  BadDigest: { status: 400, message: 'The Content-MD5 or checksum value that you specified did not match what the server received.' },
  BucketAlreadyExists: { status: 409, message: 'The requested bucket name is not available.' },
  BucketAlreadyOwnedByYou: { status: 409, message: 'Your previous request to create the named bucket succeeded and you already own it.' },
  BucketNotEmpty: { status: 409, message: 'The bucket you tried to delete is not empty.' },
  EntityTooSmall: { status: 400, message: 'Your proposed upload is smaller than the minimum allowed object size.' },
  EntityTooLarge: { status: 400, message: 'Your proposed upload exceeds the maximum allowed object size.' },
  IncompleteBody: { status: 400, message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: { status: 403, message: 'The AWS access key ID you provided does not exist in our records.' },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidBucketAclWithObjectOwnership: { status: 400, message: 'Bucket cannot have ACLs set with ObjectOwnership\'s BucketOwnerEnforced setting' },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidDigest: { status: 400, message: 'The Content-MD5 or checksum value that you specified is not valid.' },
  InvalidPart: { status: 400, message: 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.' },
  InvalidPartNumber: { status: 416, message: 'The requested partnumber is not satisfiable' },
  InvalidPartOrder: { status: 400, message: 'The list of parts was not in ascending order. The parts list must be specified in order by part number.' },
  InvalidTag: { status: 400, message: 'The tag provided was not a valid tag.' },
  MalformedACLError: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MalformedPolicy: { status: 400, message: 'Policies must be valid JSON and the first byte must be \'{\'' },
  NoSuchBucketPolicy: { status: 404, message: 'The bucket policy does not exist' },
  InvalidRange: { status: 416, message: 'The requested range is not satisfiable' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  InvalidStorageClass: { status: 400, message: 'The storage class you specified is not valid' },
  InvalidObjectState: { status: 403, message: 'The operation is not valid for the current state of the object.' },
  KeyTooLongError: { status: 400, message: 'Your key is too long.' },
  MalformedXML: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MetadataTooLarge: { status: 400, message: 'Your metadata headers exceed the maximum allowed metadata size.' },
  MaxMessageLengthExceeded: { status: 400, message: 'Your request was too big.' },
  MethodNotAllowed: { status: 405, message: 'The specified method is not allowed against this resource.' },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist.' },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchUpload: { status: 404, message: 'The specified multipart upload does not exist.' },
  NotImplemented: { status: 501, message: 'A header or query you provided implies functionality that is not implemented.' },
  NotModified: { status: 304, message: 'Not Modified' },
  PreconditionFailed: { status: 412, message: 'At least one of the preconditions you specified did not hold.' },
  QuotaExceeded: { status: 403, message: 'The quota of the directory holding this object would be exceeded.' },
  RequestTimeout: { status: 400, message: 'Your socket connection to the server was not read from or written to within the timeout period.' },
  RequestTimeTooSkewed: { status: 403, message: 'The difference between the request time and the server\'s time is too large.' },
  ServiceUnavailable: { status: 503, message: 'Please reduce your request rate.' },
  SignatureDoesNotMatch: { status: 403, message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' },
  ObjectConflict: { status: 409, message: 'The key conflicts with a directory or with an object that is a prefix of it.' },
  XAmzContentSHA256Mismatch: { status: 400, message: 'The provided \'x-amz-content-sha256\' header does not match what was computed.' },
  ExpiredToken: { status: 400, message: 'The provided token has expired.' },
} as const satisfies Record<string, S3ErrorSpec>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

/** An S3 failure to answer with an XML error body. `details` become extra elements (Key, BucketName...). */
export class S3Error extends Error {
  readonly status: number;

  constructor(
    readonly code: S3ErrorCode,
    message?: string,
    readonly details: Readonly<Record<string, string>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message ?? S3_ERRORS[code].message);
    this.name = 'S3Error';
    this.status = S3_ERRORS[code].status;
  }
}

/**
 * Every core error code as an S3 error. Complete by type: a new core code breaks the build until
 * S3 decides what it means. NotFound becomes NoSuchKey here; operations on buckets map it to
 * NoSuchBucket themselves where the missing thing is the bucket root.
 */
export const FS_ERROR_S3: Record<FsErrorCode, S3ErrorCode> = {
  NotFound: 'NoSuchKey',
  Exists: 'PreconditionFailed',
  NotEmpty: 'BucketNotEmpty',
  NotADirectory: 'ObjectConflict',
  IsADirectory: 'ObjectConflict',
  NotASymlink: 'InvalidRequest',
  PermissionDenied: 'AccessDenied',
  ReadOnly: 'AccessDenied',
  QuotaExceeded: 'QuotaExceeded',
  NoSpace: 'ServiceUnavailable',
  NameTooLong: 'KeyTooLongError',
  InvalidName: 'InvalidArgument',
  InvalidArgument: 'InvalidArgument',
  FileTooLarge: 'EntityTooLarge',
  TooManyLinks: 'InvalidRequest',
  Stale: 'NoSuchKey',
  Locked: 'InvalidObjectState',
  Conflict: 'ObjectConflict',
  Unavailable: 'ServiceUnavailable',
  Unsupported: 'NotImplemented',
  Cancelled: 'RequestTimeout',
  Internal: 'InternalError',
};

/** The XML error body (S3 API reference, "REST error responses"). */
export function errorXml(error: { code: string; message: string; details?: Readonly<Record<string, string>> }, requestId: string, hostId: string): string {
  const escape = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  const details = Object.entries(error.details ?? {})
    .map(([name, value]) => `<${name}>${escape(value)}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${escape(error.message)}</Message>${details}<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`;
}
