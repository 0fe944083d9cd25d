import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { NodeHandle } from '../../../core/file-system.js';

/**
 * NFS file handles (RFC 1813 §2.3.3: opaque, at most 64 bytes). Layout, big-endian:
 *
 *   0  version (1)      1  reserved (0)     2  export id (u32)
 *   6  node id (u64)   14  generation (u64) 22  view (u64: 0 = live tree, s + 1 = core snapshot s)
 *  30  HMAC-SHA256 over bytes 0..29 under the instance's handle key, first 20 bytes
 *
 * The HMAC makes handles unforgeable: a client cannot guess a node id into a handle, nor move a
 * handle from one export to another by editing the export id. A handle that fails the check is
 * NFS3ERR_BADHANDLE; one whose export is gone or whose node was reused (generation) is STALE.
 *
 * The view field is core's `NodeHandle.snapshot` plus one, so that 0 stays the live tree (handles
 * issued before snapshots existed keep working) while core's snapshot 0 (a `.snapshot` directory)
 * and every snapshot id up to 2^53 - 2 fit.
 */
export const FILE_HANDLE_VERSION = 1;
export const FILE_HANDLE_BYTES = 50;
const BODY_BYTES = 30;
const MAC_BYTES = 20;
/** The handle key must be at least this long (the lead passes deriveKey('nfs-handles/v1'), 32 bytes). */
const KEY_BYTES_MIN = 16;

export interface DecodedHandle {
  readonly exportId: number;
  readonly node: NodeHandle;
}

/** Verified handles remembered (every call verifies its handle; clients reuse a few). */
const VERIFIED_HANDLES_MAX = 4_096;
/**
 * Issued handles remembered: a READDIRPLUS page answers ~40 handles, and an HMAC costs ~3 µs, as
 * much as the rest of the entry; the same files are listed, created and looked up again and again.
 */
const ISSUED_HANDLES_MAX = 16_384;

export class FileHandleCodec {
  private readonly key: KeyObject;
  /** Handles whose MAC checked, by their exact bytes; emptied when full. */
  private readonly verified = new Map<string, DecodedHandle>();
  /** Handles encoded, by export and node; emptied when full. Encoding is deterministic. */
  private readonly issued = new Map<string, Uint8Array>();

  constructor(key: Uint8Array) {
    if (key.byteLength < KEY_BYTES_MIN) throw new Error(`the NFS handle key needs at least ${KEY_BYTES_MIN} bytes`);
    this.key = createSecretKey(key);
  }

  /** The handle of `node` in export `exportId`. The bytes may be shared: callers must not change them. */
  encode(exportId: number, node: NodeHandle): Uint8Array {
    const name = `${exportId}/${node.id}/${node.generation}/${node.snapshot ?? ''}`;
    const known = this.issued.get(name);
    if (known !== undefined) return known;
    const bytes = this.sign(exportId, node);
    if (this.issued.size >= ISSUED_HANDLES_MAX) this.issued.clear();
    this.issued.set(name, bytes);
    // The client sends it back next (a CREATE's handle in its WRITE): no MAC to check then.
    const issuedNode: NodeHandle = node.snapshot === undefined ? { id: node.id, generation: node.generation } : { id: node.id, generation: node.generation, snapshot: node.snapshot };
    this.remember(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), { exportId, node: issuedNode });
    return bytes;
  }

  private sign(exportId: number, node: NodeHandle): Uint8Array {
    const bytes = Buffer.alloc(FILE_HANDLE_BYTES);
    bytes.writeUInt8(FILE_HANDLE_VERSION, 0);
    bytes.writeUInt32BE(exportId, 2);
    bytes.writeBigUInt64BE(BigInt(node.id), 6);
    bytes.writeBigUInt64BE(BigInt(node.generation), 14);
    bytes.writeBigUInt64BE(node.snapshot === undefined ? 0n : BigInt(node.snapshot) + 1n, 22);
    this.mac(bytes.subarray(0, BODY_BYTES)).copy(bytes, BODY_BYTES);
    return bytes;
  }

  /** Undefined for anything we did not issue (wrong size, version or MAC). */
  decode(handle: Uint8Array): DecodedHandle | undefined {
    if (handle.byteLength !== FILE_HANDLE_BYTES) return undefined;
    const bytes = Buffer.from(handle.buffer, handle.byteOffset, handle.byteLength);
    const text = bytes.toString('latin1');
    const known = this.verified.get(text);
    if (known !== undefined) return known;
    const decoded = this.verify(bytes);
    if (decoded === undefined) return undefined;
    this.remember(text, decoded);
    return decoded;
  }

  private remember(text: string, decoded: DecodedHandle): void {
    if (this.verified.size >= VERIFIED_HANDLES_MAX) this.verified.clear();
    this.verified.set(text, decoded);
  }

  private verify(bytes: Buffer): DecodedHandle | undefined {
    if (bytes.readUInt8(0) !== FILE_HANDLE_VERSION || bytes.readUInt8(1) !== 0) return undefined;
    const expected = this.mac(bytes.subarray(0, BODY_BYTES));
    if (!timingSafeEqual(expected, bytes.subarray(BODY_BYTES))) return undefined;
    const id = bytes.readBigUInt64BE(6);
    const generation = bytes.readBigUInt64BE(14);
    const view = bytes.readBigUInt64BE(22);
    // We only ever sign safe integers; a signed handle holding more is a bug, not client input.
    if (id > BigInt(Number.MAX_SAFE_INTEGER) || generation > BigInt(Number.MAX_SAFE_INTEGER) || view > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    const node: NodeHandle = view === 0n ? { id: Number(id), generation: Number(generation) } : { id: Number(id), generation: Number(generation), snapshot: Number(view - 1n) };
    return { exportId: bytes.readUInt32BE(2), node };
  }

  private mac(body: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
