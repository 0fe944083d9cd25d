import { randomBytes } from 'node:crypto';
import { KeyError } from '../../../keys/key-errors.js';
import type { Keyring } from '../../../keys/keyring.js';
import { checkChunkId, checkChunkSize, checkListOptions, checkRange, clipRange } from '../chunk-checks.js';
import { CHUNK_BYTES_MAX, ChunkStoreError } from '../chunk-store.js';
import type { ByteRange, ChunkCapacity, ChunkId, ChunkStore, GetOptions } from '../chunk-store.js';
import { BufferPool } from '../buffer-pool.js';
import {
  decodeHeader,
  deriveChunkKey,
  encodeHeader,
  FRAME_BYTES,
  frameCount,
  frameOffset,
  framePlaintextBytes,
  HEADER_BYTES,
  openFrame,
  sealedBytes,
  sealFrame,
  TAG_BYTES,
} from './encrypted-chunk-format.js';
import type { ChunkHeader } from './encrypted-chunk-format.js';

export interface EncryptedChunkStoreOptions {
  /** Holds the sealed chunks. Owned by this layer from now on: close closes it. */
  readonly inner: ChunkStore;
  /** Supplies data keys. Owned by the caller, who closes it after this store. */
  readonly keyring: Keyring;
  /** Random bytes for base nonces; tests may pass a deterministic source. */
  readonly random?: (size: number) => Buffer;
}

const NONCE_BYTES = 12;

/**
 * A ChunkStore layer that seals every chunk with AES-256-GCM (format in encrypted-chunk-format.ts)
 * before passing it to the inner store. Any authentication failure, and any sealed chunk of the
 * wrong shape, rejects with 'corrupt' naming the chunk. Range gets read from the inner store only
 * the frames that cover the range, plus the header.
 */
export class EncryptedChunkStore implements ChunkStore {
  readonly #inner: ChunkStore;
  readonly #keyring: Keyring;
  readonly #random: (size: number) => Buffer;
  /** Sealed bytes between the inner store and sealing or opening (buffer-pool.ts). */
  readonly #buffers = new BufferPool();

  constructor(options: EncryptedChunkStoreOptions) {
    this.#inner = options.inner;
    this.#keyring = options.keyring;
    this.#random = options.random ?? randomBytes;
  }

  async put(id: ChunkId, data: Uint8Array): Promise<void> {
    checkChunkId(id);
    checkChunkSize(id, data.byteLength, CHUNK_BYTES_MAX);
    const { version, key: dataKey } = this.#keyring.currentDataKey();
    const header = encodeHeader(version, this.#random(NONCE_BYTES), data.byteLength);
    const sealedLength = sealedBytes(data.byteLength);
    const pooled = this.#buffers.take(sealedLength);
    // Not zeroed: the header and every frame's ciphertext and tag cover it exactly.
    const sealed = pooled === undefined ? Buffer.allocUnsafeSlow(sealedLength) : Buffer.from(pooled.buffer, pooled.byteOffset, sealedLength);
    try {
      header.bytes.copy(sealed, 0);
      const key = deriveChunkKey(dataKey, id, header);
      try {
        for (let index = 0; index < frameCount(data.byteLength); index += 1) {
          const start = index * FRAME_BYTES;
          const plaintext = data.subarray(start, start + framePlaintextBytes(data.byteLength, index));
          sealFrame(key, id, header, index, plaintext, sealed, frameOffset(index));
        }
      } finally {
        key.fill(0);
      }
      await this.#inner.put(id, sealed);
    } finally {
      this.#buffers.give(pooled);
    }
  }

  async get(id: ChunkId, range?: ByteRange): Promise<Uint8Array> {
    checkChunkId(id);
    checkRange(range);
    if (range === undefined) return this.#getWhole(id);
    if (range.length > 0 && range.offset < FRAME_BYTES) {
      const opened = await this.#getFromStart(id, range);
      if (opened !== undefined) return opened;
    }
    const header = await this.#readHeader(id);
    const { start, end } = clipRange(header.plaintextBytes, range);
    const lastIndex = frameCount(header.plaintextBytes) - 1;
    // An empty range still opens the last frame, so the header (bound into every frame's AAD) is
    // authenticated and a tampered length cannot pass as an empty answer.
    const first = end > start ? Math.floor(start / FRAME_BYTES) : lastIndex;
    const last = end > start ? Math.floor((end - 1) / FRAME_BYTES) : lastIndex;
    const readStart = frameOffset(first);
    const readEnd = frameOffset(last) + framePlaintextBytes(header.plaintextBytes, last) + TAG_BYTES;
    const pooled = this.#buffers.take(readEnd - readStart);
    try {
      const sealed = await this.#inner.get(id, { offset: readStart, length: readEnd - readStart }, intoOptions(pooled));
      if (sealed.byteLength !== readEnd - readStart) throw corrupt(id, 'it is shorter than its header says');
      const plain = this.#openFrames(id, header, first, last, sealed);
      const plainStart = start - first * FRAME_BYTES;
      return plain.subarray(plainStart, plainStart + (end - start));
    } finally {
      this.#buffers.give(pooled);
    }
  }

  /**
   * The data key version chunk `id` is sealed under, after authenticating its header. Lets key
   * rotation tooling find chunks still under an old version.
   */
  async keyVersionOf(id: ChunkId): Promise<number> {
    checkChunkId(id);
    const header = await this.#readHeader(id);
    const lastIndex = frameCount(header.plaintextBytes) - 1;
    const length = framePlaintextBytes(header.plaintextBytes, lastIndex) + TAG_BYTES;
    const sealed = await this.#inner.get(id, { offset: frameOffset(lastIndex), length });
    if (sealed.byteLength !== length) throw corrupt(id, 'it is shorter than its header says');
    this.#openFrames(id, header, lastIndex, lastIndex, sealed);
    return header.keyVersion;
  }

  // Async so that argument errors reject, as the contract's callers expect, rather than throw.
  async delete(id: ChunkId): Promise<void> {
    checkChunkId(id);
    return this.#inner.delete(id);
  }

  async list(options: { after?: ChunkId; limit: number }): Promise<ChunkId[]> {
    checkListOptions(options);
    return this.#inner.list(options);
  }

  expectDelete(ids: readonly ChunkId[]): void {
    this.#inner.expectDelete?.(ids);
  }

  async capacity(): Promise<ChunkCapacity> {
    return this.#inner.capacity();
  }

  async close(): Promise<void> {
    return this.#inner.close();
  }

  async #getWhole(id: ChunkId): Promise<Uint8Array> {
    const sealed = await this.#inner.get(id);
    const header = decodeHeader(sealed);
    if (header === undefined) throw corrupt(id, 'its header is not a sealed-chunk header');
    if (sealed.byteLength !== sealedBytes(header.plaintextBytes)) throw corrupt(id, 'its length does not match its header');
    return this.#openFrames(id, header, 0, frameCount(header.plaintextBytes) - 1, sealed.subarray(HEADER_BYTES));
  }

