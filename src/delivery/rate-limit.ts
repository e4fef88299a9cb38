/**
 * `delivery.rate_limit` ("N/window", e.g. `100/1m`): at most N requests in ANY window of that
 * length. It is a token bucket of N tokens in which each spent token comes back exactly one
 * window after it was spent. (A bucket that refills continuously would let up to 2N through in
 * one window — an initial burst plus the refill — and break a limit such as Extole's documented
 * 100 requests/min per token.) Memory is one timestamp per token.
 */
import { parseRateLimit } from '../config/units.js';

export class RateLimiter {
  readonly count: number;
  readonly windowMs: number;
  /** When each spent token comes back, oldest first (a ring of `count` slots). */
  private readonly returns: Float64Array;
  private head = 0;
  private size = 0;

  constructor(count: number, windowMs: number) {
    if (!(count >= 1) || !(windowMs > 0)) throw new RangeError(`invalid rate limit ${count}/${windowMs}ms`);
    this.count = Math.floor(count);
    this.windowMs = windowMs;
    this.returns = new Float64Array(this.count);
  }

  /** A limiter for a `rate_limit` string, or undefined when there is none (or it does not parse). */
  static fromConfig(text: string | undefined): RateLimiter | undefined {
    if (!text) return undefined;
    const parsed = parseRateLimit(text);
    return parsed ? new RateLimiter(parsed.count, parsed.windowMs) : undefined;
  }

  private expire(now: number): void {
    while (this.size > 0 && this.returns[this.head]! <= now) {
      this.head = (this.head + 1) % this.count;
      this.size--;
    }
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.expire(now);
    return this.count - this.size;
  }

  /** ms until a token is available (0 = now). */
  waitMs(now: number): number {
    this.expire(now);
    return this.size < this.count ? 0 : Math.max(0, this.returns[this.head]! - now);
  }

  /** Spend one token at `now`. False (nothing spent) when none is available. */
  tryTake(now: number): boolean {
    this.expire(now);
    if (this.size >= this.count) return false;
    this.returns[(this.head + this.size) % this.count] = now + this.windowMs;
    this.size++;
    return true;
  }
}
