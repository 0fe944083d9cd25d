import type { ChunkStore } from '../../storage/chunks/chunk-store.js';
import type { Entry, MetadataStore, ReadTransaction } from '../../storage/metadata/metadata-store.js';
import { KeyReader } from '../../storage/metadata/tuple.js';
import { contributionOf, EMPTY_AGGREGATE } from '../aggregates.js';
import { foldName } from '../names.js';
import { SnapshotRegistry } from '../snapshot/registry.js';
import {
  changeByRecordKey,
  chunkRefKey,
  decodeSnapshotKey,
  metaKey,
  type SnapshotRecord,
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
  /** False when the check stopped at its deadline (online): `problems` covers what it read. */
  readonly complete: boolean;
  readonly problems: string[];
  readonly nodes: number;
  readonly entries: number;
  readonly referencedChunks: number;
  /** Stored chunks that nothing references and nothing queued: leftovers of uncommitted writes. */
  readonly unreferencedChunks: number;
  readonly snapshots: number;
  /** Closed versions kept for snapshots (or waiting for reclaim after a snapshot was deleted). */
  readonly keptVersions: number;
  /** Change-log entries no snapshot needs any more, not yet trimmed by the collector. */
  readonly untrimmedChangeLogEntries: number;
}

export interface ConsistencyOptions {
  /** Stop reading at this time (ms, `now()`'s clock) and report `complete: false`. */
  readonly deadlineMs?: number;
  readonly now?: () => number;
  /**
   * Online: a chunk found missing is re-checked against the current metadata (the garbage
   * collector may have freed it after the check's read began) before it counts as a problem.
   */
  readonly online?: boolean;
  /**
   * Background work (reclaim, change-log trimming) has finished (after collectGarbage): leftovers
   * it would have removed are problems too.
   */
  readonly settled?: boolean;
}

class DeadlineReached extends Error {}

/** The check's one read transaction, and its deadline. */
interface Reader {
  readonly tx: ReadTransaction;
  tick(): void;
}

