import { createHash } from 'node:crypto';

/**
 * RFC 5531 §3 and the classic NFS duplicate-request cache: a client retransmits a call whose
 * reply it lost (often after reconnecting, so from a new port), and a non-idempotent procedure
 * (REMOVE, CREATE, RENAME ...) must not run twice. Entries are keyed by client address, xid,
 * program, version, procedure and a digest of the arguments (so a reused xid with different
 * arguments is a new call). A duplicate of a call still running is dropped (the client will
 * retransmit again); a duplicate of a finished call gets the cached reply. Bounded by entry
 * count and bytes, oldest evicted first.
 */
export interface DuplicateRequestLimits {
  readonly entriesMax: number;
  readonly bytesMax: number;
}

type Entry = { readonly state: 'running' } | { readonly state: 'done'; readonly reply: Uint8Array };

export class DuplicateRequestCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(private readonly limits: DuplicateRequestLimits) {}

  static key(input: { address: string; xid: number; program: number; version: number; procedure: number; args: Uint8Array }): string {
    const digest = createHash('sha256').update(input.args).digest('base64url').slice(0, 22);
    return `${input.address}|${input.xid}|${input.program}|${input.version}|${input.procedure}|${digest}`;
  }

  /** 'new' means run it (the key is now marked running); otherwise the cached reply or 'running'. */
  begin(key: string): 'new' | 'running' | Uint8Array {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.insert(key, { state: 'running' });
      return 'new';
    }
    return entry.state === 'running' ? 'running' : entry.reply;
  }

  finish(key: string, reply: Uint8Array): void {
    if (!this.entries.has(key)) return;
    this.remove(key);
    if (reply.byteLength > this.limits.bytesMax) return;
    this.insert(key, { state: 'done', reply: Uint8Array.from(reply) });
  }

  /** A call that failed without a reply (connection gone) may run again when retransmitted. */
  abandon(key: string): void {
    const entry = this.entries.get(key);
    if (entry?.state === 'running') this.remove(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private insert(key: string, entry: Entry): void {
    const size = entry.state === 'done' ? entry.reply.byteLength : 0;
    while (this.entries.size > 0 && (this.entries.size >= this.limits.entriesMax || this.bytes + size > this.limits.bytesMax)) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
    this.entries.set(key, entry);
    this.bytes += size;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    if (entry.state === 'done') this.bytes -= entry.reply.byteLength;
    this.entries.delete(key);
  }
}
