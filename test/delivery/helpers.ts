/**
 * Test parts for delivery: a scripted Extole on 127.0.0.1 (real HTTP), the real SQLite queue in
 * a temp dir, a ManualClock, a pino logger that keeps its lines, and `driveUntil`, which lets the
 * real I/O settle before moving the injected clock (so hours pass in milliseconds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ManualClock } from '../../src/delivery/clock.js';
import { DeliveryManager, type DeliveryDestination, type DeliveryManagerOptions } from '../../src/delivery/manager.js';
import { Metrics } from '../../src/metrics.js';
import { SqliteQueue } from '../../src/queue/sqlite.js';

export const TOKEN = 'tok-SECRET-0123456789abcdef';

export interface SeenRequest {
  /** ManualClock time when it arrived. */
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Script = (req: SeenRequest, index: number, res: ServerResponse) => void;

export interface ScriptedExtole {
  url: string;
  requests: SeenRequest[];
  /** Replace the answer script. */
  script: Script;
  close(): Promise<void>;
}

/** Answer JSON with a status (and headers). */
export function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An Extole RestExceptionResponse. */
export function extoleError(status: number, code: string, message = code): Record<string, unknown> {
  return { unique_id: 'test-unique-id', http_status_code: status, code, message, parameters: {} };
}

export const ok: Script = (_req, _i, res) => answer(res, 200, { event_id: '1' });

/** A real HTTP server whose answers a test scripts; records what it got, stamped with `clock`. */
export async function startScriptedExtole(clock: ManualClock, script: Script = ok): Promise<ScriptedExtole> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const state: ScriptedExtole = { url: '', requests, script, close: async () => {} };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const seen: SeenRequest = { at: clock.now(), path: req.url ?? '', headers: req.headers, body };
      requests.push(seen);
      state.script(seen, requests.length - 1, res);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

export interface Harness {
  clock: ManualClock;
  queue: SqliteQueue;
  metrics: Metrics;
  logger: Logger;
  logLines: string[];
  extole: ScriptedExtole;
  manager: DeliveryManager;
  destination: DeliveryDestination;
  /** Enqueue `n` events for the destination; returns their insert_ids. */
  enqueue(n: number, data?: Record<string, unknown>): Promise<string[]>;
  /** Let I/O settle, then move the clock, until `condition` holds. */
  driveUntil(condition: () => boolean | Promise<boolean>, options?: { maxSteps?: number }): Promise<void>;
  /** Queued rows (pending + leased) of the destination. */
  queued(): Promise<number>;
  close(): Promise<void>;
}

let enqueueCounter = 0;

/** Everything real except time: SQLite queue file, HTTP server, metrics, pino. */
export async function harness(options: {
  script?: Script;
  delivery?: DeliveryDestination['delivery'];
  manager?: Partial<DeliveryManagerOptions>;
  accessToken?: string;
  /** Deliver here instead of the scripted server (e.g. the sandbox). */
  baseUrl?: string;
}): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'extole-delivery-'));
  const clock = new ManualClock();
  const queue = new SqliteQueue({ path: path.join(dir, 'queue.db') });
  await queue.open();
  const metrics = new Metrics();
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const extole = await startScriptedExtole(clock, options.script);
  const destination: DeliveryDestination = {
    name: 'referrals',
    baseUrl: options.baseUrl ?? extole.url,
    accessToken: options.accessToken ?? TOKEN,
    delivery: {
      concurrency: 4,
      timeout: '2s',
      retry: { max_attempts: 10, max_age: '4h', initial_backoff: '1s', max_backoff: '30s' },
      ...options.delivery,
    },
  };
  const manager = new DeliveryManager({
    queue,
    metrics,
    logger,
    clock,
    leaseMs: 24 * 3600_000, // the ManualClock may jump hours; a lease must not lapse under a live request
    configRevision: 'rev-test-1',
    destinations: [destination],
    idlePollMs: 200,
    stopTimeoutMs: 2000,
    random: () => 0.5,
    ...options.manager,
  });

  const h: Harness = {
    clock,
    queue,
    metrics,
    logger,
    logLines,
    extole,
    manager,
    destination,
    async enqueue(n, data = {}) {
      const ids: string[] = [];
      const events = [];
      for (let i = 0; i < n; i++) {
        const insertId = `ins-${++enqueueCounter}`;
        ids.push(insertId);
        const body = {
          event_name: 'order_completed',
          event_time: new Date(clock.now()).toISOString(),
          data: { email: `user${enqueueCounter}@example.com`, partner_conversion_id: insertId, ...data },
        };
        events.push({
          insertId,
          event: JSON.stringify({ event_type: 'Order Completed', insert_id: insertId }),
          deliveries: [{ destination: 'referrals', path: '/v6/async-events', body: JSON.stringify(body) }],
        });
      }
      await queue.enqueue('web-prod', events, { now: clock.now(), dedupWindowMs: 0 });
      manager.wake('referrals');
      return ids;
    },
    async driveUntil(condition, opts = {}) {
      const maxSteps = opts.maxSteps ?? 2000;
      for (let step = 0; step < maxSteps; step++) {
        await quiesce(manager, clock);
        if (await condition()) return;
        clock.advanceToNext();
      }
      throw new Error(`condition not reached within ${maxSteps} clock steps`);
    },
    async queued() {
      const s = (await queue.stats(clock.now()))['referrals'];
      return s ? s.pending + s.leased : 0;
    },
    async close() {
      await manager.stop();
      await extole.close();
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * Wait (real time, bounded) until no request is in flight and every worker sleeps on the clock:
 * only then may the test move time without racing real I/O.
 */
export async function quiesce(manager: DeliveryManager, clock: ManualClock, realTimeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + realTimeoutMs;
  for (;;) {
    await new Promise((r) => setImmediate(r));
    const statuses = manager.status();
    if (statuses.every((s) => s.inFlight === 0) && clock.pending >= statuses.length) {
      // Once more after a macrotask: a settle may have just scheduled the loop's next step.
      await new Promise((r) => setImmediate(r));
      if (manager.status().every((s) => s.inFlight === 0) && clock.pending >= statuses.length) return;
    }
    if (Date.now() > deadline) throw new Error('delivery did not settle (requests still in flight)');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Sum of a prom-client metric's values matching `labels`. */
export async function metricValue(
  metric: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))
    .reduce((sum, v) => sum + v.value, 0);
}
