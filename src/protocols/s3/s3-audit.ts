import type { IncomingMessage } from 'node:http';

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
