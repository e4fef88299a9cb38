import { describe, expect, it } from 'vitest';
import { ingestEvents, nestingDepth, prepareEvents, MAX_EVENT_DEPTH, type IngestTarget } from '../../src/runtime/ingest.js';
import type { Outcome, Transformer } from '../../src/compile/types.js';
import type { EnqueueOptions, IngestEvent, Queue } from '../../src/queue/types.js';
import { Metrics } from '../../src/metrics.js';
import { QueueUnavailableError } from '../../src/errors.js';
import { SqliteQueue } from '../../src/queue/sqlite.js';

const now = 1_732_700_000_000;

function deep(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

describe('nestingDepth', () => {
  it('counts levels without recursion, also for hostile depths', () => {
    expect(nestingDepth(1, 10)).toBe(0);
    expect(nestingDepth({}, 10)).toBe(1);
    expect(nestingDepth({ a: [1, { b: 2 }] }, 10)).toBe(3);
    // 200k levels would overflow a recursive walk; the limit stops counting early.
    expect(nestingDepth(deep(200_000), 40)).toBeGreaterThan(40);
  });
});

describe('prepareEvents (Amplitude validation)', () => {
  it('accepts valid events and normalizes them', () => {
    const r = prepareEvents([{ event_type: 'Sign Up', user_id: 'ann@example.com', unknown_field: 1 }], { shape: 'http', now });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.events[0]).toMatchObject({ event_type: 'Sign Up', user_id: 'ann@example.com', time: now });
      expect(r.events[0]).not.toHaveProperty('unknown_field');
    }
  });

  it('reports per-index missing and invalid fields like Amplitude', () => {
    const r = prepareEvents(
      [
        { event_type: 'ok', user_id: 'user-1' },
        { user_id: 'user-2' },
        { event_type: 'x', user_id: 'user-3', time: 'yesterday' },
        { event_type: 'y' },
      ],
      { shape: 'http', now },
    );
    expect(r).toEqual({
      ok: false,
      error: {
        code: 400,
        error: 'Request missing required field',
        events_with_missing_fields: { event_type: [1], user_id: [3], device_id: [3] },
        events_with_invalid_fields: { time: [2] },
      },
    });
  });

  it('says "Invalid field values on some events" when nothing is missing', () => {
    const r = prepareEvents([{ event_type: 'x', user_id: 'abc' }], { shape: 'http', now });
    expect(r).toEqual({ ok: false, error: { code: 400, error: 'Invalid field values on some events', events_with_invalid_fields: { user_id: [0] } } });
    // options.min_id_length lowers the bar
    expect(prepareEvents([{ event_type: 'x', user_id: 'abc' }], { shape: 'http', now, minIdLength: 3 }).ok).toBe(true);
  });

  it('rejects non-object events as invalid event JSON', () => {
    expect(prepareEvents([{ event_type: 'x', user_id: 'user-1' }, 'nope'], { shape: 'http', now })).toEqual({
      ok: false,
      error: { code: 400, error: 'Invalid event JSON' },
    });
  });

  it('rejects properties nested deeper than Amplitude allows, without recursing', () => {
    const r = prepareEvents([{ event_type: 'x', user_id: 'user-1', event_properties: deep(100_000) }], { shape: 'http', now });
    expect(r).toEqual({ ok: false, error: { code: 400, error: 'Invalid field values on some events', events_with_invalid_fields: { event_properties: [0] } } });
    expect(prepareEvents([{ event_type: 'x', user_id: 'user-1', event_properties: deep(MAX_EVENT_DEPTH - 2) }], { shape: 'http', now }).ok).toBe(true);
  });

  it('keeps __proto__ keys as plain data', () => {
    const raw = JSON.parse('{"event_type":"x","user_id":"user-1","event_properties":{"__proto__":{"polluted":true}},"__proto__":{"admin":true}}');
    const r = prepareEvents([raw], { shape: 'http', now });
    expect(r.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    if (r.ok) expect(Object.getPrototypeOf(r.events[0])).toBe(Object.prototype);
  });

  it('accepts Export-shape events with short Amplitude ids', () => {
    const r = prepareEvents(
      [{ event_type: 'Order Completed', user_id: '42', event_time: '2024-11-27 09:33:20.000000', $insert_id: 'exp-1', ip_address: '1.2.3.4' }],
      { shape: 'export', now },
    );
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.events[0]).toMatchObject({ user_id: '42', insert_id: 'exp-1', ip: '1.2.3.4', time: Date.UTC(2024, 10, 27, 9, 33, 20) });
  });
});

/** A queue that records enqueue calls (and can fail them). */
function recordingQueue(opts: { fail?: boolean } = {}) {
  const calls: Array<{ project: string; events: IngestEvent[]; options: EnqueueOptions }> = [];
  const queue = {
    driver: 'sqlite',
    async enqueue(project: string, events: IngestEvent[], options: EnqueueOptions) {
      if (opts.fail) throw new QueueUnavailableError('disk full');
      calls.push({ project, events, options });
      const seen = new Set<string>();
      let duplicates = 0;
      for (const e of events) {
        if (e.insertId && seen.has(e.insertId)) duplicates++;
        if (e.insertId) seen.add(e.insertId);
      }
      return { accepted: events.length - duplicates, duplicates, deliveries: events.reduce((n, e) => n + e.deliveries.length, 0) };
    },
  } as unknown as Queue;
  return { queue, calls };
}

