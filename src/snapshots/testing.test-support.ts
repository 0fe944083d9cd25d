import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(public nowMsValue: number) {}
  nowMs(): number {
    return this.nowMsValue;
  }
  nowNs(): bigint {
    return BigInt(this.nowMsValue) * 1_000_000n;
  }
  advance(ms: number): void {
    this.nowMsValue += ms;
  }
}

export interface TestKeyPair {
  readonly publicPem: string;
  readonly privateKey: KeyObject;
  /** base64 DER ECDSA-SHA256 of `message`, as `openssl dgst -sha256 -sign | base64` makes it. */
  sign(message: string): string;
}

export function ecdsaKeyPair(namedCurve = 'P-256'): TestKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
    sign: (message) => sign('sha256', Buffer.from(message, 'utf8'), { key: privateKey, dsaEncoding: 'der' }).toString('base64'),
  };
}
