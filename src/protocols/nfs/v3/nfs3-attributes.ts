import type { Attributes, SetAttributes, TimeChange } from '../../../core/file-system.js';
import type { XdrReader } from '../xdr/xdr-reader.js';
import { XdrError } from '../xdr/xdr-reader.js';
import type { XdrWriter } from '../xdr/xdr-writer.js';
import { FileType3 } from './nfs3-types.js';

/** RFC 1813 §2.5 / §2.6: fattr3, wcc_attr, pre/post-op attributes, sattr3. */

const NS_PER_SECOND = 1_000_000_000n;
const SECONDS_MAX = 0xffff_ffffn;

const FILE_TYPE: Record<Attributes['type'], number> = { file: FileType3.REG, directory: FileType3.DIR, symlink: FileType3.LNK };

export function writeTime(writer: XdrWriter, ns: bigint): void {
  const clamped = ns < 0n ? 0n : ns;
  const seconds = clamped / NS_PER_SECOND;
  writer.uint32(Number(seconds > SECONDS_MAX ? SECONDS_MAX : seconds)).uint32(Number(clamped % NS_PER_SECOND));
}

export function readTime(reader: XdrReader): bigint {
  const seconds = reader.uint32('seconds');
  const nanoseconds = reader.uint32('nseconds');
  if (nanoseconds >= 1_000_000_000) throw new XdrError('nseconds must be below 10^9');
  return BigInt(seconds) * NS_PER_SECOND + BigInt(nanoseconds);
}

/** fattr3. `fsid` is the export id: one export is one file system to the client. */
export function writeFattr(writer: XdrWriter, attributes: Attributes, fsid: number): void {
  writer
    .uint32(FILE_TYPE[attributes.type])
    .uint32(attributes.mode & 0o7777)
    .uint32(attributes.nlink)
    .uint32(attributes.uid)
    .uint32(attributes.gid)
    .uint64(attributes.size)
    .uint64(attributes.allocatedBytes)
    .uint32(0)
    .uint32(0)
    .uint64(fsid)
    .uint64(attributes.id);
  writeTime(writer, attributes.atimeNs);
  writeTime(writer, attributes.mtimeNs);
  writeTime(writer, attributes.ctimeNs);
}

export function writePostOpAttributes(writer: XdrWriter, attributes: Attributes | undefined, fsid: number): void {
  writer.optional(attributes, (inner, value) => writeFattr(inner, value, fsid));
}

/** wcc_attr: the size and times a client compares to decide whether its cache is still valid. */
export interface WccAttributes {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export function wccOf(attributes: Attributes | undefined): WccAttributes | undefined {
  return attributes === undefined ? undefined : { size: attributes.size, mtimeNs: attributes.mtimeNs, ctimeNs: attributes.ctimeNs };
}

export interface WccData {
  readonly before?: WccAttributes;
  readonly after?: Attributes;
}

export function writeWccData(writer: XdrWriter, wcc: WccData | undefined, fsid: number): void {
  writer.optional(wcc?.before, (inner, before) => {
    inner.uint64(before.size);
    writeTime(inner, before.mtimeNs);
    writeTime(inner, before.ctimeNs);
  });
  writePostOpAttributes(writer, wcc?.after, fsid);
}

/** RFC 1813 §2.6 time_how. */
const TimeHow = { DONT_CHANGE: 0, SET_TO_SERVER_TIME: 1, SET_TO_CLIENT_TIME: 2 } as const;

function readSetTime(reader: XdrReader): TimeChange | undefined {
  const how = reader.uint32('time_how');
  if (how === TimeHow.DONT_CHANGE) return undefined;
  if (how === TimeHow.SET_TO_SERVER_TIME) return 'now';
  if (how === TimeHow.SET_TO_CLIENT_TIME) return readTime(reader);
  throw new XdrError(`time_how ${how} is not defined`);
}

/** sattr3 as core's SetAttributes (only the fields the client set). */
export function readSattr(reader: XdrReader): SetAttributes {
  const mode = reader.optional((inner) => inner.uint32('mode'));
  const uid = reader.optional((inner) => inner.uint32('uid'));
  const gid = reader.optional((inner) => inner.uint32('gid'));
  const size = reader.optional((inner) => inner.uint64('size'));
  const atime = readSetTime(reader);
  const mtime = readSetTime(reader);
  const changes: { -readonly [K in keyof SetAttributes]: SetAttributes[K] } = {};
  if (mode !== undefined) changes.mode = mode & 0o7777;
  if (uid !== undefined) changes.uid = uid;
  if (gid !== undefined) changes.gid = gid;
  if (size !== undefined) changes.size = size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size);
  if (atime !== undefined) changes.atime = atime;
  if (mtime !== undefined) changes.mtime = mtime;
  return changes;
}

export function hasChanges(changes: SetAttributes): boolean {
  return Object.keys(changes).length > 0;
}
