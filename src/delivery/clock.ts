/**
 * Time for delivery: backoff schedules, pauses, rate limits, lease times and ages all read the
 * clock through this interface, so tests (and simulations) can run hours of retries in
 * milliseconds with `ManualClock`.
 */

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolve after `ms`, or early (never rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * A clock that moves only when told to (`advance`, `advanceTo`, `advanceToNext`). Sleepers wake
 * in deadline order as time passes them. For tests and simulations.
 */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];
  private seq = 0;

  constructor(start = Date.parse('2024-11-27T09:00:00.000Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper: Sleeper = { at: this.current + Math.max(0, ms), seq: this.seq++, resolve, signal };
      if (signal) {
        sleeper.onAbort = () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          resolve();
        };
        signal.addEventListener('abort', sleeper.onAbort, { once: true });
      }
      this.sleepers.push(sleeper);
      // A zero sleep still yields: it resolves on the next advance or right away here.
      if (ms <= 0) this.fire();
    });
  }

  /** Sleepers currently waiting. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** Deadline of the earliest sleeper, or undefined. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const s of this.sleepers) if (next === undefined || s.at < next) next = s.at;
    return next;
  }

  /** Move time forward by `ms`, waking every sleeper whose deadline has come. */
  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  /** Move time to `at` (never backwards). */
  advanceTo(at: number): void {
    if (at > this.current) this.current = at;
    this.fire();
  }

  /** Jump to the earliest sleeper's deadline and wake it (and any due with it). False when none sleep. */
  advanceToNext(): boolean {
    const next = this.nextDeadline();
    if (next === undefined) return false;
    this.advanceTo(next);
    return true;
  }

  private fire(): void {
    const due = this.sleepers.filter((s) => s.at <= this.current).sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (due.length === 0) return;
    this.sleepers = this.sleepers.filter((s) => s.at > this.current);
    for (const s of due) {
      if (s.signal && s.onAbort) s.signal.removeEventListener('abort', s.onAbort);
      s.resolve();
    }
  }
}