/** Pages through every record of one type, inside the check's one read transaction. */
async function* records(reader: Reader, type: number): AsyncGenerator<Entry> {
  const end = prefixEnd(typePrefix(type));
  let start = typePrefix(type);
  for (;;) {
    reader.tick();
    const page = await reader.tx.scan({ start, end, limit: PAGE });
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
 * Checks every reference in the store, offline or online: entries point at live nodes of the
 * right generation and type; link counts, directory aggregates, the folded name index and the
 * extra-link index match the entries; chunk reference counts equal the slices that hold them
 * (kept versions included); every referenced chunk exists. And the snapshot side: no record has
 * two live versions, nor a version that died before it was born; every closed (kept) version is
 * seen by a snapshot or waits for the reclaim of a deleted one; change-log entries lie only
 * above the oldest snapshot (or a pending reclaim) and both of its indexes agree; reclaim work
 * names snapshots that no longer exist.
 *
 * All metadata is read in one read transaction (a consistent state even while the server
 * writes); nothing is changed. Holds one map entry per node and per chunk, so it is a tool for
 * checks, tests and fsck, not yet for a billion files.
 */
export async function checkConsistency(metadata: MetadataStore, chunks: ChunkStore, options: ConsistencyOptions = {}): Promise<ConsistencyReport> {
  const problems: string[] = [];
  const problem = (text: string): void => {
    if (problems.length < PROBLEMS_MAX) problems.push(text);
  };
  const now = options.now ?? Date.now;
  const counts = { nodes: 0, entries: 0, referencedChunks: 0, unreferencedChunks: 0, snapshots: 0, keptVersions: 0, untrimmedChangeLogEntries: 0 };
  let complete = true;
  await metadata.read(async (tx) => {
    const reader: Reader = {
      tx,
      tick: () => {
        if (options.deadlineMs !== undefined && now() > options.deadlineMs) throw new DeadlineReached();
      },
    };
    try {
      await checkAll(reader, metadata, chunks, options, problem, counts);
    } catch (error) {
      if (!(error instanceof DeadlineReached)) throw error;
      complete = false;
    }
  });
  return { ok: problems.length === 0, complete, problems, ...counts };
}

async function checkAll(
  reader: Reader,
  metadata: MetadataStore,
  chunks: ChunkStore,
  options: ConsistencyOptions,
  problem: (text: string) => void,
  counts: { nodes: number; entries: number; referencedChunks: number; unreferencedChunks: number; snapshots: number; keptVersions: number; untrimmedChangeLogEntries: number },
): Promise<void> {
  const snapshots = await checkSnapshots(reader, options.settled === true, problem);
  counts.snapshots = snapshots.registry.size;
  counts.untrimmedChangeLogEntries = snapshots.untrimmed;
  const nodes = new Map<number, InodeRecord>();
  const versionCheck = versionChecker(reader, snapshots, problem);
  for await (const entry of records(reader, RecordType.inode)) {
    const record = decodeJson<InodeRecord>(entry.value);
    const id = new KeyReader(entry.key.subarray(1)).uint();
    await versionCheck.visit(entry, record.diedEpoch, id);
    if (record.diedEpoch === undefined) nodes.set(id, record);
  }
  if (!nodes.has(ROOT_ID)) problem('the root directory is missing');
  counts.nodes = nodes.size;

  const links = new Map<number, number>();
  const children = new Map<number, number[]>();
  const liveNames = new Set<string>();
  for await (const entry of records(reader, RecordType.dirent)) {
    const record = decodeJson<DirentRecord>(entry.value);
    const { parentId, name } = decodeDirentKey(entry.key);
    await versionCheck.visit(entry, record.diedEpoch, parentId);
    if (record.diedEpoch !== undefined) continue;
    counts.entries++;
    liveNames.add(`${parentId}/${foldName(name)}/${name}`);
    const child = nodes.get(record.id);
    if (child === undefined) problem(`entry ${parentId}/${name} points at missing node ${record.id}`);
    else if (child.generation !== record.generation || child.type !== record.type) problem(`entry ${parentId}/${name} disagrees with node ${record.id}`);
    if (nodes.get(parentId)?.type !== 'directory') problem(`entry ${parentId}/${name} is in a missing directory`);
    links.set(record.id, (links.get(record.id) ?? 0) + 1);
    const siblings = children.get(parentId);
    if (siblings === undefined) children.set(parentId, [record.id]);
    else siblings.push(record.id);
  }
  for await (const entry of records(reader, RecordType.folded)) {
    const keyReader = new KeyReader(entry.key.subarray(1));
    const parentId = keyReader.uint();
    const folded = keyReader.string();
    const { name } = decodeFoldedKey(entry.key);
    if (!liveNames.delete(`${parentId}/${folded}/${name}`)) problem(`folded name ${parentId}/${name} has no entry`);
  }
  for (const missing of [...liveNames].slice(0, 10)) problem(`entry ${missing} has no folded name`);

  const extraLinks = new Map<number, number>();
  for await (const entry of records(reader, RecordType.linkParent)) {
    const id = new KeyReader(entry.key.subarray(1)).uint();
    extraLinks.set(id, (extraLinks.get(id) ?? 0) + 1);
    if (nodes.get(decodeLinkParentKey(entry.key).parentId)?.type !== 'directory') problem(`link of node ${id} is in a missing directory`);
  }

  checkNodes(nodes, links, children, extraLinks, problem);
  const chunkReport = await checkChunks(reader, metadata, chunks, nodes, versionCheck, options, problem);
  counts.referencedChunks = chunkReport.referencedChunks;
  counts.unreferencedChunks = chunkReport.unreferencedChunks;
  versionCheck.finish();
  counts.keptVersions = versionCheck.kept();
}

interface SnapshotState {
  readonly registry: SnapshotRegistry;
  /** Epochs of deleted snapshots whose reclaim has not finished. */
  readonly pendingReclaims: number[];
  readonly untrimmed: number;
}

/** Snapshot records, reclaim work and the change log's two indexes. */
async function checkSnapshots(reader: Reader, settled: boolean, problem: (text: string) => void): Promise<SnapshotState> {
  const registry = await SnapshotRegistry.load(reader.tx);
  const stored = await reader.tx.get(metaKey('epoch'));
  const epoch = stored === undefined ? 1 : decodeJson<number>(stored);
  for (const snapshot of registry.list()) {
    if (snapshot.epoch >= epoch) problem(`snapshot ${snapshot.id} is at epoch ${snapshot.epoch}, not before the live epoch ${epoch}`);
  }
  const pendingReclaims: number[] = [];
  for await (const entry of records(reader, RecordType.snapshotReclaim)) {
    const id = decodeSnapshotKey(entry.key);
    const work = decodeJson<{ snapshot: SnapshotRecord }>(entry.value);
    if (registry.get(id) !== undefined) problem(`snapshot ${id} is queued for reclaim but still exists`);
    if (work.snapshot.id !== id) problem(`reclaim work ${id} names snapshot ${work.snapshot.id}`);
    pendingReclaims.push(work.snapshot.epoch);
  }
  // The change log: both indexes agree; entries at or below the oldest snapshot (and every pending
  // reclaim) are no longer needed and are trimmed in the background, so they are counted, and a
  // problem only when the caller says background work has finished (`settled`).
  const floor = Math.min(...registry.list().map((snapshot) => snapshot.epoch), ...pendingReclaims);
  let logged = 0;
  let untrimmed = 0;
  for await (const entry of records(reader, RecordType.changeByEpoch)) {
    const logEpoch = new KeyReader(entry.key.subarray(1)).uint();
    if (logEpoch <= floor || !Number.isFinite(floor)) untrimmed++;
    if (logEpoch > epoch) problem(`change-log entry at epoch ${logEpoch} is past the live epoch ${epoch}`);
    if ((await reader.tx.get(changeByRecordKey(entry.key.subarray(9), logEpoch))) === undefined) problem(`change-log entry at epoch ${logEpoch} has no by-record twin`);
    logged++;
  }
  if (settled && untrimmed > 0) problem(`${untrimmed} change-log entries lie at or below the oldest snapshot (epoch ${Number.isFinite(floor) ? floor : 'none'}) after background work finished`);
  let byRecord = 0;
  for await (const _entry of records(reader, RecordType.changeByRecord)) byRecord++;
  if (byRecord !== logged) problem(`the change log has ${logged} entries by epoch and ${byRecord} by record`);
  return { registry, pendingReclaims, untrimmed };
}

/**
 * Per versioned record (key without its born epoch): at most one live version, each version died
 * after it was born, and every closed version is seen by a snapshot (or awaits reclaim). Records
 * arrive in key order, so the versions of one record are consecutive.
 */
function versionChecker(reader: Reader, snapshots: SnapshotState, problem: (text: string) => void) {
  let currentPrefix = '';
  let liveVersions = 0;
  let kept = 0;
  /** Closed segment versions waiting for reclaim: their chunks must still be referenced. */
  const flush = (): void => {
    if (liveVersions > 1) problem(`record ${currentPrefix} has ${liveVersions} live versions`);
  };
  return {
    async visit(entry: Entry, diedEpoch: number | undefined, nodeId: number): Promise<void> {
      const prefixBytes = entry.key.subarray(0, entry.key.length - 8);
      const prefix = Buffer.from(prefixBytes).toString('hex');
      if (prefix !== currentPrefix) {
        flush();
        currentPrefix = prefix;
        liveVersions = 0;
      }
      const born = new KeyReader(entry.key.subarray(entry.key.length - 8)).uint();
      if (diedEpoch === undefined) {
        liveVersions++;
        return;
      }
      kept++;
      if (diedEpoch <= born) problem(`record ${prefix} has a version born at ${born} that died at ${diedEpoch}`);
      // Reclaim finds kept versions through the change log: a death not logged would leak.
      if ((await reader.tx.get(changeByRecordKey(prefixBytes, diedEpoch))) === undefined) problem(`record ${prefix} keeps a version that died at ${diedEpoch} with no change-log entry (reclaim could never free it)`);
      if (await snapshots.registry.retainedBetween(reader.tx, nodeId, born, diedEpoch)) return;
      if (snapshots.pendingReclaims.some((epoch) => born <= epoch && epoch < diedEpoch)) return;
      problem(`record ${prefix} keeps a version (epochs ${born}-${diedEpoch}) that no snapshot sees`);
    },
    finish: flush,
    kept: () => kept,
  };
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
  reader: Reader,
  metadata: MetadataStore,
  chunks: ChunkStore,
  nodes: Map<number, InodeRecord>,
  versionCheck: ReturnType<typeof versionChecker>,
  options: ConsistencyOptions,
  problem: (text: string) => void,
): Promise<{ referencedChunks: number; unreferencedChunks: number }> {
  const orphans = new Set<number>();
  for await (const entry of records(reader, RecordType.orphan)) orphans.add(decodeOrphanKey(entry.key));
  const counted = new Map<string, number>();
  const covered = new Map<number, number>();
  for await (const entry of records(reader, RecordType.segment)) {
    const record = decodeJson<SegmentRecord>(entry.value);
    const { id } = decodeSegmentKey(entry.key);
    await versionCheck.visit(entry, record.diedEpoch, id);
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
  for await (const entry of records(reader, RecordType.gcQueue)) queued.add(decodeChunkIdKey(entry.key));
  for await (const entry of records(reader, RecordType.chunkRef)) {
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
    reader.tick();
    const page = await chunks.list({ after, limit: PAGE });
    for (const id of page) stored.add(id);
    if (page.length < PAGE) break;
    after = page.at(-1);
  }
  const inline = new Set<string>();
  for await (const entry of records(reader, RecordType.inlineData)) inline.add(decodeChunkIdKey(entry.key));
  let referencedChunks = 0;
  for await (const entry of records(reader, RecordType.chunkRef)) {
    const chunkId = decodeChunkIdKey(entry.key);
    referencedChunks++;
    if (inline.delete(chunkId)) continue;
    if (stored.delete(chunkId)) continue;
    // Online, the collector may have freed the chunk after this check's read began.
    if (options.online === true && (await metadata.read((current) => current.get(chunkRefKey(chunkId)))) === undefined) continue;
    problem(`referenced chunk ${chunkId} is missing from the chunk store`);
  }
  for (const chunkId of queued) inline.delete(chunkId);
  for (const chunkId of [...inline].slice(0, 10)) problem(`inline chunk ${chunkId} is neither referenced nor queued`);
  for (const chunkId of queued) stored.delete(chunkId);
  return { referencedChunks, unreferencedChunks: stored.size };
}
