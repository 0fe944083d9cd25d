import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * The key that signs audit checkpoints: Ed25519, so a third party holding only the public key
 * (GET /v1/audit/verify's `public_key`, or `enclave audit public-key`) can check an exported trail
 * without being able to forge one; an HMAC key would have to be shared to be checked, and whoever
 * can check could forge. The private key is not stored: its 32-byte seed is the instance key
 * derived for 'audit-checkpoints/v1' (HKDF from the keyring), so it is as safe as the keyring and
 * survives restarts without a new file.
 */
export class CheckpointKey {
  private constructor(
    private readonly privateKey: KeyObject | undefined,
    readonly publicKey: KeyObject,
  ) {}

  /** From a 32-byte seed (the derived instance key). */
  static fromSeed(seed: Uint8Array): CheckpointKey {
    if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
    // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7): fixed 16-byte prefix, then the seed.
    const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
    const privateKey = createPrivateKey({ key: Buffer.concat([prefix, seed]), format: 'der', type: 'pkcs8' });
    return new CheckpointKey(privateKey, createPublicKey(privateKey));
  }

  /** A verify-only key, for checking a trail elsewhere. */
  static fromPublicPem(pem: string): CheckpointKey {
    return new CheckpointKey(undefined, createPublicKey(pem));
  }

  publicKeyPem(): string {
    return this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  sign(message: string): string {
    if (this.privateKey === undefined) throw new Error('this checkpoint key can only verify');
    return sign(null, Buffer.from(message), this.privateKey).toString('base64');
  }

  verify(message: string, signature: string): boolean {
    try {
      return verify(null, Buffer.from(message), this.publicKey, Buffer.from(signature, 'base64'));
    } catch {
      return false;
    }
  }
}
