/**
 * One fsync target (a directory, the metadata WAL) synced on request, with requests coalesced: each caller waits
 * for a sync that began after it asked, and every caller that asks while a sync runs shares the
 * next one. Sound because an fsync of a directory makes durable every entry linked into it before
 * the fsync began, so one sync serves all the links made while the previous one ran.
 */
export class CoalescedSync {
  private running: Promise<void> | undefined;
  private waiting: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;

  /** `onIdle` runs when no sync runs or waits (the owner may forget this instance then). */
  constructor(
    private readonly sync: () => Promise<void>,
    private readonly onIdle: () => void = () => undefined,
  ) {}

  /** Resolves once a sync that began after this call has completed; rejects with its error. */
  request(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.start();
      return this.running;
    }
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

  /** The sync running now, if any; settles when it ends, whether it succeeded or not. */
  inFlight(): Promise<void> | undefined {
    return this.running?.then(
      () => undefined,
      () => undefined,
    );
  }

  private start(): Promise<void> {
    return this.sync().finally(() => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting === undefined) {
        this.running = undefined;
        this.onIdle();
        return;
      }
      this.running = this.start();
      this.running.then(waiting.resolve, waiting.reject);
    });
  }
}
