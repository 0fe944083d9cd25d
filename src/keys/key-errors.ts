/**
 * Expected failures of key handling. Every one stops start-up with a message that names the file
 * or setting to fix; none of them ever carries key material.
 */
export type KeyErrorCode =
  | 'not-found'
  | 'exists'
  | 'insecure-permissions'
  | 'passphrase-required'
  | 'passphrase-wrong'
  | 'passphrase-unexpected'
  | 'malformed'
  | 'unwrap-failed'
  | 'provider-mismatch'
  | 'unknown-key-version'
  | 'closed';

export class KeyError extends Error {
  readonly code: KeyErrorCode;

  constructor(code: KeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyError';
    this.code = code;
  }
}
