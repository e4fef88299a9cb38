/** The small parts of delivery: backoff, rate limiter, adaptive concurrency, manual clock. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/delivery/backoff.js';
import { ManualClock, systemClock } from '../../src/delivery/clock.js';
import { AdaptiveConcurrency } from '../../src/delivery/concurrency.js';
import { RateLimiter } from '../../src/delivery/rate-limit.js';
import { LOG_RATE_LIMIT_MAX_KINDS, LogRateLimit } from '../../src/delivery/log-limit.js';

describe('backoffDelay (exponential, full jitter)', () => {
  const policy = { initialMs: 1000, maxMs: 30_000 };
  it('spans [initial, min(max, initial·2^attempts)]', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(1000);
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(2000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(4500);
    expect(backoffDelay(10, policy, () => 0.999999)).toBe(30_000);
    expect(backoffDelay(10_000, policy, () => 0.999999)).toBe(30_000);
  });
  it('stays within bounds for any attempt count and random value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempts, r) => {
        const d = backoffDelay(attempts, policy, () => r);
        return d >= 1000 && d <= 30_000;
      }),
    );
  });
});

describe('LogRateLimit (repeated log lines)', () => {
  it('writes the first line of a kind, holds the rest back for the interval, then counts them on the next', () => {
    let now = 0;
    const limit = new LogRateLimit(10_000, () => now);
    expect(limit.admit('a')).toBe(0);
    expect([limit.admit('a'), limit.admit('a'), limit.admit('b')]).toEqual([undefined, undefined, 0]);
    now = 9_999;
    expect(limit.admit('a')).toBeUndefined();
    now = 10_000;
    expect(limit.admit('a')).toBe(3);
    expect(limit.admit('a')).toBeUndefined();
    expect(limit.drain()).toEqual([['a', 1]]);
    // Drained: everything starts over.
    expect(limit.admit('a')).toBe(0);
  });

  it('stays bounded when every line is a new kind: kinds with nothing held back are forgotten first', () => {
    const limit = new LogRateLimit(10_000, () => 0);
    for (let i = 0; i < LOG_RATE_LIMIT_MAX_KINDS; i++) expect(limit.admit(`k${i}`)).toBe(0);
    limit.admit('k0'); // k0 now holds one back
    expect(limit.admit('new')).toBe(0);
    expect((limit as unknown as { lines: Map<string, unknown> }).lines.size).toBe(2);
    expect(limit.admit('k0')).toBeUndefined();
    expect(limit.drain()).toEqual([['k0', 2]]);
  });
});

describe('RateLimiter', () => {
  it('parses rate_limit strings', () => {
    expect(RateLimiter.fromConfig('100/1m')).toMatchObject({ count: 100, windowMs: 60_000 });
    expect(RateLimiter.fromConfig('10/s')).toMatchObject({ count: 10, windowMs: 1000 });
    expect(RateLimiter.fromConfig(undefined)).toBeUndefined();
  });
  it('allows N in any window, each token returning one window after it was spent', () => {
    const limiter = new RateLimiter(3, 1000);
    expect([limiter.tryTake(0), limiter.tryTake(100), limiter.tryTake(200), limiter.tryTake(300)]).toEqual([true, true, true, false]);
    expect(limiter.waitMs(300)).toBe(700);
    expect(limiter.available(999)).toBe(0);
    expect(limiter.available(1000)).toBe(1);
    expect(limiter.tryTake(1000)).toBe(true);
    expect(limiter.waitMs(1000)).toBe(100);
  });
  it('never lets more than N through in a sliding window (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }), (gaps) => {
        const limiter = new RateLimiter(5, 1000);
        const sent: number[] = [];
        let t = 0;
        for (const g of gaps) {
          t += g;
          if (limiter.tryTake(t)) sent.push(t);
        }
        return sent.every((s) => sent.filter((u) => u >= s && u < s + 1000).length <= 5);
      }),
    );
  });
});

describe('AdaptiveConcurrency (AIMD)', () => {
  it('halves once per burst, grows by one per round of successes, stays within [1, max]', () => {
    const c = new AdaptiveConcurrency(16);
    const epoch = c.epoch;
    expect(c.onThrottle(epoch)).toBe(true);
    expect(c.onThrottle(epoch)).toBe(false); // same burst
    expect(c.limit).toBe(8);
    for (let i = 0; i < 8; i++) c.onSuccess();
    expect(c.limit).toBe(9);
    for (let i = 0; i < 10; i++) c.onThrottle(c.epoch);
    expect(c.limit).toBe(1);
    for (let i = 0; i < 1000; i++) c.onSuccess();
    expect(c.limit).toBe(16);
  });
  it('follows a new maximum', () => {
    const c = new AdaptiveConcurrency(16);
    c.setMaximum(4);
    expect(c.limit).toBe(4);
    c.setMaximum(32);
    expect(c.limit).toBe(32);
    c.onThrottle(c.epoch);
    c.setMaximum(64);
    expect(c.limit).toBe(16);
  });
});

describe('clocks', () => {
  it('ManualClock wakes sleepers in deadline order as time advances; abort wakes early', async () => {
    const clock = new ManualClock(1000);
    const woke: string[] = [];
    const a = clock.sleep(500).then(() => woke.push('a'));
    const b = clock.sleep(100).then(() => woke.push('b'));
    const controller = new AbortController();
    const c = clock.sleep(10_000, controller.signal).then(() => woke.push('c'));
    expect(clock.pending).toBe(3);
    clock.advance(200);
    await b;
    expect(woke).toEqual(['b']);
    expect(clock.advanceToNext()).toBe(true);
    await a;
    expect(clock.now()).toBe(1500);
    controller.abort();
    await c;
    expect(woke).toEqual(['b', 'a', 'c']);
    expect(clock.pending).toBe(0);
    expect(clock.advanceToNext()).toBe(false);
  });
  it('systemClock.sleep resolves early on abort', async () => {
    const controller = new AbortController();
    const p = systemClock.sleep(60_000, controller.signal);
    controller.abort();
    await expect(p).resolves.toBeUndefined();
  });
});
