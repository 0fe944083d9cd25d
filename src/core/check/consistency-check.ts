import type { ChunkStore } from '../../storage/chunks/chunk-store.js';
import type { Entry, MetadataStore } from '../../storage/metadata/metadata-store.js';
import { KeyReader } from '../../storage/metadata/tuple.js';
import { contributionOf, EMPTY_AGGREGATE } from '../aggregates.js';
import { foldName } from '../names.js';
import {
  decodeChunkIdKey,
  decodeDirentKey,
  decodeFoldedKey,
  decodeJson,
  decodeLinkParentKey,
  decodeOrphanKey,
  decodeSegmentKey,
  prefixEnd,
  RecordType,
  ROOT_ID,
  typePrefix,
  type Aggregate,
  type DirentRecord,
  type InodeRecord,
  type SegmentRecord,
} from '../records.js';

const PAGE = 5_000;
const PROBLEMS_MAX = 100;

export interface ConsistencyReport {
  readonly ok: boolean;
  readonly problems: string[];
  readonly nodes: number;
  readonly entries: number;
  readonly referencedChunks: number;
  /** Stored chunks that nothing references and nothing queued: leftovers of uncommitted writes. */
  readonly unreferencedChunks: number;
}

/** Pages through every record of one type. */
async function* records(metadata: MetadataStore, type: number): AsyncGenerator<Entry> {
  const end = prefixEnd(typePrefix(type));
  let start = typePrefix(type);
  for (;;) {
    const page = await metadata.read((tx) => tx.scan({ start, end, limit: PAGE }));
    yield* page;
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) return;
    start = prefixEnd(last.key);
  }
}

function sameAggregate(left: Aggregate, right: Aggregate): boolean {
  return left.bytes === right.bytes && left.files === right.files && left.directories === right.directories && left.symlinks === right.symlinks;
}

/**
 * Checks every reference in the store (offline, or online against a quiet store): entries point
 * at live nodes of the right generation and type; link counts, directory aggregates, the folded
 * name index and the extra-link index match the entries; chunk reference counts equal the slices
 * that hold them; every referenced chunk exists. Holds one map entry per node and per chunk, so it
 * is a tool for checks and tests, not for a billion files (a later issue makes it incremental).
 */
export async function checkConsistency(metadata: MetadataStore, chunks: ChunkStore): Promise<ConsistencyReport> {
  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < PROBLEMS_MAX) problems.push(text);
  };
  const nodes = new Map<number, InodeRecord>();
  for await (const entry of records(metadata, RecordType.inode)) {
    const record = decodeJson<InodeRecord>(entry.value);
    const id = new KeyReader(entry.key.subarray(1)).uint();
    if (record.diedEpoch === undefined) nodes.set(id, record);
  }
  if (!nodes.has(ROOT_ID)) problem('the root directory is missing');

  const links = new Map<number, number>();
  const children = new Map<number, number[]>();
  const liveNames = new Set<string>();
  let entries = 0;
  for await (const entry of records(metadata, RecordType.dirent)) {
    const record = decodeJson<DirentRecord>(entry.value);
    if (record.diedEpoch !== undefined) continue;
    entries++;
    const { parentId, name } = decodeDirentKey(entry.key);
    liveNames.add(`${parentId}/${foldName(name)}/${name}`);
    const child = nodes.get(record.id);
    if (child === undefined) problem(`entry ${parentId}/${name} points at missing node ${record.id}`);
    else if (child.generation !== record.generation || child.type !== record.type) problem(`entry ${parentId}/${name} disagrees with node ${record.id}`);
    if (nodes.get(parentId)?.type !== 'directory') problem(`entry ${parentId}/${name} is in a missing directory`);
    links.set(record.id, (links.get(record.id) ?? 0) + 1);
    children.set(parentId, [...(children.get(parentId) ?? []), record.id]);
  }
  for await (const entry of records(metadata, RecordType.folded)) {
    const reader = new KeyReader(entry.key.subarray(1));
    const parentId = reader.uint();
    const folded = reader.string();
    const { name } = decodeFoldedKey(entry.key);
    if (!liveNames.delete(`${parentId}/${folded}/${name}`)) problem(`folded name ${parentId}/${name} has no entry`);
  }
  for (const missing of [...liveNames].slice(0, 10)) problem(`entry ${missing} has no folded name`);

  const extraLinks = new Map<number, number>();
  for await (const entry of records(metadata, RecordType.linkParent)) {
    const id = new KeyReader(entry.key.subarray(1)).uint();
    extraLinks.set(id, (extraLinks.get(id) ?? 0) + 1);
    if (nodes.get(decodeLinkParentKey(entry.key).parentId)?.type !== 'directory') problem(`link of node ${id} is in a missing directory`);
  }

  checkNodes(nodes, links, children, extraLinks, problem);
  const chunkReport = await checkChunks(metadata, chunks, nodes, problem);
  return { ok: problems.length === 0, problems, nodes: nodes.size, entries, ...chunkReport };
}

