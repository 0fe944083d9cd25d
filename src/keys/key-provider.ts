/**
 * A key-encryption key (KEK) provider: wraps and unwraps small secrets (data keys) without ever
 * handing out the KEK itself, so a PKCS#11 HSM or a cloud KMS can implement it with the key never
 * leaving the device.
 *
 * Contract:
 * - `unwrap(wrap(plain, aad), aad)` returns `plain`; with any other `aad`, or altered bytes, it
 *   rejects with KeyError 'unwrap-failed'. The aad binds a wrapped key to its purpose and version.
 * - `id` names the KEK (not the provider kind): two providers with the same id unwrap each
 *   other's output. It is recorded beside wrapped keys so a wrong KEK is reported as such.
 * - The caller owns returned buffers and should zero them when done.
 */
export interface KeyEncryptionKeyProvider {
  readonly id: string;
  wrap(plain: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Forgets the KEK (zeroes it, closes a session). Later calls reject with 'closed'. */
  close(): Promise<void>;
}
