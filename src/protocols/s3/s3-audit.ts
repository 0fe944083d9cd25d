import type { IncomingMessage, ServerResponse } from 'node:http';
import { changedFields } from '../../audit/changes.js';
import type { EventFields } from '../../audit/events.js';

/**
 * Which audit operation an S3 request is (issue 7: every protocol emits into the trail), by the
 * Qumulo names used for every protocol: reads and writes of data, listings, deletes, metadata;
 * bucket management as `s3_<verb>_bucket`. HEAD and tag reads are metadata reads.
 */
export function s3Operation(input: { method: string; bucket?: string; key?: string; query: ReadonlyMap<string, string>; headers: IncomingMessage['headers'] }): string {
  const { method, bucket, key, query } = input;
  if (bucket === undefined) return 's3_list_buckets';
  if (key === undefined) {
    if (method === 'GET' || method === 'HEAD') return query.has('policy') || query.has('versioning') || query.has('location') || query.has('acl') ? 's3_read_bucket_settings' : method === 'HEAD' ? 'fs_read_metadata' : 'fs_list_directory';
    if (method === 'PUT') return query.has('policy') || query.has('versioning') || query.has('tagging') || query.has('acl') ? 's3_set_bucket_settings' : 's3_create_bucket';
    if (method === 'DELETE') return query.has('policy') ? 's3_set_bucket_settings' : 's3_delete_bucket';
    if (method === 'POST' && query.has('delete')) return 'fs_delete';
    return 's3_bucket_request';
  }
  if (query.has('tagging') || query.has('acl')) return method === 'GET' ? 'fs_read_metadata' : 'fs_write_metadata';
  if (method === 'GET') return 'fs_read_data';
  if (method === 'HEAD') return 'fs_read_metadata';
  if (method === 'DELETE') return query.has('uploadId') ? 'fs_delete' : 'fs_delete';
  if (method === 'PUT' || method === 'POST') {
    if (method === 'POST' && query.has('uploads')) return 'fs_create_file';
    if (input.headers['x-amz-copy-source'] !== undefined) return 'fs_copy_data';
    return 'fs_write_data';
  }
  return 's3_object_request';
}

/** What an operation tells the audit event about the object it touched (by response). */
interface AuditedObject {
  fileId?: number;
  /** Bytes written when the request body does not say (a copy). */
  size?: number;
  before?: unknown;
  after?: unknown;
}
const auditedObjects = new WeakMap<ServerResponse, AuditedObject>();

/**
 * An operation names the file it read or wrote (its id is known only once it resolved the key)
 * and, for a metadata change, the changed fields before and after. Request-scoped: kept by the
 * response, gone with it.
 */
export function noteAuditedObject(response: ServerResponse, object: AuditedObject): void {
  auditedObjects.set(response, { ...auditedObjects.get(response), ...object });
}

const numberOf = (value: unknown): number | undefined => {
  const parsed = typeof value === 'string' || typeof value === 'number' ? Number(value) : Number.NaN;
  return Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : undefined;
};

/** The bytes a request body carries: aws-chunked bodies declare the decoded length separately. */
function bodyBytes(request: IncomingMessage): number | undefined {
  return numberOf(request.headers['x-amz-decoded-content-length']) ?? numberOf(request.headers['content-length']);
}

/**
 * The audit event's fields for a finished S3 request (issue 7 item 1): the path, the file id, and
 * for data the offset and size (a ranged GET: where its Content-Range starts and how many bytes it
 * answered; a PUT or UploadPart: offset 0 of the object or part, the body's length, and the part
 * number); for a metadata change (tagging, a bucket policy) the changed fields before and after.
 */
export function s3AuditFields(input: { operation: string; status: string; bucket?: string; key?: string; query?: ReadonlyMap<string, string>; request: IncomingMessage; response: ServerResponse }): EventFields {
  const { operation, bucket, key, request, response } = input;
  const object = auditedObjects.get(response);
  const details: Record<string, unknown> = bucket === undefined ? {} : { bucket };
  const ok = input.status === 'ok';
  if (operation === 'fs_read_data') {
    const range = /^bytes (\d+)-\d+\//.exec(String(response.getHeader('content-range') ?? ''));
    details.offset = range === null ? 0 : Number(range[1]);
    details.size = ok ? (numberOf(response.getHeader('content-length')) ?? 0) : 0;
  } else if (operation === 'fs_write_data' || operation === 'fs_copy_data') {
    details.offset = 0;
    const size = operation === 'fs_write_data' ? bodyBytes(request) : object?.size;
    if (size !== undefined) details.size = size;
    const part = input.query?.get('partNumber');
    if (part !== undefined) details.part_number = numberOf(part) ?? part;
  } else if ((operation === 'fs_write_metadata' || operation === 's3_set_bucket_settings') && object !== undefined && 'before' in object) {
    Object.assign(details, changedFields(object.before, ok ? object.after : object.before));
  } else if (operation === 'fs_write_metadata' && input.query?.has('acl') === true && ok) {
    // PutObjectAcl is accepted only when it changes nothing (owner FULL_CONTROL; acl.ts).
    Object.assign(details, { before: { grants: 'owner FULL_CONTROL' }, after: { grants: 'owner FULL_CONTROL' } });
  }
  return {
    operation,
    status: input.status,
    ...(object?.fileId === undefined ? {} : { fileId: String(object.fileId) }),
    ...(bucket === undefined ? {} : { path: `/${bucket}${key === undefined ? '' : `/${key}`}` }),
    ...(Object.keys(details).length === 0 ? {} : { details }),
  };
}
