import { randomFillSync } from 'node:crypto';

/** Random bytes one request's ids take: 8 for x-amz-request-id, 24 for x-amz-id-2. */
const REQUEST_ID_BYTES = 8;
const HOST_ID_BYTES = 24;
const IDS_BYTES = REQUEST_ID_BYTES + HOST_ID_BYTES;
/** Requests served from one fill of the pool (one call into the CSPRNG instead of two per request). */
export const REQUEST_IDS_POOLED_MAX = 128;

/**
 * The ids of S3 responses (`x-amz-request-id`: 16 upper-case hex digits; `x-amz-id-2`: base64 of
 * 24 bytes), cut from a pool of CSPRNG bytes that is refilled when used up. Each byte serves one
 * id once. One pool per server (no module state).
 */
export class RequestIds {
  private readonly pool = Buffer.alloc(IDS_BYTES * REQUEST_IDS_POOLED_MAX);
  private offset = this.pool.length;

  next(): { requestId: string; hostId: string } {
    if (this.offset === this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += IDS_BYTES;
    return {
      requestId: this.pool.toString('hex', start, start + REQUEST_ID_BYTES).toUpperCase(),
      hostId: this.pool.toString('base64', start + REQUEST_ID_BYTES, start + IDS_BYTES),
    };
  }
}
