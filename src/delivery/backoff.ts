/**
 * Retry delays: exponential with full jitter (SPEC §6), never below `initial_backoff` and never
 * above `max_backoff`. Jitter spreads the retries of events that failed together (an outage),
 * so they do not come back as one burst.
 */

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay before the next attempt after `attempts` failed attempts (1 = the first failed):
 * uniform over [initial, min(max, initial · 2^attempts)]. `random` returns [0, 1) (injectable
 * for tests).
 */
export function backoffDelay(attempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const initial = Math.max(0, policy.initialMs);
  const max = Math.max(initial, policy.maxMs);
  // 2^attempts overflows to Infinity for huge counts; min() keeps it at max.
  const ceiling = Math.min(max, initial * 2 ** Math.max(1, Math.min(attempts, 60)));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(initial + r * (ceiling - initial));
}
