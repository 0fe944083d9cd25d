/**
 * Checksums of the S3 flexible-checksum feature: CRC32 (zlib's, the IEEE polynomial), CRC32C
 * (Castagnoli, table-driven: node has no built-in) and SHA-256, each over the decoded object
 * data, answered base64 of the big-endian value as in `x-amz-checksum-*`.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'sha256' | 'sha1';

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    let value = index;
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? (value >>> 1) ^ 0x82f63b78 : value >>> 1;
    table[index] = value >>> 0;
  }
  return table;
})();

/** CRC-32C of `data` continuing from `previous` (0 to start), as an unsigned 32-bit value. */
export function crc32c(data: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let index = 0; index < data.length; index++) {
    crc = (CRC32C_TABLE[(crc ^ (data[index] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}

export interface Checksum {
  update(data: Uint8Array): void;
  /** base64 of the digest, big-endian for the CRCs. */
  digestBase64(): string;
}

function crcChecksum(step: (data: Uint8Array, previous: number) => number): Checksum {
  let value = 0;
  return {
    update: (data) => {
      value = step(data, value);
    },
    digestBase64: () => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(value >>> 0);
      return bytes.toString('base64');
    },
  };
}

function hashChecksum(hash: Hash): Checksum {
  return { update: (data) => void hash.update(data), digestBase64: () => hash.digest('base64') };
}

export function createChecksum(algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'crc32':
      return crcChecksum((data, previous) => crc32(data, previous));
    case 'crc32c':
      return crcChecksum(crc32c);
    case 'sha256':
      return hashChecksum(createHash('sha256'));
    case 'sha1':
      return hashChecksum(createHash('sha1'));
  }
}

/** The algorithm a `x-amz-checksum-<name>` header names, or undefined. */
export function checksumAlgorithmOfHeader(header: string): ChecksumAlgorithm | undefined {
  const name = header.toLowerCase();
  if (!name.startsWith('x-amz-checksum-')) return undefined;
  const algorithm = name.slice('x-amz-checksum-'.length);
  return algorithm === 'crc32' || algorithm === 'crc32c' || algorithm === 'sha256' || algorithm === 'sha1' ? algorithm : undefined;
}
