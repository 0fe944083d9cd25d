/**
 * When the stores that share the data disk last did foreground work (a chunk put or get, a
 * metadata commit). The write cache copies chunks to the tier in the background only once this
 * has been quiet for a while: its copies' writes and journal commits slow every foreground sync
 * on the same disk (decision 0006). The composition root gives one instance to every store that
 * reports into it.
 */
export class DiskActivity {
  #lastMs = Number.NEGATIVE_INFINITY;

  /** Foreground work happened now. */
  note(): void {
    this.#lastMs = performance.now();
  }

  /** performance.now() of the last `note()`; -Infinity before the first. */
  get lastMs(): number {
    return this.#lastMs;
  }
}
