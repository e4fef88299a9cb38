/**
 * `GET /events/live`: a real HTTP client reads the Server-Sent Events stream while events are
 * ingested and delivered; admin token, filters, no secrets, bounded buffers, shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { Metrics } from '../../src/metrics.js';
import { SqliteQueue } from '../../src/queue/sqlite.js';
import { ingestEvents } from '../../src/runtime/ingest.js';
import { LiveHub, parseLiveQuery, type LiveRecord, type LiveTap } from '../../src/runtime/live.js';
import type { Outcome, Transformer } from '../../src/compile/types.js';
import type { AmplitudeEvent } from '../../src/generated/amplitude-event.js';
import {
  ADMIN_TOKEN,
  EXTOLE_TOKEN,
  IOS_KEY,
  WEB_KEY,
  makeConfigDir,
  post,
  referralsYaml,
  removeDir,
  startFakeExtole,
  startServer,
  waitFor,
  type FakeExtole,
  type RunningServer,
} from './helpers.js';

/** A live-view client on a real socket: parsed `data:` records and named events as they arrive. */
interface LiveClient {
  status: number;
  contentType: string;
  records: Array<Record<string, unknown>>;
  events: Array<{ event: string; data: string }>;
  text(): string;
  ended: Promise<void>;
  close(): void;
}

function openLive(url: string, query = '', token: string | undefined = ADMIN_TOKEN): Promise<LiveClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const req = httpRequest(`${url}/events/live${query}`, { headers });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      let raw = '';
      let buffer = '';
      let endedResolve: () => void = () => {};
      const client: LiveClient = {
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type']),
        records: [],
        events: [],
        text: () => raw,
        ended: new Promise<void>((r) => (endedResolve = r)),
        close: () => req.destroy(),
      };
      res.on('end', () => endedResolve());
      res.on('close', () => endedResolve());
      let greeted = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of message.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length === 0) {
            // The greeting comment: subscribed from here on.
            if (!greeted) {
              greeted = true;
              resolve(client);
            }
            continue;
          }
          if (event === 'message') client.records.push(JSON.parse(data.join('\n')) as Record<string, unknown>);
          else client.events.push({ event, data: data.join('\n') });
        }
      });
      if (client.status !== 200) {
        res.on('end', () => resolve(client));
      }
    });
    req.end();
  });
}

const signupsYaml = (baseUrl: string): string => `name: signups
projects: [web]
extole:
  access_token: \${env:TEST_EXTOLE_TOKEN}
  base_url: ${baseUrl}
events:
  - type: Sign Up
identity:
  email: user_id
`;

const orderEvent = (insertId: string, email = 'ann@example.com') => ({
  event_type: 'Order Completed',
  user_id: email,
  insert_id: insertId,
  time: 1_732_700_000_000,
  event_properties: { revenue: 42 },
});