function transformer(name: string, decide: (type: string) => Outcome, sync = true): Transformer {
  return {
    name,
    sync,
    transform(event) {
      const outcome = decide(event.event_type);
      return sync ? outcome : Promise.resolve(outcome);
    },
  };
}

const send = (name: string): Outcome => ({
  outcome: 'send',
  bodyJson: JSON.stringify({ event_name: name, event_time: 't', data: {} }),
  request: {
    method: 'POST',
    url: 'http://x/v6/async-events',
    path: '/v6/async-events',
    headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': 'x' },
    body: { event_name: name, event_time: 't', data: {} },
  },
});

describe('ingestEvents', () => {
  it('transforms for every destination and enqueues everything in ONE call, then wakes delivery', async () => {
    const { queue, calls } = recordingQueue();
    const metrics = new Metrics();
    const woken: string[][] = [];
    const target: IngestTarget = {
      queue,
      metrics,
      dedupWindowMs: 1000,
      wake: (d) => woken.push([...d]),
      transformers: [
        transformer('a', (t) => (t === 'buy' ? send(t) : { outcome: 'drop', reason: 'event_not_selected' })),
        transformer('b', (t) => send(t), false),
      ],
    };
    const events = [
      { event_type: 'buy', user_id: 'user-1', insert_id: 'i1', time: now },
      { event_type: 'view', user_id: 'user-1', time: now },
    ];
    const summary = await ingestEvents(target, 'web', events, { endpoint: 'httpapi', now });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.options).toEqual({ now, dedupWindowMs: 1000 });
    expect(calls[0]!.events.map((e) => [e.insertId, e.deliveries.map((d) => d.destination)])).toEqual([
      ['i1', ['a', 'b']],
      [null, ['b']],
    ]);
    expect(JSON.parse(calls[0]!.events[0]!.event)).toMatchObject({ event_type: 'buy' });
    expect(summary).toMatchObject({ events: 2, accepted: 2, deliveries: 3, dropped: { event_not_selected: 1 } });
    expect(woken).toEqual([['a', 'b']]);
    const dropped = await metrics.droppedEvents.get();
    expect(dropped.values).toEqual([expect.objectContaining({ labels: { destination: 'a', reason: 'event_not_selected' }, value: 1 })]);
    const ingested = await metrics.ingestedEvents.get();
    expect(ingested.values[0]).toMatchObject({ labels: { project: 'web', endpoint: 'httpapi' }, value: 2 });
  });

  it('counts a repeat as ingested only: its drops are not counted again (metrics and summary)', async () => {
    const queue = new SqliteQueue({ path: ':memory:' });
    await queue.open();
    try {
      const metrics = new Metrics();
      const target: IngestTarget = {
        queue,
        metrics,
        dedupWindowMs: 60_000,
        transformers: [
          transformer('a', (t) => (t === 'buy' ? send(t) : { outcome: 'drop', reason: 'event_not_selected' })),
          transformer('b', () => ({ outcome: 'drop', reason: 'no_identity' })),
        ],
      };
      const view = { event_type: 'view', user_id: 'user-1', insert_id: 'v1', time: now };
      const buy = { event_type: 'buy', user_id: 'user-1', insert_id: 'b1', time: now };
      await ingestEvents(target, 'web', [view, buy], { endpoint: 'batch', now });
      // The SDK resends the whole batch (its 200 was lost), plus a repeat inside the request and a new event.
      const again = await ingestEvents(target, 'web', [view, buy, buy, { ...view, insert_id: 'v2' }], { endpoint: 'batch', now: now + 1 });
      expect(again).toMatchObject({ accepted: 1, duplicates: 3, dropped: { event_not_selected: 1, no_identity: 1 } });
      const dropped = (await metrics.droppedEvents.get()).values.map((v) => [v.labels.destination, v.labels.reason, v.value]);
      expect(dropped.sort()).toEqual([
        ['a', 'event_not_selected', 2],
        ['b', 'no_identity', 3],
      ]);
      expect((await metrics.ingestedEvents.get()).values[0]).toMatchObject({ value: 6 });
    } finally {
      await queue.close();
    }
  });

  it('turns a throwing transformer into a mapping_error drop, not a failed request', async () => {
    const { queue, calls } = recordingQueue();
    const target: IngestTarget = {
      queue,
      dedupWindowMs: 0,
      transformers: [
        {
          name: 'boom',
          sync: true,
          transform() {
            throw new Error('bad');
          },
        },
      ],
    };
    const summary = await ingestEvents(target, 'web', [{ event_type: 'x', time: now }], { endpoint: 'replay', now });
    expect(summary.dropped).toEqual({ mapping_error: 1 });
    expect(calls[0]!.events[0]!.deliveries).toEqual([]);
  });

  it('disables de-duplication on request and counts nothing when the queue fails', async () => {
    const ok = recordingQueue();
    await ingestEvents({ queue: ok.queue, dedupWindowMs: 5000, transformers: [] }, 'web', [{ event_type: 'x', time: now }], {
      endpoint: 'dlq',
      now,
      dedup: false,
    });
    expect(ok.calls[0]!.options.dedupWindowMs).toBe(0);

    const failing = recordingQueue({ fail: true });
    const metrics = new Metrics();
    let woke = false;
    await expect(
      ingestEvents(
        { queue: failing.queue, metrics, dedupWindowMs: 0, transformers: [transformer('a', send)], wake: () => (woke = true) },
        'web',
        [{ event_type: 'x', time: now }],
        { endpoint: 'httpapi', now },
      ),
    ).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(woke).toBe(false);
    expect((await metrics.ingestedEvents.get()).values).toEqual([]);
  });
});
