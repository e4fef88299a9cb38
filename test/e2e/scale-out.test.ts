/**
 * Scale out (SPEC §7): several built `serve` processes share one PostgreSQL queue.
 *
 * - Three servers on one schema take events over HTTP and deliver to one Extole stand-in;
 *   one is killed with SIGKILL mid-run. Every event whose sender got a 200 is delivered by the
 *   others (a ledger per event), and the only events delivered twice are ones the killed server
 *   had in flight: each first reached Extole before the kill, and there are at most
 *   `delivery.concurrency` of them.
 * - `/status` and `/metrics` (`queue_depth{destination}`) on every server show the whole queue,
 *   including rows another server ingested.
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (db `test`, user `postgres`, trust auth); skipped with a
 * reason when unreachable, failing when CI=true. Each run uses its own schema and drops it.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { UNSETTLED_FACTOR } from '../../src/delivery/manager.js';
import { spawnServe, type ServeProcess } from '../server/cli-helpers.js';
import { makeConfigDir, waitFor } from '../server/helpers.js';
import { describeSkippedWithoutPostgres, dropSchema, TEST_PG_URL as DATABASE_URL, testPostgresUnreachable, uniqueSchemaName } from '../support/postgres.js';

const WEB_KEY = 'scale-web-key-0123456789';
const IOS_KEY = 'scale-ios-key-0123456789';
const EXTOLE_TOKEN = 'scale-extole-token-SECRET-9';
const ADMIN_TOKEN = 'scale-admin-token-SECRET-3';
/** `delivery.concurrency` of the delivering destination: bounds what one server has in flight. */
const CONCURRENCY = 8;
/** How long each wait below may take: several built servers start, deliver and settle. */
const WAIT_MS = 60_000;

interface Arrival {
  /** insert_id, carried as data.partner_conversion_id. */
  id: string;
  /** Which destination's base_url it came to (`/ok` or `/held`). */
  route: string;
  /** Arrival time: a request that arrived before a kill may be answered after it. */
  at: number;
}

/**
 * Extole stand-in: `/ok/...` answers 200 after `delayMs` (so requests are in flight when a server
 * dies); `/held/...` answers 401, which pauses that destination (token alarm) and leaves its
 * rows queued.
 */
async function startExtole(delayMs: number): Promise<{ url: string; arrivals: Arrival[]; close(): Promise<void> }> {
  const arrivals: Arrival[] = [];
  const server: Server = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = (req.url ?? '').startsWith('/held/') ? 'held' : 'ok';
      if (route === 'held') {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ unique_id: 'u1', http_status_code: 401, code: 'method_unauthorized', message: 'no', parameters: {} }));
        return;
      }
      setTimeout(() => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { partner_conversion_id: string } };
        arrivals.push({ id: body.data.partner_conversion_id, route, at });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ event_id: String(arrivals.length) }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function destinationYaml(name: string, project: string, baseUrl: string): string {
  return `name: ${name}
projects: [${project}]
extole:
  access_token: \${env:TEST_EXTOLE_TOKEN}
  base_url: ${baseUrl}
events:
  - type: "*"
identity:
  email: user_id
mapping:
  data:
    partner_conversion_id: insert_id
delivery:
  concurrency: ${CONCURRENCY}
  timeout: 1s
  retry: { max_attempts: 5, max_age: 1h, initial_backoff: 50ms, max_backoff: 500ms }
`;
}

/** A config folder whose queue is `schema` on the test database (URL from the environment). */
function configDir(schema: string, extoleUrl: string): string {
  return makeConfigDir({
    adminToken: true,
    queue: ['driver: postgres', 'url: ${env:DATABASE_URL}', `schema: ${schema}`, 'lease: 2s'],
    destinations: {
      referrals: destinationYaml('referrals', 'web', `${extoleUrl}/ok`),
      held: destinationYaml('held', 'ios', `${extoleUrl}/held`),
    },
  });
}

const ENV = {
  DATABASE_URL,
  TEST_WEB_KEY: WEB_KEY,
  TEST_IOS_KEY: IOS_KEY,
  TEST_EXTOLE_TOKEN: EXTOLE_TOKEN,
  TEST_ADMIN_TOKEN: ADMIN_TOKEN,
};

function events(prefix: string, from: number, count: number): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => ({
    event_type: 'Order Completed',
    user_id: `${prefix}${from + i}@example.com`,
    insert_id: `${prefix}-${from + i}`,
    event_properties: { revenue: from + i },
  }));
}

