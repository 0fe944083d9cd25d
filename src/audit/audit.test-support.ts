import { createLogger } from '../ops/logger.js';
import type { Clock } from '../core/clock.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { Auditor } from './auditor.js';
import { CheckpointKey } from './checkpoint-key.js';
import type { AuditEvent } from './events.js';
import { LocalAuditLog } from './local-log.js';

export const TEST_SEED = new Uint8Array(32).fill(7);

export class FakeClock implements Clock {
  constructor(public ms = Date.UTC(2025, 0, 1)) {}
  nowMs(): number {
    return this.ms;
  }
  nowNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
}

export function sampleEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { time: Date.UTC(2025, 0, 1), user: { name: 'alice', uid: 1001 }, clientAddress: '192.0.2.7', protocol: 'api', operation: 'fs_write_data', status: 'ok', fileId: '42', path: '/home/alice/a.txt', details: { offset: 0, size: 4096 }, ...overrides };
}

export async function openTestAudit(options: { checkpointEveryRecords?: number; coalesceWindowMs?: number } = {}) {
  const metadata = new MemoryMetadataStore();
  const clock = new FakeClock();
  const log = await LocalAuditLog.open({ metadata, clock, key: CheckpointKey.fromSeed(TEST_SEED), checkpointEveryRecords: options.checkpointEveryRecords ?? 4, checkpointIntervalMs: 3_600_000 });
  const auditor = new Auditor({ log, clock, logger: createLogger({ level: 'silent' }), coalesceWindowMs: options.coalesceWindowMs ?? 1_000 });
  return { metadata, clock, log, auditor };
}
