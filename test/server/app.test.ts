import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createQueue } from '../../src/queue/index.js';
import type { Queue } from '../../src/queue/types.js';
import { QueueUnavailableError } from '../../src/errors.js';
import { isLoopback } from '../../src/server/auth.js';
import {
  ADMIN_TOKEN,
  EXTOLE_TOKEN,
  IOS_KEY,
  WEB_KEY,
  makeConfigDir,
  post,
  queuedRows,
  referralsYaml,
  removeDir,
  startFakeExtole,
  startServer,
  waitFor,
  type FakeExtole,
  type RunningServer,
} from './helpers.js';

const event = (i: number, extra: Record<string, unknown> = {}) => ({
  event_type: 'Order Completed',
  user_id: `user${i}@example.com`,
  insert_id: `ins-${i}-${Math.random()}`,
  time: 1_732_700_000_000,
  event_properties: { revenue: i },
  ...extra,
});

describe('ingestion without delivery (what gets enqueued)', () => {
  let s: RunningServer;
  let controlledQueue: { broken: boolean; gate: Promise<void> | null; entered: (() => void) | null };

  beforeAll(async () => {
    const dir = makeConfigDir({ server: ['limits: { httpapi_bytes: 20KB, batch_bytes: 20MB, events_per_request: 2000 }'] });
    controlledQueue = { broken: false, gate: null, entered: null };
    const control = controlledQueue;
    s = await startServer(dir, {
      delivery: false,
      queueFactory: (loaded) => {
        const real = createQueue(loaded);
        return new Proxy(real, {
          get(target, prop, receiver) {
            if (prop === 'enqueue') {
              return async (...args: Parameters<Queue['enqueue']>) => {
                control.entered?.();
                if (control.gate) await control.gate;
                if (control.broken) throw new QueueUnavailableError('SQLite queue: enqueue failed (SQLITE_FULL): disk full');
                return target.enqueue(...args);
              };
            }
            const v = Reflect.get(target, prop, receiver) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    });
  });
  afterAll(async () => {
    await s.close();
    removeDir(s.dir);
  });

  it('answers 200 with Amplitude\'s summary and enqueues the transformer\'s body', async () => {
    const before = await queuedRows(s.runtime);
    const e = event(1);
    const res = await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [e] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      code: 200,
      events_ingested: 1,
      payload_size_bytes: expect.any(Number),
      server_upload_time: expect.any(Number),
    });
    expect(await queuedRows(s.runtime)).toBe(before + 1);
    const [row] = await s.runtime.queue.claim('referrals', 100, Date.now(), 60_000);
    expect(row!.path).toBe('/v6/async-events');
    expect(JSON.parse(row!.body)).toEqual({
      event_name: 'Order Completed',
      event_time: '2024-11-27T09:33:20.000Z',
      data: { revenue: 1, partner_conversion_id: e.insert_id, extole_app_type: 'extole-stream', email: 'user1@example.com' },
    });
    await s.runtime.queue.release([row!]);
  });

  const bad: Array<[string, () => Promise<{ status: number; body: Record<string, unknown> }>, number, Record<string, unknown>]> = [
    ['invalid JSON', () => post(`${s.url}/2/httpapi`, '{"api_key": "x", "events": ['), 400, { code: 400, error: 'Invalid JSON request body' }],
    ['an empty body', () => post(`${s.url}/2/httpapi`, ''), 400, { code: 400, error: 'Missing request body' }],
    ['a JSON array body', () => post(`${s.url}/2/httpapi`, '[1,2]'), 400, { code: 400, error: 'Invalid JSON request body' }],
    [
      'a wrong content type',
      () => post(`${s.url}/2/httpapi`, `api_key=${WEB_KEY}&event=x`, { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      { code: 415 },
    ],
    ['a missing api_key', () => post(`${s.url}/2/httpapi`, { events: [event(2)] }), 400, { code: 400, error: 'Request missing required field', missing_field: 'api_key' }],
    ['an unknown api_key', () => post(`${s.url}/2/httpapi`, { api_key: 'nope-nope-nope', events: [event(2)] }), 400, { code: 400, error: 'Invalid API key' }],
    ['no events', () => post(`${s.url}/2/httpapi`, { api_key: WEB_KEY }), 400, { code: 400, error: 'Request missing required field', missing_field: 'events' }],
    ['an empty events array', () => post(`${s.url}/batch`, { api_key: WEB_KEY, events: [] }), 400, { code: 400, missing_field: 'events' }],
    [
      'an api_key only under __proto__',
      () => post(`${s.url}/2/httpapi`, `{"__proto__": {"api_key": "${WEB_KEY}"}, "events": [{"event_type": "x", "user_id": "user-1"}]}`),
      400,
      { code: 400, missing_field: 'api_key' },
    ],
    [
      'events missing fields',
      () => post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [event(3), { user_id: 'user-4' }, { event_type: 'x' }] }),
      400,
      {
        code: 400,
        error: 'Request missing required field',
        events_with_missing_fields: { event_type: [1], user_id: [2], device_id: [2] },
      },
    ],
    [
      'a body over the byte limit',
      () => post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [event(5, { event_properties: { blob: 'x'.repeat(30_000) } })] }),
      413,
      { code: 413, error: 'Payload too large' },
    ],
    [
      'a gzip bomb',
      () => post(`${s.url}/2/httpapi`, gzipSync(Buffer.alloc(30_000_000, ' ')), { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
      413,
      { code: 413, error: 'Payload too large' },
    ],
    [
      '2001 events',
      () => post(`${s.url}/batch`, { api_key: WEB_KEY, events: Array.from({ length: 2001 }, (_, i) => event(i)) }),
      413,
      { code: 413, error: 'Payload too large' },
    ],
    [
      'properties nested 50,000 levels deep',
      () =>
        post(
          `${s.url}/batch`,
          `{"api_key":"${WEB_KEY}","events":[{"event_type":"x","user_id":"user-1","event_properties":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}]}`,
        ),
      400,
      { code: 400, error: 'Invalid field values on some events', events_with_invalid_fields: { event_properties: [0] } },
    ],
    ['a body nested 500,000 levels deep', () => post(`${s.url}/batch`, `${'['.repeat(500_000)}${']'.repeat(500_000)}`), 400, { code: 400, error: 'Invalid JSON request body' }],
    ['an unknown path', () => post(`${s.url}/2/nope`, { api_key: WEB_KEY, events: [event(6)] }), 404, { code: 404, error: 'Invalid request path' }],
  ];

  it.each(bad)('rejects %s with the right answer, enqueues nothing and keeps serving', async (_name, send, status, body) => {
    const before = await queuedRows(s.runtime);
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject(body);
    expect(res.body.code).toBe(status);
    expect(await queuedRows(s.runtime)).toBe(before);
    const ok = await post(`${s.url}/2/httpapi`, { api_key: IOS_KEY, events: [event(7)] });
    expect(ok.status).toBe(200);
  });

  it('answers 405 as JSON for a known path with the wrong method', async () => {
    const res = await fetch(`${s.url}/2/httpapi`);
    expect(res.status).toBe(405);
    expect(await res.json()).toEqual({ code: 405, error: 'Method not allowed' });
  });

  it('accepts gzip bodies, text/plain beacons and options.min_id_length', async () => {
    const gz = await post(`${s.url}/2/httpapi`, gzipSync(JSON.stringify({ api_key: WEB_KEY, events: [event(8)] })), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(gz).toMatchObject({ status: 200, body: { events_ingested: 1 } });
    const beacon = await post(`${s.url}/2/httpapi`, JSON.stringify({ api_key: WEB_KEY, events: [event(9)] }), { 'content-type': 'text/plain;charset=UTF-8' });
    expect(beacon.status).toBe(200);
    const short = { event_type: 'x', user_id: 'ab' };
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [short] })).body).toMatchObject({ events_with_invalid_fields: { user_id: [0] } });
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [short], options: { min_id_length: 2 } })).status).toBe(200);
  });

  it('keeps __proto__ keys in events as data, never on a prototype', async () => {
    const raw = `{"api_key":"${WEB_KEY}","events":[{"event_type":"Proto","user_id":"proto@example.com","__proto__":{"polluted":1},"event_properties":{"__proto__":{"polluted":2},"constructor":{"prototype":{"polluted":3}}}}]}`;
    const res = await post(`${s.url}/2/httpapi`, raw);
    expect(res.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const rows = await s.runtime.queue.claim('referrals', 1000, Date.now(), 60_000);
    const row = rows.find((r) => JSON.parse(r.event!).event_type === 'Proto')!;
    await s.runtime.queue.release(rows);
    const stored = JSON.parse(row.event!) as Record<string, unknown>;
    expect(Object.getPrototypeOf(stored.event_properties)).toBe(Object.prototype);
    expect((stored.event_properties as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('counts a repeated insert_id as ingested but enqueues it once', async () => {
    const e = event(10);
    const before = await queuedRows(s.runtime);
    const first = await post(`${s.url}/batch`, { api_key: WEB_KEY, events: [e] });
    const second = await post(`${s.url}/batch`, { api_key: WEB_KEY, events: [e, e] });
    expect(first.body.events_ingested).toBe(1);
    expect(second).toMatchObject({ status: 200, body: { code: 200, events_ingested: 2 } });
    expect(await queuedRows(s.runtime)).toBe(before + 1);
    // Another project has its own insert_id space.
    await post(`${s.url}/batch`, { api_key: IOS_KEY, events: [e] });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/extole_stream_ingested_events_total\{project="web",endpoint="batch"\} [3-9]/);
  });

  it('answers 200 only after the queue committed', async () => {
    let release!: () => void;
    let entered!: () => void;
    const inEnqueue = new Promise<void>((r) => (entered = r));
    controlledQueue.gate = new Promise<void>((r) => (release = r));
    controlledQueue.entered = entered;
    let answered = false;
    const pending = post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [event(11)] }).then((r) => {
      answered = true;
      return r;
    });
    await inEnqueue;
    // The commit is blocked: the sender must not have an answer yet.
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    controlledQueue.gate = null;
    controlledQueue.entered = null;
    release();
    expect((await pending).status).toBe(200);
  });

  it('answers 503 when the queue cannot take events, and readyz says so until it recovers', async () => {
    controlledQueue.broken = true;
    const res = await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [event(12)] });
    expect(res).toMatchObject({ status: 503, body: { code: 503 } });
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ code: 503 });
    controlledQueue.broken = false;
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [event(13)] })).status).toBe(200);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    expect(s.logs.text).toContain('queue cannot take events');
  });

  it('answers CORS preflights for ingestion only', async () => {
    const pre = await fetch(`${s.url}/2/httpapi`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const status = await fetch(`${s.url}/status`, { headers: { origin: 'https://evil.example' } });
    expect(status.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('a closed queue', () => {
  it('answers 503 (and readyz 503) instead of pretending to accept', async () => {
    const dir = makeConfigDir();
    const s = await startServer(dir, { delivery: false });
    try {
      await s.runtime.queue.close();
      const res = await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [event(1)] });
      expect(res).toMatchObject({ status: 503, body: { code: 503 } });
      expect((await fetch(`${s.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
      removeDir(dir);
    }
  });
});

describe('webhook, admin endpoints, reload (with delivery)', () => {
  let fake: FakeExtole;
  let s: RunningServer;

  beforeAll(async () => {
    fake = await startFakeExtole();
    const dir = makeConfigDir({ baseUrl: fake.url, adminToken: true });
    s = await startServer(dir);
  });
  afterAll(async () => {
    await s.close();
    await fake.close();
    removeDir(s.dir);
  });

  it('takes Amplitude Webhook events with the project\'s key as bearer token', async () => {
    const exportEvent = {
      event_type: 'Sign Up',
      user_id: 'hook@example.com',
      event_time: '2024-11-27 09:33:20.123000',
      $insert_id: 'hook-1',
      event_properties: { plan: 'pro' },
    };
    const url = `${s.url}/webhook/web`;
    expect((await post(url, exportEvent)).status).toBe(401);
    expect((await post(url, exportEvent, { 'content-type': 'application/json', authorization: `Bearer ${IOS_KEY}` })).status).toBe(401);
    expect((await post(`${s.url}/webhook/nope`, exportEvent, { 'content-type': 'application/json', authorization: `Bearer ${WEB_KEY}` })).status).toBe(401);
    const ok = await post(url, [exportEvent, { ...exportEvent, $insert_id: 'hook-2' }], {
      'content-type': 'application/json',
      authorization: `Bearer ${WEB_KEY}`,
    });
    expect(ok).toMatchObject({ status: 200, body: { code: 200, events_ingested: 2 } });
    await waitFor(() => fake.bodies.filter((b) => (b.data as Record<string, unknown>).email === 'hook@example.com').length === 2, 10_000, 'webhook deliveries');
    expect(fake.bodies.find((b) => (b.data as Record<string, unknown>).partner_conversion_id === 'hook-1')).toEqual({
      event_name: 'Sign Up',
      event_time: '2024-11-27T09:33:20.123Z',
      data: { plan: 'pro', partner_conversion_id: 'hook-1', extole_app_type: 'extole-stream', email: 'hook@example.com' },
    });
    expect(fake.authorizations.every((a) => a === `Bearer ${EXTOLE_TOKEN}`)).toBe(true);
    // The two insert_ids are in the server's de-duplication index, and /metrics says so.
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(Number(/^extole_stream_dedup_index_keys (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/^extole_stream_dedup_index_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1024 * 16);
    // And /status (admin).
    const status = (await (await fetch(`${s.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { queue: { dedup_index: { keys: number; bytes: number } } };
    expect(status.queue.dedup_index.keys).toBeGreaterThanOrEqual(2);
    expect(status.queue.dedup_index.bytes).toBeGreaterThanOrEqual(1024 * 16);
  });

  it('serves healthz, readyz and metrics', async () => {
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ code: 200, status: 'ok' });
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain('extole_stream_queue_depth{destination="referrals"}');
    expect(metrics).toMatch(/extole_stream_config_info\{revision="[^"]+"\} 1/);
    expect(metrics).toContain('extole_stream_delivered_events_total');
  });

  it('guards /status and /-/reload with the admin token and shows no secret', async () => {
    expect((await fetch(`${s.url}/status`)).status).toBe(401);
    expect((await fetch(`${s.url}/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await post(`${s.url}/-/reload`, '')).status).toBe(401);
    const res = await fetch(`${s.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const status = JSON.parse(text) as Record<string, unknown>;
    expect(status).toMatchObject({
      code: 200,
      version: expect.any(String),
      config: { revision: expect.any(String) },
      destinations: [{ name: 'referrals', enabled: true, projects: ['web'], endpoint: 'async-events', base_url: fake.url }],
      queue: { driver: 'sqlite', open: true },
    });
    expect(status.delivery).toEqual([expect.objectContaining({ destination: 'referrals' })]);
    for (const secret of [WEB_KEY, IOS_KEY, EXTOLE_TOKEN, ADMIN_TOKEN]) expect(text).not.toContain(secret);
  });

  it('keeps delivering with the old config when a reload brings a broken one, and swaps in a good one', async () => {
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` };
    const file = path.join(s.dir, 'destinations', 'referrals.yaml');
    const oldRevision = s.runtime.active.revision;
    writeFileSync(file, referralsYaml(fake.url).replace('events:\n  - type: "*"', 'events:\n  - type: "*"\n    where: "$$$ broken ("'));
    const rejected = await post(`${s.url}/-/reload`, '', auth);
    expect(rejected.status).toBe(422);
    expect(rejected.body).toMatchObject({ code: 422, ok: false, revision: oldRevision });
    expect((rejected.body.errors as string[]).join('\n')).toMatch(/referrals\.yaml/);
    // Still delivering with the old mapping.
    const e1 = event(100, { user_id: 'old@example.com' });
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [e1] })).status).toBe(200);
    await waitFor(() => fake.bodies.some((b) => (b.data as Record<string, unknown>).email === 'old@example.com'), 10_000, 'delivery with the old config');
    const statusAfterReject = (await (await fetch(`${s.url}/status`, { headers: auth })).json()) as Record<string, unknown>;
    expect(statusAfterReject.last_reload).toMatchObject({ ok: false });

    // A good config with a new event name mapping: swapped in.
    writeFileSync(file, referralsYaml(fake.url).replace('mapping:\n', 'mapping:\n  event_name: "\'renamed\'"\n'));
    const applied = await post(`${s.url}/-/reload`, '', auth);
    expect(applied).toMatchObject({ status: 200, body: { code: 200, ok: true } });
    expect(applied.body.revision).not.toBe(oldRevision);
    const e2 = event(101, { user_id: 'new@example.com' });
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [e2] })).status).toBe(200);
    await waitFor(() => fake.bodies.some((b) => (b.data as Record<string, unknown>).email === 'new@example.com'), 10_000, 'delivery with the new config');
    expect(fake.bodies.find((b) => (b.data as Record<string, unknown>).email === 'new@example.com')!.event_name).toBe('renamed');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain(`extole_stream_config_info{revision="${String(applied.body.revision)}"} 1`);
    expect(metrics).not.toContain(`extole_stream_config_info{revision="${oldRevision}"}`);
  });

  it('never writes a secret to the logs', () => {
    expect(s.logs.text.length).toBeGreaterThan(0);
    for (const secret of [WEB_KEY, IOS_KEY, EXTOLE_TOKEN, ADMIN_TOKEN]) expect(s.logs.text).not.toContain(secret);
  });
});

describe('isLoopback', () => {
  it('knows loopback peers', () => {
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.1.2.3'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '', undefined, '128.0.0.1'].some((a) => isLoopback(a))).toBe(false);
  });
});
