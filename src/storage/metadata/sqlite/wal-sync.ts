import { open, stat, type FileHandle } from 'node:fs/promises';

/**
 * Makes the WAL durable off the event loop (docs/decisions/0001). The writer commits with
 * synchronous=NORMAL, which writes the WAL frames without an fsync; before a batch is
 * acknowledged, `durable()` waits for an fdatasync of the WAL file that started after the batch's
 * COMMIT, run in libuv's thread pool. Syncs coalesce: while one runs, every commit that asks
 * waits for the next, which then covers them all (the WAL is one file written in order, so one
 * fdatasync covers every frame written before it began).
 *
 * The WAL file keeps its inode while the store is open (SQLite truncates or rewrites it in place;
 * it removes it only when the last connection closes), but each sync still checks that the open
 * descriptor is the file at the path and reopens it if not, so a sync never lands on a stale file.
 */
export class WalSync {
  private handle: FileHandle | undefined;
  private running: Promise<void> | undefined;
  private waiting: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(
    private readonly walPath: string,
    private readonly datasync: (handle: FileHandle) => Promise<void> = (handle) => handle.datasync(),
  ) {}

  /** Resolves once an fdatasync of the WAL that began after this call has completed. */
  durable(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.syncOnce().finally(() => this.next());
      return this.running;
    }
    // A sync is running, maybe from before this caller's COMMIT: wait for the next one.
    if (this.waiting === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      this.waiting = { promise, resolve, reject };
    }
    return this.waiting.promise;
  }

  /** The sync running now, if any (settles when it ends, successfully or not). */
  inFlight(): Promise<void> | undefined {
    return this.running?.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Waits for every sync asked for, then closes the descriptor. */
  async close(): Promise<void> {
    while (this.running !== undefined) await this.running.catch(() => undefined);
    await this.handle?.close();
    this.handle = undefined;
  }

  private next(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting === undefined) {
      this.running = undefined;
      return;
    }
    this.running = this.syncOnce().finally(() => this.next());
    this.running.then(waiting.resolve, waiting.reject);
  }

  private async syncOnce(): Promise<void> {
    const handle = await this.current();
    await this.datasync(handle);
  }

  private async current(): Promise<FileHandle> {
    if (this.handle !== undefined) {
      const [held, named] = await Promise.all([this.handle.stat(), stat(this.walPath)]);
      if (held.ino === named.ino && held.dev === named.dev) return this.handle;
      await this.handle.close();
      this.handle = undefined;
    }
    // Read-only is enough for fdatasync; the WAL exists once the first COMMIT has run.
    this.handle = await open(this.walPath, 'r');
    return this.handle;
  }
}
