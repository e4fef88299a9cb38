/**
 * Ingest worker threads (`server.ingest_threads`): bodies read and transformed on a thread give
 * exactly the answers and the deliveries of the event loop; the thread is really used; a thread
 * that dies loses nothing; a reload reaches the thread before the next request.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestWorkerFile } from '../../src/runtime/ingest-threads.js';
import {
  ADMIN_TOKEN,
  WEB_KEY,
  IOS_KEY,
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
} from '../server/helpers.js';

const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);

/** Bodies of every kind the ingest endpoints read, good and bad. */
function requestTable(): Array<{ name: string; path: string; body: unknown; headers?: Record<string, string> }> {
  const event = (i: number, extra: Record<string, unknown> = {}) => ({
    event_type: i % 3 === 0 ? 'Purchase' : 'Sign Up',
    user_id: `user-${i}@example.com`,
    insert_id: `insert-${i}`,
    time: 1_732_700_000_000 + i,
    event_properties: { amount: i, plan: i % 2 === 0 ? 'pro' : 'free' },
    ...extra,
  });
  const json = { 'content-type': 'application/json' };
  return [
    { name: 'httpapi, 3 events', path: '/2/httpapi', body: { api_key: WEB_KEY, events: [event(1), event(2), event(3)] } },
    { name: 'batch, 20 events', path: '/batch', body: { api_key: WEB_KEY, events: Array.from({ length: 20 }, (_, i) => event(10 + i)) } },
    { name: 'repeat insert_ids (de-duplicated)', path: '/batch', body: { api_key: WEB_KEY, events: [event(1), event(2), event(100)] } },
    { name: 'other project (no destination takes it)', path: '/2/httpapi', body: { api_key: IOS_KEY, events: [event(200)] } },
    { name: 'event without user_id (a drop)', path: '/2/httpapi', body: { api_key: WEB_KEY, events: [{ event_type: 'x', device_id: 'device-123456', insert_id: 'no-user' }] } },
    { name: 'min_id_length', path: '/2/httpapi', body: { api_key: WEB_KEY, events: [event(300, { user_id: 'ab' })], options: { min_id_length: 2 } } },
    { name: 'invalid JSON', path: '/2/httpapi', body: '{"api_key":', headers: json },
    { name: 'empty body', path: '/batch', body: '', headers: json },
    { name: 'not an object', path: '/batch', body: '[1,2]', headers: json },
    { name: 'missing api_key', path: '/2/httpapi', body: { events: [event(1)] } },
    { name: 'unknown api_key', path: '/2/httpapi', body: { api_key: 'nope-0123456789', events: [event(1)] } },
    { name: 'no events', path: '/2/httpapi', body: { api_key: WEB_KEY, events: [] } },
    { name: 'invalid fields', path: '/2/httpapi', body: { api_key: WEB_KEY, events: [event(400), { event_type: 'x', user_id: 'abc' }, { user_id: 'user-9@example.com' }] } },
    { name: 'too many events', path: '/2/httpapi', body: { api_key: WEB_KEY, events: Array.from({ length: 21 }, (_, i) => event(500 + i)) } },
    { name: 'webhook, one Export event', path: '/webhook/web', body: { event_type: 'Sign Up', user_id: 'hook@example.com', $insert_id: 'hook-1', event_time: '2024-11-27 10:00:00.000000' }, headers: { ...json, authorization: `Bearer ${WEB_KEY}` } },
    { name: 'webhook, empty list', path: '/webhook/web', body: [], headers: { ...json, authorization: `Bearer ${WEB_KEY}` } },
    // Rows cross threads as UTF-8 bytes; text that cannot be UTF-8 (a lone surrogate) as a string.
    {
      name: 'non-ASCII text',
      path: '/batch',
      body: { api_key: WEB_KEY, events: [event(600, { event_properties: { amount: 1, plan: 'Zürich 😀 Łódź ✓' } }), event(601, { user_id: 'zoë@example.com' })] },
    },
    { name: 'a lone surrogate', path: '/2/httpapi', body: { api_key: WEB_KEY, events: [event(700, { event_properties: { amount: 2, plan: 'x\ud800y' } })] } },
  ];
}

