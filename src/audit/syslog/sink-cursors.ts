import { Keyspace } from '../../storage/metadata/keyspaces.js';
import type { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { key } from '../../storage/metadata/tuple.js';
import type { EventPage, EventQuery } from '../local-log.js';

/**
 * Per-sink replay cursors (issue 7 item 5, "no event lost" across a crash): for each syslog sink,
 * the sequence number up to which every record was handed to its socket and has left the resend
 * window. On start a sink replays the local log from there. Stored under
 * `[audit, 0x04, sink id] -> {"seq": N}` (outside the record range, so verification ignores it).
 */
const CURSOR = 0x04;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const cursorKey = (sinkId: string): Uint8Array => key().byte(Keyspace.audit).byte(CURSOR).string(sinkId).build();

/** Where a sink keeps its cursor. */
export interface CursorStore {
  load(sinkId: string): Promise<number | undefined>;
  save(sinkId: string, seq: number): Promise<void>;
  delete(sinkId: string): Promise<void>;
}

/** What a sink replays from: the local log. */
export interface ReplaySource {
  lastSeq(): number;
  query(query: EventQuery): Promise<EventPage>;
}

export class SinkCursors implements CursorStore {
  constructor(private readonly metadata: MetadataStore) {}

  async load(sinkId: string): Promise<number | undefined> {
    const bytes = await this.metadata.read((tx) => tx.get(cursorKey(sinkId)));
    if (bytes === undefined) return undefined;
    const seq = (JSON.parse(decoder.decode(bytes)) as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined;
  }

  async save(sinkId: string, seq: number): Promise<void> {
    await this.metadata.write(async (tx) => tx.put(cursorKey(sinkId), encoder.encode(JSON.stringify({ seq }))));
  }

  async delete(sinkId: string): Promise<void> {
    await this.metadata.write(async (tx) => tx.delete(cursorKey(sinkId)));
  }
}
