import type { XdrReader } from '../xdr/xdr-reader.js';
import type { XdrWriter } from '../xdr/xdr-writer.js';
import type { ClientCredential, NfsTestClient } from './nfs-test-client.test-support.js';

/** Encoders and decoders of RFC 1813 structures for the test client's side of the wire. */
export interface Fattr {
  readonly type: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: bigint;
  readonly fileid: bigint;
  readonly atime: readonly [number, number];
  readonly mtime: readonly [number, number];
  readonly ctime: readonly [number, number];
}

export function readFattr(reader: XdrReader): Fattr {
  const type = reader.uint32();
  const mode = reader.uint32();
  const nlink = reader.uint32();
  const uid = reader.uint32();
  const gid = reader.uint32();
  const size = reader.uint64();
  reader.uint64();
  reader.uint32();
  reader.uint32();
  reader.uint64();
  const fileid = reader.uint64();
  const time = (): [number, number] => [reader.uint32(), reader.uint32()];
  return { type, mode, nlink, uid, gid, size, fileid, atime: time(), mtime: time(), ctime: time() };
}

export function readPostOp(reader: XdrReader): Fattr | undefined {
  return reader.optional(readFattr);
}

export function skipWcc(reader: XdrReader): void {
  reader.optional((inner) => {
    inner.uint64();
    inner.uint64();
    inner.uint64();
  });
  readPostOp(reader);
}

/** sattr3 with only a mode (or nothing). */
export function writeSattr(writer: XdrWriter, changes: { mode?: number; size?: bigint } = {}): void {
  writer.optional(changes.mode, (inner, mode) => inner.uint32(mode));
  writer.bool(false).bool(false);
  writer.optional(changes.size, (inner, size) => inner.uint64(size));
  writer.uint32(0).uint32(0);
}

export const ROOT_CREDENTIAL: ClientCredential = { uid: 0, gid: 0 };

export async function mountHandle(client: NfsTestClient, path: string, credential: ClientCredential = ROOT_CREDENTIAL): Promise<{ status: number; handle?: Uint8Array }> {
  const reply = await client.call({ program: 100005, version: 3, procedure: 1, args: (writer) => writer.string(path), credential });
  const status = reply.body.uint32();
  if (status !== 0) return { status };
  return { status, handle: Uint8Array.from(reply.body.opaque(64)) };
}

export function nfs(client: NfsTestClient, procedure: number, args: (writer: XdrWriter) => void, credential: ClientCredential = ROOT_CREDENTIAL) {
  return client.call({ program: 100003, version: 3, procedure, args, credential });
}

/** LOOKUP: the status, and on success the handle and attributes. */
export async function lookup(client: NfsTestClient, dir: Uint8Array, name: string, credential?: ClientCredential): Promise<{ status: number; handle?: Uint8Array; attributes?: Fattr }> {
  const reply = await nfs(client, 3, (writer) => writer.opaque(dir).string(name), credential);
  const status = reply.body.uint32();
  if (status !== 0) return { status };
  const handle = Uint8Array.from(reply.body.opaque(64));
  return { status, handle, attributes: readPostOp(reply.body) };
}

/** CREATE UNCHECKED/GUARDED (mode 0..1) or EXCLUSIVE (2, with a verifier). */
export async function create(client: NfsTestClient, dir: Uint8Array, name: string, how: { mode: 0 | 1 } | { mode: 2; verifier: Uint8Array }, credential?: ClientCredential): Promise<{ status: number; handle?: Uint8Array; attributes?: Fattr }> {
  const reply = await nfs(
    client,
    8,
    (writer) => {
      writer.opaque(dir).string(name).uint32(how.mode);
      if (how.mode === 2) writer.fixedOpaque(how.verifier);
      else writeSattr(writer, { mode: 0o644 });
    },
    credential,
  );
  const status = reply.body.uint32();
  if (status !== 0) return { status };
  const handle = reply.body.optional((inner) => Uint8Array.from(inner.opaque(64)));
  return { status, handle, attributes: readPostOp(reply.body) };
}

export async function getattr(client: NfsTestClient, handle: Uint8Array): Promise<{ status: number; attributes?: Fattr }> {
  const reply = await nfs(client, 1, (writer) => writer.opaque(handle));
  const status = reply.body.uint32();
  return status === 0 ? { status, attributes: readFattr(reply.body) } : { status };
}

export async function mkdir(client: NfsTestClient, dir: Uint8Array, name: string): Promise<{ status: number; handle?: Uint8Array }> {
  const reply = await nfs(client, 9, (writer) => {
    writer.opaque(dir).string(name);
    writeSattr(writer, { mode: 0o777 });
  });
  const status = reply.body.uint32();
  if (status !== 0) return { status };
  return { status, handle: reply.body.optional((inner) => Uint8Array.from(inner.opaque(64))) };
}

export interface ListedEntry {
  readonly name: string;
  readonly cookie: bigint;
  readonly handle?: Uint8Array;
}

export async function readdirplus(client: NfsTestClient, dir: Uint8Array, input: { cookie: bigint; verifier: Uint8Array; maxcount: number }): Promise<{ status: number; verifier?: Uint8Array; entries: ListedEntry[]; eof: boolean }> {
  const reply = await nfs(client, 17, (writer) => writer.opaque(dir).uint64(input.cookie).fixedOpaque(input.verifier).uint32(input.maxcount).uint32(input.maxcount));
  const body = reply.body;
  const status = body.uint32();
  readPostOp(body);
  if (status !== 0) return { status, entries: [], eof: false };
  const verifier = Uint8Array.from(body.fixedOpaque(8));
  const entries: ListedEntry[] = [];
  while (body.bool()) {
    body.uint64();
    const name = body.string(1024);
    const cookie = body.uint64();
    readPostOp(body);
    const handle = body.optional((inner) => Uint8Array.from(inner.opaque(64)));
    entries.push({ name, cookie, handle });
  }
  return { status, verifier, entries, eof: body.bool() };
}