async function post(url: string, apiKey: string, batch: Array<Record<string, unknown>>): Promise<number> {
  const res = await fetch(`${url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: apiKey, events: batch }),
  });
  await res.text();
  return res.status;
}

interface QueueStats {
  pending: number;
  leased: number;
  deadLetters: number;
}

async function status(url: string): Promise<{
  queue: { driver: string; destinations: Record<string, QueueStats> };
  delivery: Array<{ destination: string; counters: { delivered: number } }>;
  counters: Record<string, Record<string, number>>;
}> {
  const res = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Awaited<ReturnType<typeof status>>;
}

/** `extole_stream_queue_depth{destination="…"}` from a /metrics scrape (undefined when absent). */
async function queueDepth(url: string, destination: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^extole_stream_queue_depth\\{destination="${destination}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const unreachable = await testPostgresUnreachable();

describe.skipIf(unreachable !== undefined)('scale out: several serve processes on one PostgreSQL queue', () => {
  const cleanups: Array<() => unknown> = [];
  const newSchema = (): string => {
    const schema = uniqueSchemaName('es_e2e_scale');
    cleanups.push(() => dropSchema(schema));
    return schema;
  };
  afterAll(async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // keep cleaning
      }
    }
  });

  async function startServers(n: number, dir: string): Promise<ServeProcess[]> {
    // All at once: they race to create the schema (the advisory-locked migration settles it).
    const servers = await Promise.all(Array.from({ length: n }, () => spawnServe(['--port', '0'], { cwd: dir, env: ENV })));
    for (const s of servers) cleanups.push(() => s.child.kill('SIGKILL'));
    return servers;
  }

  it('every server shows the queue of every destination, whoever ingested it', { timeout: 90_000 }, async () => {
    const extole = await startExtole(0);
    cleanups.push(() => extole.close());
    const dir = configDir(newSchema(), extole.url);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [a, b] = await startServers(2, dir);

    // `held` (project ios) gets 401s: its rows stay queued. Only server A ingests them.
    expect(await post(a!.url, IOS_KEY, events('held', 0, 40))).toBe(200);
    // `referrals` (project web) delivers; only server B ingests those.
    expect(await post(b!.url, WEB_KEY, events('ref', 0, 30))).toBe(200);
    await waitFor(() => new Set(extole.arrivals.map((x) => x.id)).size === 30, WAIT_MS, '30 referrals delivered');
    // Extole has them; the rows go once their `complete` commits (seen through server A).
    await waitFor(async () => {
      const ref = (await status(a!.url)).queue.destinations['referrals'];
      return (ref?.pending ?? 0) + (ref?.leased ?? 0) === 0;
    }, WAIT_MS, 'referrals settled');

    for (const server of [a!, b!]) {
      const s = await status(server.url);
      expect(s.queue.driver).toBe('postgres');
      const held = s.queue.destinations['held']!;
      expect(held.pending + held.leased).toBe(40);
      expect(held.deadLetters).toBe(0);
      const ref = s.queue.destinations['referrals'];
      expect((ref?.pending ?? 0) + (ref?.leased ?? 0)).toBe(0);
      expect(await queueDepth(server.url, 'held')).toBe(40);
      expect(await queueDepth(server.url, 'referrals')).toBe(0);
    }
    // B never ingested an ios event: what it shows for `held` came from the shared database.
    expect(JSON.stringify((await status(b!.url)).counters['ingested_events_total'] ?? {})).not.toContain('ios');

    for (const s of [a!, b!]) s.child.kill('SIGTERM');
    expect(await Promise.all([a!.exited, b!.exited])).toEqual([0, 0]);
  });

  it('kill -9 one of three servers mid-run: every 200-acked event is delivered by the others', { timeout: 120_000 }, async () => {
    const extole = await startExtole(3);
    cleanups.push(() => extole.close());
    const dir = configDir(newSchema(), extole.url);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const servers = await startServers(3, dir);
    const [victim, ...survivors] = servers as [ServeProcess, ServeProcess, ServeProcess];

    // Six senders round-robin over the three servers, batches of 25; an id is acked only on 200.
    const TOTAL = 3000;
    const BATCH = 25;
    const sentTo = new Map<string, number>();
    const acked = new Set<string>();
    let next = 0;
    let victimDead = false;
    let round = 0;
    const sender = async (): Promise<void> => {
      while (next < TOTAL) {
        const start = next;
        next += BATCH;
        let target = round++ % servers.length;
        if (target === 0 && victimDead) target = 1 + (round % 2);
        const batch = events('ev', start, Math.min(BATCH, TOTAL - start));
        for (const e of batch) sentTo.set(e['insert_id'] as string, target);
        try {
          if ((await post(servers[target]!.url, WEB_KEY, batch)) === 200) for (const e of batch) acked.add(e['insert_id'] as string);
        } catch {
          // The victim died mid-request: never acked (it may still have committed them).
        }
      }
    };
    const senders = Promise.all(Array.from({ length: 6 }, () => sender()));

    // Kill -9 once deliveries flow and while requests are still arriving: at 300 deliveries, or
    // when 60% of the events are sent if ingestion runs ahead of delivery.
    await waitFor(() => extole.arrivals.length >= 50 && (extole.arrivals.length >= 300 || next >= TOTAL * 0.6), WAIT_MS, 'deliveries flowing');
    expect(next).toBeLessThan(TOTAL);
    victim.child.kill('SIGKILL');
    victimDead = true;
    const killedAt = Date.now();
    expect(await victim.exited).toBeNull(); // killed by a signal, no exit code
    await senders;
    expect(acked.size).toBeGreaterThan(TOTAL / 2);

    // The survivors deliver everything acked, including the victim's leased rows after the lease.
    const delivered = (): Set<string> => new Set(extole.arrivals.map((x) => x.id));
    await waitFor(() => {
      const got = delivered();
      return [...acked].every((id) => got.has(id));
    }, WAIT_MS, 'every acked event delivered');
    await waitFor(async () => {
      const ref = (await status(survivors[0].url)).queue.destinations['referrals'];
      return (ref?.pending ?? 0) + (ref?.leased ?? 0) === 0;
    }, WAIT_MS, 'an empty queue on the survivors');

    // Ledger per event.
    const counts = new Map<string, number>();
    const arrivalsOf = new Map<string, number[]>();
    for (const x of extole.arrivals) {
      counts.set(x.id, (counts.get(x.id) ?? 0) + 1);
      arrivalsOf.set(x.id, [...(arrivalsOf.get(x.id) ?? []), x.at]);
    }
    const got = delivered();
    expect([...acked].filter((id) => !got.has(id))).toEqual([]); // nothing acked is lost
    expect([...got].filter((id) => !sentTo.has(id))).toEqual([]); // nothing invented
    // Delivered but never acked: only events the victim committed before its 200 went out.
    const unackedDelivered = [...got].filter((id) => !acked.has(id));
    for (const id of unackedDelivered) expect(sentTo.get(id)).toBe(0);

    // Twice at most, and only rows the victim had in flight: first arrival before the kill, the
    // second after it (another server took the row when the lease ran out). A server has at most
    // `delivery.concurrency` requests of a destination in flight, and frees a request's slot when
    // Extole answers, before the row's settle has committed: at most UNSETTLED_FACTOR ×
    // concurrency rows are in flight or answered but unsettled at any moment.
    const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    for (const id of duplicates) {
      const [first, second, ...more] = arrivalsOf.get(id)!;
      expect(more).toEqual([]);
      // Arrival times are read on this (busy) test process's event loop, and bytes the victim
      // wrote just before the kill still cross loopback after it: allow a second of lag.
      expect(first!).toBeLessThanOrEqual(killedAt + 1000);
      expect(second!).toBeGreaterThan(killedAt);
    }
    expect(duplicates.length).toBeLessThanOrEqual(UNSETTLED_FACTOR * CONCURRENCY);

    // Both survivors see the same (empty) shared queue and no dead letters.
    const shown = await Promise.all(survivors.map((s) => status(s.url)));
    for (const s of shown) {
      const ref = s.queue.destinations['referrals'];
      expect((ref?.pending ?? 0) + (ref?.leased ?? 0)).toBe(0);
      expect(ref?.deadLetters ?? 0).toBe(0);
    }
    for (const s of survivors) expect(await queueDepth(s.url, 'referrals')).toBe(0);
    const deliveredBy = shown.map((s) => s.delivery.find((d) => d.destination === 'referrals')?.counters.delivered ?? 0);
    console.log(
      `scale-out: sent ${TOTAL}, acked ${acked.size}, delivered ${got.size} distinct ` +
        `(${unackedDelivered.length} committed by the victim without a 200), ${duplicates.length} twice ` +
        `(bound ${UNSETTLED_FACTOR * CONCURRENCY}); survivors delivered ${deliveredBy.join(' + ')}, the victim the rest`,
    );

    for (const s of survivors) s.child.kill('SIGTERM');
    expect(await Promise.all(survivors.map((s) => s.exited))).toEqual([0, 0]);
  });
});

describeSkippedWithoutPostgres('scale out', unreachable);
