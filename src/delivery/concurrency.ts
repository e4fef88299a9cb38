/**
 * Adaptive concurrency (AIMD) under `delivery.concurrency` (SPEC §6): start at the maximum; a
 * 429 halves the limit (multiplicative decrease); each full round of successes — as many as the
 * current limit — adds one (additive increase), so it grows back slowly.
 *
 * One burst of throttled requests must cut once, not once per request: each request carries the
 * `epoch` it was sent in, and only a 429 from the current epoch cuts (and starts a new epoch).
 */
export class AdaptiveConcurrency {
  private max: number;
  private current: number;
  private successes = 0;
  private epochValue = 0;

  constructor(max: number, readonly min = 1) {
    this.max = Math.max(min, Math.floor(max));
    this.current = this.max;
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return this.current;
  }

  /** The upper bound (`delivery.concurrency`). */
  get maximum(): number {
    return this.max;
  }

  /** Pass this to `onThrottle` for a request sent now. */
  get epoch(): number {
    return this.epochValue;
  }

  /** A request succeeded. */
  onSuccess(): void {
    if (this.current >= this.max) return;
    this.successes++;
    if (this.successes >= this.current) {
      this.current++;
      this.successes = 0;
    }
  }

  /** A request sent in `sentInEpoch` was throttled (429). True when the limit was cut. */
  onThrottle(sentInEpoch: number): boolean {
    if (sentInEpoch !== this.epochValue) return false;
    this.epochValue++;
    this.successes = 0;
    const next = Math.max(this.min, Math.floor(this.current / 2));
    const cut = next < this.current;
    this.current = next;
    return cut;
  }

  /** New upper bound from a config reload; the current limit never exceeds it. */
  setMaximum(max: number): void {
    const wasAtMax = this.current >= this.max;
    this.max = Math.max(this.min, Math.floor(max));
    // Not throttled lately: take the new bound at once; otherwise keep growing back slowly.
    if (wasAtMax || this.current > this.max) this.current = this.max;
  }
}
