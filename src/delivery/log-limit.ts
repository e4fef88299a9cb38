/**
 * Rate limits for log lines that can repeat once per event: a destination whose every event
 * Extole rejects would otherwise write one warning per event (thousands a second), which buries
 * everything else in the log and costs the event loop more than the dead letter itself (pino,
 * its redaction and the write: about 15 µs a line on the 2-core VM). As Vector does for its own
 * logs: the first line of a kind is written, then at most one per interval, each saying how many
 * like it were held back since the last. The dead letters and the metrics keep every event.
 */

/** One kind of line's state: when it was last written and how many were held back since. */
interface LineState {
  writtenAt: number;
  heldBack: number;
}

/**
 * Kinds tracked at once. Keys carry Extole's error code, which a misbehaving proxy could vary
 * per answer: past this, kinds with nothing held back are forgotten, and a kind that finds no
 * room is written unlimited rather than grow the map.
 */
export const LOG_RATE_LIMIT_MAX_KINDS = 256;

/** Decides which repeated log lines to write: at most one per key per interval. */
export class LogRateLimit {
  private readonly lines = new Map<string, LineState>();

  /**
   * @param intervalMs the least time between two lines of one key
   * @param now the clock (the delivery clock, so tests can move it)
   */
  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * Whether to write a line of `key` now: the number of lines of that key held back since the
   * last one written (0 for the first), or undefined to hold this one back too.
   */
  admit(key: string): number | undefined {
    const now = this.now();
    const state = this.lines.get(key);
    if (state === undefined) {
      if (this.lines.size >= LOG_RATE_LIMIT_MAX_KINDS) {
        for (const [k, s] of this.lines) if (s.heldBack === 0) this.lines.delete(k);
        if (this.lines.size >= LOG_RATE_LIMIT_MAX_KINDS) return 0;
      }
      this.lines.set(key, { writtenAt: now, heldBack: 0 });
      return 0;
    }
    if (now - state.writtenAt < this.intervalMs) {
      state.heldBack++;
      return undefined;
    }
    const heldBack = state.heldBack;
    state.writtenAt = now;
    state.heldBack = 0;
    return heldBack;
  }

  /** The keys with lines held back since their last line, and how many; forgets them all (at shutdown). */
  drain(): [key: string, heldBack: number][] {
    const out: [string, number][] = [];
    for (const [key, state] of this.lines) if (state.heldBack > 0) out.push([key, state.heldBack]);
    this.lines.clear();
    return out;
  }
}