function checkNodes(
  nodes: Map<number, InodeRecord>,
  links: Map<number, number>,
  children: Map<number, number[]>,
  extraLinks: Map<number, number>,
  problem: (text: string) => void,
): void {
  const computed = new Map<number, Aggregate>();
  const aggregateOf = (id: number, depth: number): Aggregate => {
    const known = computed.get(id);
    if (known !== undefined) return known;
    const total = { ...EMPTY_AGGREGATE };
    for (const childId of children.get(id) ?? []) {
      const child = nodes.get(childId);
      if (child === undefined || depth > 4096) continue;
      const part = child.type === 'directory' ? contributionOf({ ...child, aggregate: aggregateOf(childId, depth + 1) }) : contributionOf(child);
      total.bytes += part.bytes;
      total.files += part.files;
      total.directories += part.directories;
      total.symlinks += part.symlinks;
    }
    computed.set(id, total);
    return total;
  };
  for (const [id, record] of nodes) {
    const linkCount = links.get(id) ?? 0;
    if (id !== ROOT_ID && linkCount === 0) problem(`node ${id} has no entry`);
    if (record.type === 'directory') {
      const subdirectories = (children.get(id) ?? []).filter((childId) => nodes.get(childId)?.type === 'directory').length;
      if (record.nlink !== 2 + subdirectories) problem(`directory ${id} has nlink ${record.nlink}, expected ${2 + subdirectories}`);
      const expected = aggregateOf(id, 0);
      if (!sameAggregate(record.aggregate ?? EMPTY_AGGREGATE, expected)) {
        problem(`directory ${id} aggregate ${JSON.stringify(record.aggregate)} differs from ${JSON.stringify(expected)}`);
      }
    } else {
      if (record.nlink !== linkCount) problem(`node ${id} has nlink ${record.nlink} but ${linkCount} entries`);
      if ((extraLinks.get(id) ?? 0) !== Math.max(0, linkCount - 1)) problem(`node ${id} has ${extraLinks.get(id) ?? 0} extra-link records for ${linkCount} links`);
    }
  }
}

async function checkChunks(
  metadata: MetadataStore,
  chunks: ChunkStore,
  nodes: Map<number, InodeRecord>,
  problem: (text: string) => void,
): Promise<{ referencedChunks: number; unreferencedChunks: number }> {
  const orphans = new Set<number>();
  for await (const entry of records(metadata, RecordType.orphan)) orphans.add(decodeOrphanKey(entry.key));
  const counted = new Map<string, number>();
  const covered = new Map<number, number>();
  for await (const entry of records(metadata, RecordType.segment)) {
    const record = decodeJson<SegmentRecord>(entry.value);
    const { id } = decodeSegmentKey(entry.key);
    for (const slice of record.slices) if (slice.zero !== true) counted.set(slice.chunkId, (counted.get(slice.chunkId) ?? 0) + 1);
    if (record.diedEpoch !== undefined) continue;
    if (!nodes.has(id) && !orphans.has(id)) problem(`segment of node ${id} belongs to no node and no orphan`);
    covered.set(id, (covered.get(id) ?? 0) + record.coveredBytes);
  }
  for (const [id, record] of nodes) {
    if (record.type === 'file' && record.allocatedBytes !== (covered.get(id) ?? 0)) {
      problem(`node ${id} says ${record.allocatedBytes} bytes allocated, its segments cover ${covered.get(id) ?? 0}`);
    }
  }
  const queued = new Set<string>();
  for await (const entry of records(metadata, RecordType.gcQueue)) queued.add(decodeChunkIdKey(entry.key));
  for await (const entry of records(metadata, RecordType.chunkRef)) {
    const chunkId = decodeChunkIdKey(entry.key);
    const stored = decodeJson<number>(entry.value);
    if (stored !== (counted.get(chunkId) ?? 0)) problem(`chunk ${chunkId} has reference count ${stored}, ${counted.get(chunkId) ?? 0} slices hold it`);
    if (queued.has(chunkId)) problem(`chunk ${chunkId} is referenced and queued for deletion`);
    counted.delete(chunkId);
  }
  for (const chunkId of [...counted.keys()].slice(0, 10)) problem(`chunk ${chunkId} is held by slices but has no reference count`);
  const stored = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await chunks.list({ after, limit: PAGE });
    for (const id of page) stored.add(id);
    if (page.length < PAGE) break;
    after = page.at(-1);
  }
  const inline = new Set<string>();
  for await (const entry of records(metadata, RecordType.inlineData)) inline.add(decodeChunkIdKey(entry.key));
  let referencedChunks = 0;
  for await (const entry of records(metadata, RecordType.chunkRef)) {
    const chunkId = decodeChunkIdKey(entry.key);
    referencedChunks++;
    if (inline.delete(chunkId)) continue;
    if (!stored.delete(chunkId)) problem(`referenced chunk ${chunkId} is missing from the chunk store`);
  }
  for (const chunkId of queued) inline.delete(chunkId);
  for (const chunkId of [...inline].slice(0, 10)) problem(`inline chunk ${chunkId} is neither referenced nor queued`);
  for (const chunkId of queued) stored.delete(chunkId);
  return { referencedChunks, unreferencedChunks: stored.size };
}
