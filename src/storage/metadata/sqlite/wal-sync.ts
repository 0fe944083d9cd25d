import { open, stat, type FileHandle } from 'node:fs/promises';
import { CoalescedSync } from '../../coalesced-sync.js';

/** How often a sync checks that its descriptor is still the file at the WAL's path. */
const IDENTITY_CHECK_MS = 1_000;

/**
 * Makes the WAL durable off the event loop (docs/decisions/0001). The writer commits with
 * synchronous=NORMAL, which writes the WAL frames without an fsync; before a batch is
 * acknowledged, `durable()` waits for an fdatasync of the WAL file that started after the batch's
 * COMMIT, run in libuv's thread pool. Syncs coalesce (CoalescedSync): while one runs, every
 * commit that asks waits for the next, which then covers them all (the WAL is one file written in
 * order, so one fdatasync covers every frame written before it began).
 *
 * The WAL keeps its inode while the store is open (SQLite truncates or rewrites it in place and
 * removes it only when the last connection closes); still, at most once a second a sync checks
 * that its descriptor is the file at the path, and reopens it if not.
 */
export class WalSync {
  private handle: FileHandle | undefined;
  private checkedAtMs = 0;
  private readonly syncs = new CoalescedSync(() => this.syncOnce());

  constructor(
    private readonly walPath: string,
    private readonly datasync: (handle: FileHandle) => Promise<void> = (handle) => handle.datasync(),
  ) {}

  /** Resolves once an fdatasync of the WAL that began after this call has completed. */
  durable(): Promise<void> {
    return this.syncs.request();
  }

  /** The sync running now, if any (settles when it ends, successfully or not). */
  inFlight(): Promise<void> | undefined {
    return this.syncs.inFlight();
  }

  /** Waits for every sync asked for, then closes the descriptor. */
  async close(): Promise<void> {
    for (let running = this.syncs.inFlight(); running !== undefined; running = this.syncs.inFlight()) await running;
    await this.handle?.close();
    this.handle = undefined;
  }

  private async syncOnce(): Promise<void> {
    await this.datasync(await this.current());
  }

  private async current(): Promise<FileHandle> {
    if (this.handle !== undefined) {
      if (Date.now() - this.checkedAtMs < IDENTITY_CHECK_MS) return this.handle;
      const [held, named] = await Promise.all([this.handle.stat(), stat(this.walPath)]);
      this.checkedAtMs = Date.now();
      if (held.ino === named.ino && held.dev === named.dev) return this.handle;
      await this.handle.close();
      this.handle = undefined;
    }
    // Read-only is enough for fdatasync; the WAL exists once the first COMMIT has run.
    this.handle = await open(this.walPath, 'r');
    this.checkedAtMs = Date.now();
    return this.handle;
  }
}
