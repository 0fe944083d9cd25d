import pino from 'pino';
import { MemoryChunkStore } from '../../storage/chunks/memory/memory-chunk-store.js';
import type { ChunkStore } from '../../storage/chunks/chunk-store.js';
import { MemoryMetadataStore } from '../../storage/metadata/memory/memory-metadata-store.js';
import type { MetadataStore } from '../../storage/metadata/metadata-store.js';
import type { Clock } from '../clock.js';
import type { OpContext, Principal } from '../context.js';
import type { CoreFileSystem } from '../core-file-system.js';
import { openFileSystem } from '../open-file-system.js';

export const silentLogger = pino({ level: 'silent' });

/** A clock tests move by hand; every reading advances it by 1 µs so times are distinct. */
export class ManualClock implements Clock {
  constructor(private ns: bigint = 1_700_000_000_000_000_000n) {}
  nowMs(): number {
    return Number(this.ns / 1_000_000n);
  }
  nowNs(): bigint {
    this.ns += 1_000n;
    return this.ns;
  }
  advanceMs(ms: number): void {
    this.ns += BigInt(ms) * 1_000_000n;
  }
}

export function contextFor(principal: Principal, requestId = 'test'): OpContext {
  return { principal, clientAddress: '127.0.0.1', protocol: 'internal', requestId, logger: silentLogger };
}

export const ROOT: Principal = { uid: 0, gids: [0], superuser: true, name: 'root' };
export const ALICE: Principal = { uid: 1001, gids: [100], name: 'alice', sid: 'S-1-5-21-1-2-3-3002', groupSids: ['S-1-5-21-1-2-3-1200'] };
export const BOB: Principal = { uid: 1002, gids: [100], name: 'bob' };
export const CAROL: Principal = { uid: 1003, gids: [200], name: 'carol' };

export interface CoreFixture {
  readonly fs: CoreFileSystem;
  readonly metadata: MetadataStore;
  readonly chunks: ChunkStore;
  readonly clock: ManualClock;
  readonly root: OpContext;
  close(): Promise<void>;
}

export async function openCoreFixture(options: { metadata?: MetadataStore; chunks?: ChunkStore } = {}): Promise<CoreFixture> {
  const metadata = options.metadata ?? new MemoryMetadataStore();
  const chunks = options.chunks ?? new MemoryChunkStore({ capacityBytes: 1024 ** 4 });
  const clock = new ManualClock();
  const fs = await openFileSystem({ metadata, chunks, logger: silentLogger, clock, gc: { intervalMs: 3_600_000, deleteDelayMs: 0, sweepGraceMs: 0 } });
  return {
    fs,
    metadata,
    chunks,
    clock,
    root: contextFor(ROOT),
    close: async () => {
      await fs.close();
      await metadata.close();
      await chunks.close();
    },
  };
}

/** Every chunk id in the store, paging through `list`. */
export async function allChunkIds(chunks: ChunkStore): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await chunks.list({ after, limit: 1000 });
    ids.push(...page);
    if (page.length < 1000) return ids;
    after = page.at(-1);
  }
}
