/**
 * DeliveryManager policies over (injected) time: expiry only after max_attempts AND max_age,
 * adaptive concurrency on 429, rate limits, reloads, stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { answer, extoleError, harness, metricValue, quiesce, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const HOUR = 3600_000;

describe('DeliveryManager policies', () => {
  it('a 4-hour outage: expires only once the event has had max_attempts AND is older than max_age', async () => {
    h = await harness({
      script: (_req, _i, res) => answer(res, 503, extoleError(503, 'service_unavailable', 'down for maintenance')),
      delivery: { retry: { max_attempts: 10, max_age: '4h', initial_backoff: '1m', max_backoff: '10m' } },
      manager: { idlePollMs: 60_000 },
    });
    h.manager.start();
    const start = h.clock.now();
    await h.enqueue(1);

    // Ten attempts come well before four hours; the event must still be queued then.
    await h.driveUntil(() => h!.extole.requests.length >= 10);
    expect(h.clock.now() - start).toBeLessThan(4 * HOUR);
    await h.driveUntil(() => h!.extole.requests.length >= 12);
    expect(await h.queue.listDeadLetters()).toHaveLength(0);
    expect(await h.queued()).toBe(1);

    await h.driveUntil(async () => (await h!.queued()) === 0, { maxSteps: 5000 });
    const dead = await h.queue.listDeadLetters();
    expect(dead).toHaveLength(1);
    const last = h.extole.requests.at(-1)!;
    expect(last.at - start).toBeGreaterThanOrEqual(4 * HOUR);
    // Every attempt before the last one happened before the event turned four hours old.
    expect(h.extole.requests.at(-2)!.at - start).toBeLessThan(4 * HOUR);
    expect(dead[0]).toMatchObject({
      reason: 'expired',
      httpStatus: 503,
      extoleCode: 'service_unavailable',
      extoleMessage: 'down for maintenance',
      attempts: h.extole.requests.length,
      firstAttemptAt: start,
      lastAttemptAt: last.at,
      configRevision: 'rev-test-1',
    });
    expect(await metricValue(h.metrics.deadLetters, { reason: 'expired' })).toBe(1);
  });

  it('past max_age but short of max_attempts: keeps retrying until the attempts are used up', async () => {
    h = await harness({
      script: (_req, _i, res) => res.socket?.destroy(),
      delivery: { retry: { max_attempts: 4, max_age: '1m', initial_backoff: '1h', max_backoff: '2h' } },
      manager: { idlePollMs: 10 * 60_000 },
    });
    h.manager.start();
    const start = h.clock.now();
    await h.enqueue(1);
    await h.driveUntil(() => h!.clock.now() - start > 2 * 60_000 && h!.extole.requests.length >= 2);
    expect(await h.queue.listDeadLetters()).toHaveLength(0);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.extole.requests).toHaveLength(4);
    const dead = await h.queue.listDeadLetters();
    expect(dead[0]).toMatchObject({ reason: 'expired', attempts: 4, httpStatus: null });
    expect(dead[0]!.extoleMessage).toMatch(/network error/);
  });

  it('cuts the adaptive concurrency on 429 and grows it back slowly', async () => {
    const held: ServerResponse[] = [];
    let throttle = true;
    let inFlightPeak = 0;
    let inFlightNow = 0;
    h = await harness({
      script: (_req, _i, res) => {
        inFlightNow++;
        inFlightPeak = Math.max(inFlightPeak, inFlightNow);
        res.on('finish', () => inFlightNow--);
        if (throttle) {
          // Hold the burst until all 8 arrive, then throttle them together.
          held.push(res);
          if (held.length === 8) for (const r of held.splice(0)) answer(r, 429, extoleError(429, 'too_many_requests'));
          return;
        }
        answer(res, 200, { event_id: 'x' });
      },
      delivery: { concurrency: 8, retry: { max_attempts: 10, max_age: '4h', initial_backoff: '1s', max_backoff: '1s' } },
    });
    h.manager.start();
    await h.enqueue(8);
    await h.driveUntil(() => h!.extole.requests.length >= 8);
    expect(inFlightPeak).toBe(8);
    // One burst of eight 429s is one congestion signal: one cut, 8 → 4.
    expect(h.manager.status()[0]!.concurrencyLimit).toBe(4);
    expect(await metricValue(h.metrics.concurrencyLimit, { destination: 'referrals' })).toBe(4);

    throttle = false;
    inFlightPeak = 0;
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(inFlightPeak).toBeLessThanOrEqual(4);
    // 8 successes at limit 4: +1 after 4, +1 after 5 more would need 9 → 5.
    const grown = h.manager.status()[0]!.concurrencyLimit;
    expect(grown).toBe(5);

    await h.enqueue(40);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.manager.status()[0]!.concurrencyLimit).toBe(8);
  });

  it('respects rate_limit: never more than N requests in any window of the injected clock', async () => {
    h = await harness({ delivery: { concurrency: 8, rate_limit: '5/1m' } });
    h.manager.start();
    await h.enqueue(17);
    await h.driveUntil(async () => (await h!.queued()) === 0, { maxSteps: 5000 });
    const times = h.extole.requests.map((r) => r.at);
    expect(times).toHaveLength(17);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(5);
    // 17 requests at 5 a minute need at least three more windows after the first.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3 * 60_000);
    // …and it does not dawdle: the first window is used in full.
    expect(times.filter((u) => u === times[0]).length).toBe(5);
  });

  it('wake() cuts an idle sleep short; a row enqueued without it waits for the poll', async () => {
    h = await harness({});
    h.manager.start();
    await quiesce(h.manager, h.clock);
    const row = (insertId: string) => ({
      insertId,
      event: '{}',
      deliveries: [{ destination: 'referrals', path: '/v6/events', body: '{"event_name":"a","event_time":"2024-01-01T00:00:00Z","data":{}}' }],
    });
    // No wake: the idle worker sleeps on the (manual) clock, which does not move.
    await h.queue.enqueue('web-prod', [row('quiet')], { now: h.clock.now(), dedupWindowMs: 0 });
    await new Promise((r) => setTimeout(r, 30));
    expect(h.extole.requests).toHaveLength(0);
    // wake() while it sleeps: sent with the clock still standing.
    h.manager.wake();
    await h.driveUntil(async () => h!.extole.requests.length === 1, { maxSteps: 1 });
    expect(h.extole.requests).toHaveLength(1);
    // Wakes while it is busy are harmless, and the next idle sleep is cut short too.
    await quiesce(h.manager, h.clock);
    await h.queue.enqueue('web-prod', [row('second')], { now: h.clock.now(), dedupWindowMs: 0 });
    h.manager.wake();
    h.manager.wake();
    await h.driveUntil(async () => h!.extole.requests.length === 2, { maxSteps: 1 });
    expect(h.extole.requests).toHaveLength(2);
  });

  it('update(): a removed destination stops (rows stay queued), a re-added one delivers them', async () => {
    h = await harness({});
    h.manager.start();
    h.manager.update([], 'rev-test-2');
    await quiesce(h.manager, h.clock);
    expect(h.manager.status()).toEqual([]);
    await h.queue.enqueue(
      'web-prod',
      [{ insertId: 'kept', event: '{}', deliveries: [{ destination: 'referrals', path: '/v6/events', body: '{"event_name":"a","event_time":"2024-01-01T00:00:00Z","data":{}}' }] }],
      { now: h.clock.now(), dedupWindowMs: 0 },
    );
    h.manager.wake();
    h.clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.extole.requests).toHaveLength(0);
    expect(await h.queued()).toBe(1);

    h.manager.update([{ ...h.destination, delivery: { ...h.destination.delivery, concurrency: 2 } }], 'rev-test-3');
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.extole.requests.map((r) => r.path)).toEqual(['/v6/events']);
    expect(h.manager.status()[0]!.maxConcurrency).toBe(2);
  });

  it('a destination without a token sends nothing and says so', async () => {
    h = await harness({ accessToken: '' });
    h.manager.start();
    await h.enqueue(1);
    await quiesce(h.manager, h.clock);
    h.clock.advance(120_000);
    await quiesce(h.manager, h.clock);
    expect(h.extole.requests).toHaveLength(0);
    expect(h.manager.status()[0]).toMatchObject({ paused: true, pauseReason: 'no_token' });
  });

  it('stop() releases requests still in flight at the deadline, without counting an attempt', async () => {
    h = await harness({
      script: () => {
        /* never answers */
      },
      delivery: { timeout: '60s' },
      manager: { stopTimeoutMs: 100 },
    });
    h.manager.start();
    await h.enqueue(2);
    for (let i = 0; i < 500 && h.extole.requests.length < 2; i++) await new Promise((r) => setTimeout(r, 2));
    expect(h.manager.status()[0]!.inFlight).toBe(2);
    await h.manager.stop();
    expect(h.manager.status()[0]!.inFlight).toBe(0);
    const claimed = await h.queue.claim('referrals', 10, h.clock.now(), 1000);
    expect(claimed).toHaveLength(2);
    expect(claimed.map((c) => c.attempts)).toEqual([0, 0]);
    expect(await h.queue.listDeadLetters()).toHaveLength(0);
  });
});
