import { hkdfSync } from 'node:crypto';

/**
 * A 32-byte key for one named purpose, derived with HKDF-SHA256 from an instance secret, so each
 * use (signing sessions, sealing MFA secrets) has its own key and none is stored anywhere.
 */
export function deriveInstanceKey(secret: Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, new Uint8Array(0), `enclave/${purpose}`, 32));
}
