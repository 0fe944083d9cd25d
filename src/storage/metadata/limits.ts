/**
 * Argument checks shared by every MetadataStore backend, so all of them reject the same bad input
 * with the same error. A bad argument is a caller bug, answered with `TypeError` or `RangeError`,
 * never with `MetadataStoreError` (which means the store itself is unavailable).
 */
import { KEY_BYTES_MAX, SCAN_LIMIT_MAX, VALUE_BYTES_MAX, type Key, type ScanOptions, type Value } from './metadata-store.js';

/**
 * Scan bounds may be one byte longer than a key, so that `prefixEnd` of an all-0xff prefix (a run of
 * KEY_BYTES_MAX + 1 bytes 0xff) is a valid exclusive end above every storable key.
 */
export const SCAN_BOUND_BYTES_MAX = KEY_BYTES_MAX + 1;

export function checkKey(key: Key): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.length > KEY_BYTES_MAX) throw new RangeError(`key is ${key.length} bytes, more than ${KEY_BYTES_MAX}`);
}

export function checkValue(value: Value): void {
  if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
  if (value.length > VALUE_BYTES_MAX) {
    throw new RangeError(`value is ${value.length} bytes, more than ${VALUE_BYTES_MAX}`);
  }
}

export function checkScanOptions(options: ScanOptions): void {
  for (const [name, bound] of [['start', options.start], ['end', options.end]] as const) {
    if (!(bound instanceof Uint8Array)) throw new TypeError(`scan ${name} must be a Uint8Array`);
    if (bound.length > SCAN_BOUND_BYTES_MAX) {
      throw new RangeError(`scan ${name} is ${bound.length} bytes, more than ${SCAN_BOUND_BYTES_MAX}`);
    }
  }
  const { limit } = options;
  // Zero is allowed (an empty page) so that callers computing "what is left" need no special case.
  if (!Number.isInteger(limit) || limit < 0 || limit > SCAN_LIMIT_MAX) {
    throw new RangeError(`scan limit must be an integer from 0 to ${SCAN_LIMIT_MAX}, got ${limit}`);
  }
}