describe('ingest worker threads', () => {
  let extole: FakeExtole;
  const dirs: string[] = [];
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    extole = await startFakeExtole();
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const d of dirs) removeDir(d);
    await extole.close();
  });

  async function start(threads: number | undefined, opts: { workerFile?: URL; extra?: string[] } = {}): Promise<RunningServer> {
    const dir = makeConfigDir({
      baseUrl: extole.url,
      adminToken: true,
      server: ['limits:', '  events_per_request: 20', ...(threads === undefined ? [] : [`ingest_threads: ${threads}`]), ...(opts.extra ?? [])],
    });
    dirs.push(dir);
    const server = await startServer(dir, opts.workerFile ? { ingestWorkerFile: opts.workerFile } : {});
    servers.push(server);
    return server;
  }

  async function status(server: RunningServer): Promise<Record<string, unknown>> {
    const res = await fetch(`${server.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return (await res.json()) as Record<string, unknown>;
  }

  it('the built worker file is there (npm test builds first)', () => {
    expect(ingestWorkerFile()?.href).toMatch(/dist\/runtime\/ingest-worker\.js$/);
  });

  it('answers and delivers exactly as the event loop does, for every kind of body', async () => {
    const inLoop = await start(0);
    const threaded = await start(2);
    expect((await status(inLoop)).ingest_threads).toBe(0);
    expect((await status(threaded)).ingest_threads).toBe(2);
    const answers = async (server: RunningServer) => {
      const out: unknown[] = [];
      for (const r of requestTable()) {
        const res = await post(`${server.url}${r.path}`, r.body, r.headers);
        delete res.body.server_upload_time;
        out.push({ name: r.name, status: res.status, body: res.body });
      }
      return out;
    };
    const before = extole.bodies.length;
    const loopAnswers = await answers(inLoop);
    await waitFor(async () => extole.bodies.length > before && (await queuedRows(inLoop.runtime)) === 0, 10_000, 'event-loop server delivered');
    const loopBodies = extole.bodies.slice(before).map((b) => JSON.stringify(b)).sort();
    const middle = extole.bodies.length;
    const threadAnswers = await answers(threaded);
    await waitFor(async () => extole.bodies.length - middle >= loopBodies.length && (await queuedRows(threaded.runtime)) === 0, 10_000, 'threaded server delivered');
    const threadBodies = extole.bodies.slice(middle).map((b) => JSON.stringify(b)).sort();

    expect(threadAnswers).toEqual(loopAnswers);
    expect(threadBodies).toEqual(loopBodies);
    // The table covers successes, each error, a repeat and a drop (the comparison means something).
    const statuses = (loopAnswers as Array<{ status: number }>).map((a) => a.status);
    expect(statuses.filter((s) => s === 200).length).toBe(9);
    expect(new Set(statuses)).toEqual(new Set([200, 400, 413]));
    // 3 + 20, the new event of the repeat request, the webhook's, the non-ASCII and lone-surrogate
    // requests' 2 + 1; `ab` (min_id_length) is not an email: dropped.
    expect(loopBodies.length).toBe(3 + 20 + 1 + 1 + 2 + 1);
    expect(threadBodies.filter((b) => b.includes('zoë@example.com'))).toHaveLength(1);

    // The same counts in both servers' metrics.
    const counts = async (server: RunningServer) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return text.split('\n').filter((l) => /^extole_stream_(ingested|dropped)_events_total\{/.test(l)).sort();
    };
    const loopCounts = await counts(inLoop);
    expect(loopCounts.filter((l) => l.startsWith('extole_stream_dropped_events_total')).length).toBeGreaterThan(0);
    expect(await counts(threaded)).toEqual(loopCounts);
  });

  it('sends HTTP V2, Batch and Webhook bodies through the worker thread', async () => {
    const server = await start(undefined, { workerFile: fixture('ingest-worker-rejects.mjs') });
    expect((await status(server)).ingest_threads).toBe(1);
    const res = await post(`${server.url}/batch`, { api_key: WEB_KEY, events: [{ event_type: 'x', user_id: 'user-1@example.com' }] });
    expect(res).toMatchObject({ status: 400, body: { code: 400, error: 'from the worker thread (batch)' } });
    const hook = await post(`${server.url}/webhook/web`, { event_type: 'x', user_id: 'user-1@example.com' }, { 'content-type': 'application/json', authorization: `Bearer ${WEB_KEY}` });
    expect(hook.body.error).toBe('from the worker thread (webhook)');
  });

  it('a thread that dies loses nothing: its request is read in the event loop or answered 503, and threads that keep dying are given up', async () => {
    const server = await start(1, { workerFile: fixture('ingest-worker-crashes.mjs') });
    const events = (tag: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ event_type: 'crash', user_id: `${tag}-${i}@example.com`, insert_id: `${tag}-${i}`, event_properties: { pad: 'x'.repeat(300) } }));
    const send = (tag: string, n: number) => post(`${server.url}/2/httpapi`, { api_key: WEB_KEY, events: events(tag, n) });
    // 20 events (over 4 KiB): the body moved to the thread that died with it. Nothing committed, 503.
    const big = await send('big', 20);
    expect(big.status).toBe(503);
    expect(big.body.code).toBe(503);
    expect(await queuedRows(server.runtime)).toBe(0);
    // Small bodies are copied: the event loop reads them when their thread dies.
    expect((await send('small-a', 1)).status).toBe(200);
    expect(server.logs.text).toContain('an ingest worker thread stopped');
    expect(server.logs.text).toContain('reading it in the event loop');
    expect((await send('small-b', 1)).status).toBe(200);
    // Three deaths: from now on the event loop reads every body, also big ones.
    expect(server.logs.text).toContain('ingest worker threads keep stopping');
    expect((await send('big', 20)).status).toBe(200);
    const delivered = () => extole.bodies.filter((b) => JSON.stringify(b).includes('crash')).length;
    await waitFor(() => delivered() === 22, 10_000, 'the 22 acknowledged events delivered');
  });

  it('a reload reaches the thread: the next request uses the new mapping', async () => {
    const server = await start(1);
    const send = (id: string) => post(`${server.url}/2/httpapi`, { api_key: WEB_KEY, events: [{ event_type: 'Sign Up', user_id: `${id}@example.com`, insert_id: id }] });
    expect((await send('reload-before')).status).toBe(200);
    writeFileSync(path.join(server.dir, 'destinations', 'referrals.yaml'), referralsYaml(extole.url).replace('partner_conversion_id: insert_id', `partner_conversion_id: '"v2-" & insert_id'`));
    const reload = await fetch(`${server.url}/-/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(reload.status).toBe(200);
    expect((await send('reload-after')).status).toBe(200);
    const ids = () => extole.bodies.map((b) => (b.data as Record<string, unknown> | undefined)?.partner_conversion_id);
    await waitFor(() => ids().includes('v2-reload-after'), 10_000, 'the reloaded mapping delivered');
    expect(ids()).toContain('reload-before');
    expect(ids()).not.toContain('v2-reload-before');
  });
});
