import type { Attributes, NodeHandle, NodeInfo } from '../../../../core/file-system.js';
import type { XdrReader } from '../../xdr/xdr-reader.js';
import type { XdrWriter } from '../../xdr/xdr-writer.js';
import { wccOf, writePostOpAttributes, writeWccData, type WccAttributes, type WccData } from '../nfs3-attributes.js';
import { attributesOrNothing, failure, ok, type Nfs3Call, type Outcome } from '../nfs3-procedure.js';
import { FH_BYTES_MAX, NAME_WIRE_BYTES_MAX } from '../nfs3-types.js';

/** Shared argument and result shapes of RFC 1813 §3.3 (nfs_fh3, diropargs3, diropres3). */

export function readFileHandle(reader: XdrReader): Uint8Array {
  return reader.opaque(FH_BYTES_MAX, 'nfs_fh3');
}

export interface DirOpArgs {
  readonly dir: Uint8Array;
  readonly name: string;
}

export function readDirOpArgs(reader: XdrReader): DirOpArgs {
  return { dir: readFileHandle(reader), name: reader.string(NAME_WIRE_BYTES_MAX, 'filename3') };
}

/** Pre-operation attributes: taken before a change so the client can tell whether it was alone. */
export async function before(call: Nfs3Call, node: NodeHandle): Promise<WccAttributes | undefined> {
  return wccOf(await attributesOrNothing(call, node));
}

export async function wccAfter(call: Nfs3Call, node: NodeHandle, prior: WccAttributes | undefined): Promise<WccData> {
  const after = await attributesOrNothing(call, node);
  return prior === undefined ? { after } : { before: prior, after };
}

/** diropres3 (CREATE, MKDIR, SYMLINK, MKNOD). */
export interface CreatedOk {
  readonly handle?: Uint8Array;
  readonly attributes?: Attributes;
  readonly dirWcc: WccData;
}

export interface DirWccFail {
  readonly dirWcc: WccData;
}

export function encodeCreatedOk(writer: XdrWriter, result: CreatedOk, fsid: number): void {
  writer.optional(result.handle, (inner, handle) => inner.opaque(handle));
  writePostOpAttributes(writer, result.attributes, fsid);
  writeWccData(writer, result.dirWcc, fsid);
}

export function encodeDirWccFail(writer: XdrWriter, fail: DirWccFail | undefined, fsid: number): void {
  writeWccData(writer, fail?.dirWcc, fsid);
}

/** Runs a change in directory `call.node`, answering with the directory's wcc_data either way. */
export async function changeInDirectory<Ok>(call: Nfs3Call, change: () => Promise<Omit<Ok, 'dirWcc'>>): Promise<Outcome<Ok & { dirWcc: WccData }, DirWccFail>> {
  const prior = await before(call, call.node);
  try {
    const result = await change();
    return ok({ ...result, dirWcc: await wccAfter(call, call.node, prior) } as Ok & { dirWcc: WccData });
  } catch (error) {
    return failure(error, { dirWcc: await wccAfter(call, call.node, prior) });
  }
}

export function created(call: Nfs3Call, info: NodeInfo): Omit<CreatedOk, 'dirWcc'> {
  return { handle: call.fileHandle(info.handle), attributes: info.attributes };
}

/** post_op_attr-only failures (GETATTR-like procedures): resfail carries the object's attributes. */
export interface AttributesFail {
  readonly attributes?: Attributes;
}

export function encodeAttributesFail(writer: XdrWriter, fail: AttributesFail | undefined, fsid: number): void {
  writePostOpAttributes(writer, fail?.attributes, fsid);
}

export async function failWithAttributes(call: Nfs3Call, error: unknown): Promise<Outcome<never, AttributesFail>> {
  return failure(error, { attributes: await attributesOrNothing(call, call.node) });
}
