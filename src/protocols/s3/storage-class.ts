import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from './errors.js';

/**
 * `x-amz-storage-class` on PutObject, CopyObject and CreateMultipartUpload (S3 API reference).
 * Every object here is stored one way, reported as STANDARD; any other class, known to S3 or not,
 * is InvalidStorageClass rather than silently stored as something the client did not ask for.
 */
export const STORAGE_CLASS = 'STANDARD';

/** Whether the request names a storage class at all (a copy onto itself may change only that). */
export function hasStorageClass(headers: IncomingHttpHeaders): boolean {
  return headers['x-amz-storage-class'] !== undefined;
}

export function checkStorageClass(headers: IncomingHttpHeaders): void {
  const value = headers['x-amz-storage-class'];
  if (value === undefined || value === STORAGE_CLASS) return;
  throw new S3Error('InvalidStorageClass', `This server offers the ${STORAGE_CLASS} storage class only`, { StorageClassRequested: String(value) });
}
