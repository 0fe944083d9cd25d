/** Time comes in through this interface so tests can control it; no module reads Date directly. */
export interface Clock {
  nowMs(): number;
  /** Nanoseconds since the Unix epoch, with sub-millisecond resolution. */
  nowNs(): bigint;
}

export function createSystemClock(): Clock {
  // Anchor the monotonic high-resolution clock to wall time once, so nanosecond times are both
  // fine-grained and close to the wall clock.
  const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return {
    nowMs: () => Date.now(),
    nowNs: () => offsetNs + process.hrtime.bigint(),
  };
}
