import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import type { ChunkId } from '../chunk-store.js';

/**
 * The sealed chunk format, version 1 (docs/decisions/0003-encryption-at-rest.md):
 *
 *   header (32 bytes)
 *     0  magic "ENCK"
 *     4  u8  format version (1)
 *     5  u8  log2 of the frame size (16: 64 KiB)
 *     6  u16 reserved, zero
 *     8  u32 key version of the data key (big-endian, like every integer here)
 *    12  12  base nonce, random per put
 *    24  u64 plaintext length in bytes
 *   frames: ceil(length / frame size) of them, at least one (an empty chunk has one empty frame),
 *     each the AES-256-GCM ciphertext of its plaintext followed by a 16-byte tag.
 *
 * Each chunk is sealed under its own key, HKDF-SHA256(DEK, salt = base nonce, info = label ||
 * chunk id). Frame i uses nonce = base nonce XOR i (in its last four bytes) and AAD = header ||
 * chunk id || u32 i || u8 last-frame flag, so the header is authenticated by every frame, and
 * frames cannot be reordered, moved between chunks, or dropped from the end undetected.
 */
export const MAGIC = Buffer.from('ENCK', 'ascii');
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 32;
export const TAG_BYTES = 16;
export const FRAME_SIZE_LOG2 = 16;
export const FRAME_BYTES = 2 ** FRAME_SIZE_LOG2;
const NONCE_BYTES = 12;
const KEY_BYTES = 32;
const KEY_LABEL = 'enclave/chunk-key/v1/';

export interface ChunkHeader {
  readonly bytes: Buffer;
  readonly keyVersion: number;
  readonly baseNonce: Buffer;
  readonly plaintextBytes: number;
}

export function encodeHeader(keyVersion: number, baseNonce: Buffer, plaintextBytes: number): ChunkHeader {
  const bytes = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt8(FORMAT_VERSION, 4);
  bytes.writeUInt8(FRAME_SIZE_LOG2, 5);
  bytes.writeUInt32BE(keyVersion, 8);
  baseNonce.copy(bytes, 12, 0, NONCE_BYTES);
  bytes.writeBigUInt64BE(BigInt(plaintextBytes), 24);
  return { bytes, keyVersion, baseNonce: bytes.subarray(12, 24), plaintextBytes };
}

/** Parses a header; undefined if it is not one this code wrote (the caller reports 'corrupt'). */
export function decodeHeader(source: Uint8Array): ChunkHeader | undefined {
  if (source.byteLength < HEADER_BYTES) return undefined;
  const bytes = Buffer.from(source.subarray(0, HEADER_BYTES));
  if (!bytes.subarray(0, 4).equals(MAGIC) || bytes[4] !== FORMAT_VERSION || bytes[5] !== FRAME_SIZE_LOG2 || bytes.readUInt16BE(6) !== 0) {
    return undefined;
  }
  const plaintextBytes = bytes.readBigUInt64BE(24);
  if (plaintextBytes > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { bytes, keyVersion: bytes.readUInt32BE(8), baseNonce: bytes.subarray(12, 24), plaintextBytes: Number(plaintextBytes) };
}

export function frameCount(plaintextBytes: number): number {
  return Math.max(1, Math.ceil(plaintextBytes / FRAME_BYTES));
}

export function framePlaintextBytes(plaintextBytes: number, index: number): number {
  return Math.min(FRAME_BYTES, plaintextBytes - index * FRAME_BYTES);
}

/** Where frame `index` starts in the sealed chunk. */
export function frameOffset(index: number): number {
  return HEADER_BYTES + index * (FRAME_BYTES + TAG_BYTES);
}

export function sealedBytes(plaintextBytes: number): number {
  return HEADER_BYTES + plaintextBytes + frameCount(plaintextBytes) * TAG_BYTES;
}

/** The per-chunk key; the caller zeroes it. */
export function deriveChunkKey(dataKey: Uint8Array, id: ChunkId, header: ChunkHeader): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, header.baseNonce, Buffer.from(KEY_LABEL + id, 'ascii'), KEY_BYTES));
}

function frameNonce(header: ChunkHeader, index: number): Buffer {
  const nonce = Buffer.from(header.baseNonce);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ index) >>> 0, 8);
  return nonce;
}

function frameAad(header: ChunkHeader, id: ChunkId, index: number): Buffer {
  const last = index === frameCount(header.plaintextBytes) - 1;
  const suffix = Buffer.alloc(5);
  suffix.writeUInt32BE(index, 0);
  suffix.writeUInt8(last ? 1 : 0, 4);
  return Buffer.concat([header.bytes, Buffer.from(id, 'ascii'), suffix]);
}

/** Seals frame `index` of `plaintext` into `target` at `targetOffset`. */
export function sealFrame(key: Buffer, id: ChunkId, header: ChunkHeader, index: number, plaintext: Uint8Array, target: Buffer, targetOffset: number): void {
  const cipher = createCipheriv('aes-256-gcm', key, frameNonce(header, index), { authTagLength: TAG_BYTES });
  cipher.setAAD(frameAad(header, id, index));
  let offset = targetOffset;
  offset += cipher.update(plaintext).copy(target, offset);
  offset += cipher.final().copy(target, offset);
  cipher.getAuthTag().copy(target, offset);
}

/**
 * Opens frame `index` from `sealed` (its ciphertext and tag) into `target` at `targetOffset`;
 * returns false if it does not authenticate, having written nothing the caller will return.
 */
export function openFrame(key: Buffer, id: ChunkId, header: ChunkHeader, index: number, sealed: Uint8Array, target: Uint8Array, targetOffset: number): boolean {
  if (sealed.byteLength < TAG_BYTES) return false;
  const ciphertextBytes = sealed.byteLength - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, frameNonce(header, index), { authTagLength: TAG_BYTES });
  decipher.setAAD(frameAad(header, id, index));
  decipher.setAuthTag(sealed.subarray(ciphertextBytes));
  const plain = decipher.update(sealed.subarray(0, ciphertextBytes));
  try {
    decipher.final();
  } catch {
    // A failed tag check is the expected signal of tampering; the caller reports 'corrupt'.
    plain.fill(0);
    return false;
  }
  target.set(plain, targetOffset);
  return true;
}