describe('GET /events/live on a running server', () => {
  let extole: FakeExtole;
  let s: RunningServer;

  beforeAll(async () => {
    extole = await startFakeExtole();
    const dir = makeConfigDir({
      adminToken: true,
      destinations: { referrals: referralsYaml(extole.url), signups: signupsYaml(extole.url) },
    });
    s = await startServer(dir);
  });
  afterAll(async () => {
    await s.close();
    await extole.close();
    removeDir(s.dir);
  });

  it('needs the admin token and rejects unknown outcomes', async () => {
    const none = await fetch(`${s.url}/events/live`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 401 });
    const wrong = await fetch(`${s.url}/events/live`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    await wrong.text();
    const bad = await fetch(`${s.url}/events/live?outcome=sent`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('unknown outcome "sent"');
    const post405 = await fetch(`${s.url}/events/live`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(post405.status).toBe(405);
    await post405.text();
    // Costs nothing when nobody listens: no viewer is left behind by the refused requests.
    expect(s.runtime.live.listening).toBe(false);
  });

  it('streams each event × destination decision, delivery results and duplicates, without secrets or event data', async () => {
    const live = await openLive(s.url);
    expect(live.status).toBe(200);
    expect(live.contentType).toContain('text/event-stream');
    expect(s.runtime.live.stats().viewers).toBe(1);

    const insertId = `live-${Math.random()}`;
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [orderEvent(insertId)] })).status).toBe(200);
    // All three lines: delivery may claim the row once it is committed, before the fsync that the
    // ingest lines (and the 200) wait for, so the delivered line can arrive first.
    await waitFor(
      () =>
        live.records.filter((r) => r.insert_id === insertId && (r.outcome === 'delivered' || (r.stage === 'ingest' && (r.outcome === 'send' || r.outcome === 'drop'))))
          .length >= 3,
      10_000,
      'the ingest and delivered records',
    );

    const mine = live.records.filter((r) => r.insert_id === insertId);
    expect(mine).toContainEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      stage: 'ingest',
      project: 'web',
      endpoint: 'httpapi',
      insert_id: insertId,
      event_type: 'Order Completed',
      destination: 'referrals',
      outcome: 'send',
    });
    expect(mine).toContainEqual(
      expect.objectContaining({ stage: 'ingest', destination: 'signups', outcome: 'drop', reason: 'event_not_selected' }),
    );
    expect(mine).toContainEqual(
      expect.objectContaining({ stage: 'delivery', destination: 'referrals', outcome: 'delivered', attempt: 1, event_type: 'Order Completed', project: 'web' }),
    );

    // The same insert_id again: counted, not enqueued: a duplicate for every destination.
    expect((await post(`${s.url}/batch`, { api_key: WEB_KEY, events: [orderEvent(insertId)] })).status).toBe(200);
    await waitFor(() => live.records.filter((r) => r.insert_id === insertId && r.outcome === 'duplicate').length === 2, 5000, 'duplicates');
    expect(live.records.filter((r) => r.outcome === 'duplicate').map((r) => [r.destination, r.endpoint]).sort()).toEqual([
      ['referrals', 'batch'],
      ['signups', 'batch'],
    ]);

    // Only what ingestion decided: no body, no user_id, no token, no key.
    const text = live.text();
    for (const secret of [EXTOLE_TOKEN, WEB_KEY, IOS_KEY, ADMIN_TOKEN, 'ann@example.com']) expect(text).not.toContain(secret);
    expect(live.records.every((r) => !('request' in r))).toBe(true);
    live.close();
    await waitFor(() => !s.runtime.live.listening, 5000, 'the viewer to be gone');
  });

  it('filters by destination, project and outcome; ?full=1 adds the body the mapping built (never the token)', async () => {
    const drops = await openLive(s.url, '?outcome=drop');
    const full = await openLive(s.url, '?destination=referrals&full=1&outcome=send');
    const ios = await openLive(s.url, '?project=ios');
    const insertId = `full-${Math.random()}`;
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [orderEvent(insertId, 'bob@example.com')] })).status).toBe(200);
    await waitFor(() => drops.records.length >= 1 && full.records.length >= 1, 5000, 'filtered records');
    // Let any further (unwanted) record arrive before asserting on absence.
    expect((await post(`${s.url}/2/httpapi`, { api_key: WEB_KEY, events: [orderEvent(`${insertId}-2`)] })).status).toBe(200);
    await waitFor(() => full.records.length >= 2, 5000, 'the second send');

    expect(drops.records.every((r) => r.outcome === 'drop' && r.destination === 'signups')).toBe(true);
    expect(full.records.every((r) => r.outcome === 'send' && r.destination === 'referrals')).toBe(true);
    expect(full.records[0]).toMatchObject({
      insert_id: insertId,
      request: {
        method: 'POST',
        path: '/v6/async-events',
        body: { event_name: 'Order Completed', data: { email: 'bob@example.com', partner_conversion_id: insertId, revenue: 42 } },
      },
    });
    expect(ios.records).toEqual([]);
    for (const c of [drops, full, ios]) {
      expect(c.text()).not.toContain(EXTOLE_TOKEN);
      expect(c.text()).not.toContain(WEB_KEY);
      c.close();
    }
  });

  it('a viewer that does not read never holds ingestion up', async () => {
    // A real socket that stops reading after the greeting.
    const req = httpRequest(`${s.url}/events/live?full=1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await new Promise<void>((resolve) => {
      req.on('response', (res) => {
        res.once('data', () => {
          res.pause();
          resolve();
        });
      });
      req.end();
    });
    const big = 'x'.repeat(20_000);
    for (let i = 0; i < 20; i++) {
      const events = Array.from({ length: 50 }, (_, j) => ({ ...orderEvent(`slow-${i}-${j}-${Math.random()}`), event_properties: { note: big } }));
      expect((await post(`${s.url}/batch`, { api_key: WEB_KEY, events })).status).toBe(200);
    }
    // 20 MB of bodies went past a viewer that read none of it: most of it was dropped, not buffered.
    await waitFor(() => s.runtime.live.stats().dropped > 0, 5000, 'drops');
    // The same drops reach Prometheus: /metrics counts at least what /status had seen by then.
    const seen = s.runtime.live.stats().dropped;
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('extole_stream_live_dropped_lines_total '));
    expect(line, 'extole_stream_live_dropped_lines_total in /metrics').toBeDefined();
    expect(Number(line!.split(' ')[1])).toBeGreaterThanOrEqual(seen);
    req.destroy();
  });
});

describe('shutdown with viewers connected', () => {
  it('closing the server ends the streams instead of waiting for them', async () => {
    const dir = makeConfigDir({ adminToken: true });
    const s = await startServer(dir, { delivery: false });
    try {
      const live = await openLive(s.url);
      await s.app.close();
      await live.ended;
      expect(s.runtime.live.listening).toBe(false);
    } finally {
      await s.runtime.close();
      removeDir(dir);
    }
  });
});

/** A response stand-in whose writes complete only when `release()` is called: a stuck client. */
class StuckResponse extends Writable {
  chunks: string[] = [];
  private callbacks: Array<() => void> = [];
  constructor() {
    super({ highWaterMark: 1024, decodeStrings: false });
  }
  writeHead(): this {
    return this;
  }
  private flowing = false;
  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(String(chunk));
    if (this.flowing) cb();
    else this.callbacks.push(cb);
  }
  /** The client reads again: everything written so far and from now on completes. */
  release(): void {
    this.flowing = true;
    const cbs = this.callbacks;
    this.callbacks = [];
    for (const cb of cbs) cb();
  }
}

const record = (i: number, extra: Partial<LiveRecord> = {}): LiveRecord => ({
  time: 0,
  stage: 'ingest',
  project: 'web',
  endpoint: 'httpapi',
  insert_id: `id-${i}`,
  event_type: 'Order Completed',
  destination: 'referrals',
  outcome: 'send',
  ...extra,
});

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('LiveHub', () => {
  it('drops and counts lines for a viewer that lags, within its bound, and tells it once it catches up', async () => {
    const metrics = new Metrics();
    const hub = new LiveHub({ redact: (t) => t, maxBufferedBytes: 2000, onDropped: (n) => metrics.liveDroppedLines.inc(n) });
    const res = new StuckResponse();
    hub.attach(res as unknown as ServerResponse, { full: false });
    for (let i = 0; i < 200; i++) hub.publish([record(i, { message: 'm'.repeat(100) })]);
    await tick();
    const written = res.chunks.join('');
    // Socket buffer (~1 KB) plus the bounded queue (2000 chars): far fewer than 200 records.
    expect(written.length).toBeLessThan(1500);
    const dropped = hub.stats().dropped;
    expect(dropped).toBeGreaterThan(150);
    // Every dropped line is counted in extole_stream_live_dropped_lines_total too.
    expect((await metrics.liveDroppedLines.get()).values.map((v) => v.value)).toEqual([dropped]);
    res.release();
    await tick();
    const all = res.chunks.join('');
    expect(all).toContain(`event: dropped\ndata: {"dropped":${dropped},"total_dropped":${dropped}}`);
    // Lines after the notice are the queued ones; the stream stays well-formed.
    expect(all.split('\n\n').filter((m) => m.startsWith('data: ')).every((m) => JSON.parse(m.slice(6)) !== null)).toBe(true);
  });

  it('redacts every line and leaves the request out unless the viewer asked for it', async () => {
    const hub = new LiveHub({ redact: (t) => t.replaceAll('s3cret', '***') });
    const brief = new StuckResponse();
    const full = new StuckResponse();
    hub.attach(brief as unknown as ServerResponse, { full: false });
    hub.attach(full as unknown as ServerResponse, { full: true });
    hub.publish([
      record(1, {
        message: 'boom s3cret',
        request: { method: 'POST', path: '/v6/async-events', body: { event_name: 'x', event_time: 't', data: { k: 's3cret' } } },
      }),
    ]);
    await tick();
    brief.release();
    full.release();
    expect(brief.chunks.join('')).toContain('"message":"boom ***"');
    expect(brief.chunks.join('')).not.toContain('request');
    expect(full.chunks.join('')).toContain('"request":{"method":"POST","path":"/v6/async-events","body":{"event_name":"x","event_time":"t","data":{"k":"***"}}}');
    expect(full.chunks.join('') + brief.chunks.join('')).not.toContain('s3cret');
  });

  it('parses filters as comma-separated lists', () => {
    const r = parseLiveQuery({ destination: 'a,b', project: ['web', 'ios'], outcome: 'drop,duplicate', full: '1' });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect([...r.filter.destinations!]).toEqual(['a', 'b']);
      expect([...r.filter.projects!]).toEqual(['web', 'ios']);
      expect([...r.filter.outcomes!]).toEqual(['drop', 'duplicate']);
      expect(r.filter.full).toBe(true);
    }
    expect(parseLiveQuery({})).toEqual({ ok: true, filter: { destinations: undefined, projects: undefined, outcomes: undefined, full: false } });
  });
});

describe('ingestEvents and the live tap', () => {
  const sendAll: Transformer = {
    name: 'dest',
    sync: true,
    transform: (event): Outcome => ({
      outcome: 'send',
      request: {
        method: 'POST',
        url: 'http://x/v6/async-events',
        path: '/v6/async-events',
        headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': 'x' },
        body: { event_name: String(event.event_type), event_time: 't', data: {} },
      },
      bodyJson: '{}',
    }),
  };
  const ev = (id: string | undefined): AmplitudeEvent => ({ event_type: 'E', user_id: 'u@example.com', time: 1, ...(id ? { insert_id: id } : {}) }) as AmplitudeEvent;

  it('builds nothing when nobody listens', async () => {
    const queue = new SqliteQueue({ path: ':memory:' });
    await queue.open();
    const tap: LiveTap = {
      listening: false,
      publish: () => {
        throw new Error('publish must not be called without viewers');
      },
    };
    const summary = await ingestEvents({ transformers: [sendAll], queue, dedupWindowMs: 1000, live: tap }, 'web', [ev('a-1')], { endpoint: 'httpapi', now: 10 });
    expect(summary.accepted).toBe(1);
    await queue.close();
  });

  it('marks exactly the events the queue skipped as repeats', async () => {
    const queue = new SqliteQueue({ path: ':memory:' });
    await queue.open();
    const published: LiveRecord[] = [];
    const tap: LiveTap = { listening: true, publish: (r) => published.push(...r) };
    const target = { transformers: [sendAll], queue, dedupWindowMs: 60_000, live: tap };
    await ingestEvents(target, 'web', [ev('d-1')], { endpoint: 'httpapi', now: 10 });
    expect(published.map((r) => r.outcome)).toEqual(['send']);
    published.length = 0;
    // A repeat of an earlier request and a repeat inside the request: duplicates; the rest as decided.
    await ingestEvents(target, 'web', [ev('d-1'), ev('d-2'), ev('d-2'), ev(undefined)], { endpoint: 'batch', now: 20 });
    expect(published.map((r) => [r.insert_id, r.outcome])).toEqual([
      ['d-1', 'duplicate'],
      ['d-2', 'send'],
      ['d-2', 'duplicate'],
      [null, 'send'],
    ]);
    published.length = 0;
    await ingestEvents(target, 'web', [ev('d-1'), ev('d-2')], { endpoint: 'batch', now: 30 });
    expect(published.map((r) => r.outcome)).toEqual(['duplicate', 'duplicate']);
    expect(published.every((r) => r.request === undefined && r.reason === undefined)).toBe(true);
    await queue.close();
  });
});
