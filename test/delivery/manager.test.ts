/**
 * DeliveryManager against a real scripted Extole (HTTP on 127.0.0.1) and the real SQLite queue,
 * with an injected clock: one outcome of SPEC §6 per test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { answer, extoleError, harness, metricValue, TOKEN, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('DeliveryManager outcomes', () => {
  it('delivers on 2xx: completes the row, counts a first-attempt delivery, sends the SPEC headers', async () => {
    h = await harness({});
    h.manager.start();
    await h.enqueue(3);
    await h.driveUntil(async () => (await h!.queued()) === 0);

    expect(h.extole.requests).toHaveLength(3);
    const first = h.extole.requests[0]!;
    expect(first.path).toBe('/v6/async-events');
    expect(first.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers['user-agent']).toMatch(/^extole-stream\//);
    expect(JSON.parse(first.body)).toMatchObject({ event_name: 'order_completed' });
    expect(await metricValue(h.metrics.deliveredEvents, { destination: 'referrals', attempt: 'first' })).toBe(3);
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'retry' })).toBe(0);
    expect(await metricValue(h.metrics.deliveryRequests, { destination: 'referrals', status: '200' })).toBe(3);
    const latency = await h.metrics.deliveryLatency.get();
    expect(latency.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(3);
    const [status] = h.manager.status();
    expect(status).toMatchObject({ destination: 'referrals', paused: false, tokenAlarm: false, inFlight: 0 });
    expect(status!.counters).toMatchObject({ requests: 3, delivered: 3, deliveredFirstAttempt: 3 });
  });

  it.each([
    ['delta-seconds', (now: number) => '2', 2000],
    ['an HTTP-date', (now: number) => new Date(now + 5000).toUTCString(), 5000],
  ])('429 with Retry-After as %s pauses the whole destination, then delivers', async (_name, retryAfter, pauseMs) => {
    h = await harness({
      script: (req, i, res) => {
        if (i === 0) return answer(res, 429, extoleError(429, 'too_many_requests'), { 'retry-after': retryAfter(req.at) });
        answer(res, 200, { event_id: String(i) });
      },
      delivery: { concurrency: 1 },
    });
    h.manager.start();
    await h.enqueue(2);
    await h.driveUntil(() => h!.extole.requests.length >= 1);
    const pausedAt = h.extole.requests[0]!.at;
    const status = h.manager.status()[0]!;
    expect(status.paused).toBe(true);
    expect(status.pauseReason).toBe('retry_after');
    // HTTP-dates have whole seconds: the pause ends within the second before the named time.
    expect(status.pausedUntil).toBeGreaterThan(pausedAt + pauseMs - 1000);
    expect(status.pausedUntil).toBeLessThanOrEqual(pausedAt + pauseMs);

    await h.driveUntil(async () => (await h!.queued()) === 0);
    // Nothing at all was sent while the destination was paused: the second event waited too.
    expect(h.extole.requests).toHaveLength(3);
    for (const later of h.extole.requests.slice(1)) expect(later.at).toBeGreaterThanOrEqual(status.pausedUntil!);
    expect(h.manager.status()[0]!.paused).toBe(false);
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'retry' })).toBe(1);
    expect(await metricValue(h.metrics.deliveryRequests, { status: '429' })).toBe(1);
  });

  it('retries 500s with backoff and counts the delivery as attempt="retry"', async () => {
    h = await harness({
      script: (_req, i, res) => (i < 3 ? answer(res, 500, extoleError(500, 'server_error')) : answer(res, 200, { event_id: 'x' })),
    });
    h.manager.start();
    await h.enqueue(1);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.extole.requests).toHaveLength(4);
    // random() = 0.5 → backoff after attempt n is initial + 0.5·(min(max, initial·2^n) − initial).
    const gaps = h.extole.requests.slice(1).map((r, i) => r.at - h!.extole.requests[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(1500);
    expect(gaps[1]).toBeGreaterThanOrEqual(2500);
    expect(gaps[2]).toBeGreaterThanOrEqual(4500);
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'retry' })).toBe(1);
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'first' })).toBe(0);
    expect(await metricValue(h.metrics.deliveryRequests, { status: '500' })).toBe(3);
    expect(await h.queue.listDeadLetters()).toHaveLength(0);
  });

  it('retries a response that hangs past the timeout', async () => {
    h = await harness({
      script: (_req, i, res) => {
        if (i === 0) return; // never answers
        answer(res, 200, { event_id: 'x' });
      },
      delivery: { timeout: '150ms' },
    });
    h.manager.start();
    await h.enqueue(1);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.extole.requests).toHaveLength(2);
    expect(await metricValue(h.metrics.deliveryRequests, { status: 'error' })).toBe(1);
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'retry' })).toBe(1);
  });

  it('retries after a connection reset', async () => {
    h = await harness({
      script: (req, i, res) => {
        if (i === 0) return res.socket?.destroy();
        answer(res, 200, { event_id: 'x' });
      },
    });
    h.manager.start();
    await h.enqueue(1);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.extole.requests).toHaveLength(2);
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'retry' })).toBe(1);
  });

  it('dead-letters a 400 event_blocked as rejected, with the code, the redacted request and the revision', async () => {
    h = await harness({
      script: (_req, _i, res) => answer(res, 400, extoleError(400, 'event_blocked', 'Blocked due to client specific rules')),
    });
    h.manager.start();
    const [insertId] = await h.enqueue(1, { email: 'eve@blocked.example' });
    await h.driveUntil(async () => (await h!.queued()) === 0);
    const dead = await h.queue.listDeadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      destination: 'referrals',
      reason: 'rejected',
      httpStatus: 400,
      extoleCode: 'event_blocked',
      extoleMessage: 'Blocked due to client specific rules',
      attempts: 1,
      configRevision: 'rev-test-1',
      insertId,
    });
    const request = JSON.parse(dead[0]!.request);
    expect(request).toMatchObject({
      method: 'POST',
      url: `${h.extole.url}/v6/async-events`,
      headers: { authorization: 'Bearer ***', 'content-type': 'application/json' },
      body: { event_name: 'order_completed', data: { email: 'eve@blocked.example' } },
    });
    expect(JSON.stringify(dead)).not.toContain(TOKEN);
    expect(h.extole.requests).toHaveLength(1); // never retried
    expect(await metricValue(h.metrics.deadLetters, { destination: 'referrals', reason: 'rejected' })).toBe(1);
  });

  it('writes one dead-letter warning per kind per 10 s, then says how many it held back; every event is still a dead letter', async () => {
    h = await harness({
      script: (req, _i, res) =>
        req.body.includes('odd@')
          ? answer(res, 415, extoleError(415, 'unsupported'))
          : answer(res, 400, extoleError(400, 'event_blocked', 'Blocked due to client specific rules')),
    });
    const warnings = () =>
      h!.logLines.map((l) => JSON.parse(l) as { msg: string; status?: number; held_back?: number; kind?: string }).filter((l) => l.msg.includes('dead letter'));
    h.manager.start();
    await h.enqueue(6);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    await h.enqueue(1, { email: 'odd@example.com' });
    await h.driveUntil(async () => (await h!.queued()) === 0);
    // Six 400s and one 415: the first of each kind is written, the other five 400s held back.
    expect(warnings().map((w) => [w.status, w.held_back])).toEqual([
      [400, undefined],
      [415, undefined],
    ]);
    h.clock.advance(10_000);
    await h.enqueue(1);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(warnings().at(-1)).toMatchObject({ status: 400, held_back: 5, msg: 'Extole rejected an event: dead letter (rejected)' });
    await h.enqueue(2);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(warnings()).toHaveLength(3);
    await h.manager.stop();
    // At shutdown, what is still held back is reported once.
    expect(warnings().at(-1)).toMatchObject({ kind: 'rejected 400 event_blocked', held_back: 2 });
    expect(await h.queue.listDeadLetters()).toHaveLength(10);
    expect(await metricValue(h.metrics.deadLetters, { destination: 'referrals', reason: 'rejected' })).toBe(10);
  });

  it.each([402, 415, 501])('dead-letters %i as rejected', async (status) => {
    h = await harness({ script: (_req, _i, res) => answer(res, status, extoleError(status, `code_${status}`)) });
    h.manager.start();
    await h.enqueue(1);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    const dead = await h.queue.listDeadLetters();
    expect(dead.map((d) => [d.reason, d.httpStatus, d.extoleCode])).toEqual([['rejected', status, `code_${status}`]]);
  });

  it('401 pauses the destination on a token alarm, dead-letters nothing, probes every minute, and resumes', async () => {
    let tokenWorks = false;
    h = await harness({
      script: (_req, _i, res) =>
        tokenWorks ? answer(res, 200, { event_id: 'x' }) : answer(res, 401, extoleError(401, 'method_unauthorized')),
    });
    h.manager.start();
    await h.enqueue(3);
    await h.driveUntil(() => h!.extole.requests.length >= 1);
    const alarmAt = h.clock.now();
    let status = h.manager.status()[0]!;
    expect(status).toMatchObject({ paused: true, pauseReason: 'token_alarm', tokenAlarm: true });
    expect(status.pausedUntil).toBe(alarmAt + 60_000);
    expect(await metricValue(h.metrics.tokenAlarm, { destination: 'referrals' })).toBe(1);

    // Ten minutes of alarm: one probe a minute, one request at a time, nothing lost.
    await h.driveUntil(() => h!.clock.now() >= alarmAt + 10 * 60_000);
    const probes = h.extole.requests.filter((r) => r.at > alarmAt);
    expect(probes.length).toBeGreaterThanOrEqual(9);
    expect(probes.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < probes.length; i++) expect(probes[i]!.at - probes[i - 1]!.at).toBeGreaterThanOrEqual(60_000);
    expect(await h.queue.listDeadLetters()).toHaveLength(0);
    expect(await h.queued()).toBe(3);
    expect(h.manager.status()[0]!.counters.authFailures).toBe(h.extole.requests.length);

    tokenWorks = true;
    await h.driveUntil(async () => (await h!.queued()) === 0);
    status = h.manager.status()[0]!;
    expect(status).toMatchObject({ paused: false, tokenAlarm: false, pauseReason: null });
    expect(await metricValue(h.metrics.tokenAlarm, { destination: 'referrals' })).toBe(0);
    // Released without counting an attempt: each event still counts as delivered first time.
    expect(await metricValue(h.metrics.deliveredEvents, { attempt: 'first' })).toBe(3);
    expect(h.logLines.join('\n')).toContain('token alarm cleared');
  });

  it('403 with a new token from update() probes at once and clears the alarm', async () => {
    h = await harness({
      script: (req, _i, res) =>
        req.headers.authorization === 'Bearer new-token-42'
          ? answer(res, 200, { event_id: 'x' })
          : answer(res, 403, extoleError(403, 'access_denied')),
    });
    h.manager.start();
    await h.enqueue(1);
    await h.driveUntil(() => h!.manager.status()[0]!.tokenAlarm);
    const before = h.clock.now();
    h.manager.update([{ ...h.destination, accessToken: 'new-token-42' }], 'rev-test-2');
    await h.driveUntil(async () => (await h!.queued()) === 0);
    expect(h.clock.now()).toBeLessThan(before + 60_000);
    expect(h.manager.status()[0]!.tokenAlarm).toBe(false);
  });

  it('never writes the access token to logs or dead letters', async () => {
    h = await harness({
      script: (_req, i, res) => {
        if (i === 0) return answer(res, 401, extoleError(401, 'method_unauthorized'));
        if (i === 1) return res.socket?.destroy();
        if (i === 2) return answer(res, 503, extoleError(503, 'unavailable'));
        answer(res, 400, extoleError(400, 'missing_event_name'));
      },
      delivery: { concurrency: 1 },
    });
    h.manager.start();
    await h.enqueue(1);
    await h.driveUntil(async () => (await h!.queued()) === 0);
    const dead = await h.queue.listDeadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.extoleCode).toBe('missing_event_name');
    expect(h.logLines.length).toBeGreaterThan(3);
    expect(h.logLines.join('\n')).not.toContain(TOKEN);
    expect(JSON.stringify(dead)).not.toContain(TOKEN);
    expect(JSON.stringify(h.manager.status())).not.toContain(TOKEN);
  });
});