  /**
   * A range that starts in the first frame: the header and the frames are read from the inner
   * store in one request, sized as if the chunk held the whole range (the inner store clips it to
   * the chunk). Undefined when that cannot answer (an empty answer, or frames beyond the largest
   * chunk), which the two-step path then does.
   */
  async #getFromStart(id: ChunkId, range: ByteRange): Promise<Uint8Array | undefined> {
    const lastWanted = Math.min(Math.floor((range.offset + range.length - 1) / FRAME_BYTES), frameCount(CHUNK_BYTES_MAX) - 1);
    const pooled = this.#buffers.take(frameOffset(lastWanted + 1));
    try {
      const sealed = await this.#inner.get(id, { offset: 0, length: frameOffset(lastWanted + 1) }, intoOptions(pooled));
      const header = decodeHeader(sealed);
      if (header === undefined) throw corrupt(id, 'its header is not a sealed-chunk header');
      const { start, end } = clipRange(header.plaintextBytes, range);
      if (end <= start) return undefined;
      const last = Math.floor((end - 1) / FRAME_BYTES);
      if (last > lastWanted) return undefined;
      const readEnd = frameOffset(last) + framePlaintextBytes(header.plaintextBytes, last) + TAG_BYTES;
      if (sealed.byteLength < readEnd) throw corrupt(id, 'it is shorter than its header says');
      const plain = this.#openFrames(id, header, 0, last, sealed.subarray(HEADER_BYTES, readEnd));
      return plain.subarray(start, end);
    } finally {
      this.#buffers.give(pooled);
    }
  }

  async #readHeader(id: ChunkId): Promise<ChunkHeader> {
    const bytes = await this.#inner.get(id, { offset: 0, length: HEADER_BYTES });
    const header = decodeHeader(bytes);
    if (header === undefined) throw corrupt(id, 'its header is not a sealed-chunk header');
    return header;
  }

  /** Opens frames first..last laid out back to back in `sealed`; returns their plaintext. */
  #openFrames(id: ChunkId, header: ChunkHeader, first: number, last: number, sealed: Uint8Array): Uint8Array {
    const key = this.#chunkKey(id, header);
    try {
      const plainBytes = (last - first) * FRAME_BYTES + framePlaintextBytes(header.plaintextBytes, last);
      // Not zeroed: the frames cover it exactly, and it is dropped unreturned if one fails.
      const unzeroed = Buffer.allocUnsafeSlow(plainBytes);
      const plain = new Uint8Array(unzeroed.buffer, unzeroed.byteOffset, plainBytes);
      let sealedOffset = 0;
      for (let index = first; index <= last; index += 1) {
        const frameBytes = framePlaintextBytes(header.plaintextBytes, index) + TAG_BYTES;
        if (!openFrame(key, id, header, index, sealed.subarray(sealedOffset, sealedOffset + frameBytes), plain, (index - first) * FRAME_BYTES)) {
          throw corrupt(id, `frame ${index} does not authenticate`);
        }
        sealedOffset += frameBytes;
      }
      return plain;
    } finally {
      key.fill(0);
    }
  }

  #chunkKey(id: ChunkId, header: ChunkHeader): Buffer {
    try {
      return deriveChunkKey(this.#keyring.dataKey(header.keyVersion), id, header);
    } catch (error) {
      if (error instanceof KeyError && error.code === 'unknown-key-version') {
        throw corrupt(id, `it names data key version ${header.keyVersion}, which the keyring does not hold`, error);
      }
      throw error;
    }
  }
}

function intoOptions(buffer: Uint8Array | undefined): GetOptions | undefined {
  return buffer === undefined ? undefined : { into: buffer };
}

function corrupt(id: ChunkId, why: string, cause?: unknown): ChunkStoreError {
  return new ChunkStoreError('corrupt', `chunk ${id} is corrupt: ${why}`, cause === undefined ? undefined : { cause });
}
