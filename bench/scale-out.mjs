#!/usr/bin/env node
/**
 * Scale-out benchmark (docs/scale-out.md).
 *
 *   node bench/scale-out.mjs [queue|serve|all]      (default all; run `npm run build` first)
 *
 * queue: the queue drivers alone — enqueue in requests of 100 events, then claim 100 at a time
 *        and settle them (one `complete` per row in turn, concurrent `complete`s the way delivery
 *        issues them, and one `completeMany` per claimed batch).
 * serve: events/s end to end (HTTP ingest → queue → delivery to a local Extole stand-in) through
 *        one and through two `serve` processes on PostgreSQL, and one on SQLite for reference.
 *
 * Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_ROWS
 * (queue rows, default 5000), BENCH_EVENTS (serve events, default 20000), BENCH_SETUPS (serve
 * setups, default pg1,pg2,sqlite), EXTOLE_STREAM_DIST (built output, default ./dist). Each run uses a fresh schema and drops it afterwards.
 * Speed is measured here, never asserted in tests.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.resolve(REPO, process.env.EXTOLE_STREAM_DIST ?? 'dist');
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env.BENCH_ROWS ?? 5000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20000);
const RUN = `es_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
let schemaCounter = 0;
const nextSchema = () => `${RUN}_${++schemaCounter}`;

const mode = process.argv[2] ?? 'all';
if (!['queue', 'serve', 'all'].includes(mode)) {
  console.error('usage: node bench/scale-out.mjs [queue|serve|all]');
  process.exit(2);
}

function machine() {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

async function pgVersion() {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    return (await c.query('SHOW server_version')).rows[0].server_version;
  } finally {
    await c.end();
  }
}

async function dropSchema(schema) {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

const rate = (n, ms) => Math.round((n / ms) * 1000);
const fmt = (n) => n.toLocaleString('en-US');

// ------------------------------------------------------------------------------------ queue

function ingestBatch(start, n) {
  const events = [];
  for (let i = start; i < start + n; i++) {
    const event = JSON.stringify({ event_type: 'Order Completed', user_id: `u${i}@example.com`, insert_id: `q-${i}`, event_properties: { revenue: i } });
    events.push({
      insertId: `q-${i}`,
      event,
      deliveries: [{ destination: 'd1', path: '/v6/async-events', body: JSON.stringify({ event_name: 'order_completed', data: { email: `u${i}@example.com`, revenue: i } }) }],
    });
  }
  return events;
}

/** Enqueue ROWS rows, then drain them with `settle(queue, items)`; rows/s of each phase. */
async function queueRun(makeQueue, settle) {
  const { queue, cleanup } = await makeQueue();
  try {
    const now = Date.now();
    let t = performance.now();
    for (let i = 0; i < ROWS; i += 100) await queue.enqueue('web', ingestBatch(i, Math.min(100, ROWS - i)), { now, dedupWindowMs: 7 * 86_400_000 });
    const enqueueMs = performance.now() - t;
    t = performance.now();
    let done = 0;
    for (;;) {
      const items = await queue.claim('d1', 100, now, 30_000);
      if (items.length === 0) break;
      const settled = await settle(queue, items);
      if (settled !== items.length) throw new Error(`settled ${settled} of ${items.length}`);
      done += items.length;
    }
    const drainMs = performance.now() - t;
    if (done !== ROWS) throw new Error(`drained ${done} of ${ROWS}`);
    return { enqueue: rate(ROWS, enqueueMs), drain: rate(ROWS, drainMs) };
  } finally {
    await cleanup();
  }
}

const SETTLE = {
  'complete, one by one': async (q, items) => {
    let n = 0;
    for (const item of items) if (await q.complete(item)) n++;
    return n;
  },
  'complete, concurrent': async (q, items) => (await Promise.all(items.map((i) => q.complete(i)))).filter(Boolean).length,
  completeMany: async (q, items) => (await q.completeMany(items)).filter(Boolean).length,
};

async function benchQueue() {
  const { PostgresQueue } = await import(pathToFileURL(path.join(DIST, 'queue/postgres.js')).href);
  const { SqliteQueue } = await import(pathToFileURL(path.join(DIST, 'queue/sqlite.js')).href);
  const drivers = {
    postgres: async () => {
      const schema = nextSchema();
      const queue = new PostgresQueue({ url: DATABASE_URL, schema, poolSize: 10 });
      await queue.open();
      return { queue, cleanup: async () => (await queue.close(), await dropSchema(schema)) };
    },
    sqlite: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'es-bench-'));
      const queue = new SqliteQueue({ path: path.join(dir, 'queue.db') });
      await queue.open();
      return { queue, cleanup: async () => (await queue.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  };
  const results = [];
  for (const [driver, make] of Object.entries(drivers)) {
    for (const [name, settle] of Object.entries(SETTLE)) {
      if (name === 'completeMany') {
        const probe = await make();
        const has = typeof probe.queue.completeMany === 'function';
        await probe.cleanup();
        if (!has) continue;
      }
      const r = await queueRun(make, settle);
      results.push({ driver, settle: name, ...r });
    }
  }
  console.log(`\n## Queue drivers alone (${fmt(ROWS)} rows; enqueue in requests of 100; claim 100, then settle)\n`);
  const base = results.find((r) => r.driver === 'postgres' && r.settle === 'complete, one by one');
  console.log('| driver | settle | claim+settle rows/s | vs postgres one by one | enqueue rows/s |');
  console.log('|---|---|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.driver} | ${r.settle} | ${fmt(r.drain)} | ${base ? (r.drain / base.drain).toFixed(1) + '×' : ''} | ${fmt(r.enqueue)} |`);
  }
  return results;
}

// ------------------------------------------------------------------------------------ serve

const BIN = path.join(DIST, 'bin/extole-stream.js');
const KEY = 'bench-web-key-0123456789';
const SERVE_ENV = { PATH: process.env.PATH ?? '', DATABASE_URL, BENCH_WEB_KEY: KEY, BENCH_EXTOLE_TOKEN: 'bench-extole-token' };

/** Extole stand-in: 200 at once, counts each insert_id (data.partner_conversion_id). */
async function startExtole() {
  const seen = new Set();
  let requests = 0;
  let onAll = () => {};
  let want = Infinity;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const id = JSON.parse(Buffer.concat(chunks).toString('utf8')).data.partner_conversion_id;
      seen.add(id);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"event_id":"1"}');
      if (seen.size >= want) onAll();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    get requests() {
      return requests;
    },
    /** Resolves when `n` distinct events have arrived. */
    until(n) {
      want = n;
      return seen.size >= n ? Promise.resolve() : new Promise((r) => (onAll = r));
    },
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
  };
}

function writeConfig(dir, queueYaml, extoleUrl) {
  mkdirSync(path.join(dir, 'destinations'), { recursive: true });
  writeFileSync(
    path.join(dir, 'extole.config.yaml'),
    `version: 1
destinations: destinations/*.yaml
projects:
  - key: web
    api_key: \${env:BENCH_WEB_KEY}
server:
  log_level: warn
queue:
${queueYaml}
`,
  );
  writeFileSync(
    path.join(dir, 'destinations', 'referrals.yaml'),
    `name: referrals
projects: [web]
extole:
  access_token: \${env:BENCH_EXTOLE_TOKEN}
  base_url: ${extoleUrl}
events:
  - type: "*"
identity:
  email: user_id
properties:
  event: [revenue, currency]
mapping:
  event_name: $lowercase($replace(event_type, " ", "_"))
  data:
    partner_conversion_id: insert_id
delivery:
  concurrency: 32
`,
  );
}

function spawnServe(dir) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd: dir, env: SERVE_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 30_000);
    child.stderr.on('data', (c) => {
      err += c;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], exited: new Promise((r) => child.on('exit', r)) });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${err}`)));
  });
}

/** CPU time (user + system) a process has used, in ms (Linux /proc; 0 elsewhere). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

/** Send events [from, from+count) in /batch requests of 100 from 8 senders, round-robin over `urls`. */
async function send(urls, from, count) {
  let next = from;
  let turn = 0;
  const end = from + count;
  const sender = async () => {
    while (next < end) {
      const start = next;
      next += 100;
      const url = urls[turn++ % urls.length];
      const events = [];
      for (let i = start; i < Math.min(start + 100, end); i++) {
        events.push({ event_type: 'Order Completed', user_id: `u${i}@example.com`, insert_id: `e-${i}`, event_properties: { revenue: i, currency: 'USD' } });
      }
      const res = await fetch(`${url}/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: KEY, events }) });
      await res.text();
      if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, sender));
}

/** One scenario: `servers` serve processes on one queue; events/s end to end and ingest only. */
async function serveRun(label, servers, queueYaml, cleanupQueue) {
  const extole = await startExtole();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'es-bench-serve-'));
  writeConfig(dir, queueYaml(dir), extole.url);
  const procs = [];
  try {
    // One by one: the first creates the schema, the others find it done.
    for (let i = 0; i < servers; i++) procs.push(await spawnServe(dir));
    const urls = procs.map((p) => p.url);
    const WARM = 1000;
    await send(urls, 0, WARM);
    await extole.until(WARM);
    const cpu0 = procs.map((p) => cpuMs(p.child.pid));
    const t0 = performance.now();
    await send(urls, WARM, EVENTS);
    const ingestMs = performance.now() - t0;
    await extole.until(WARM + EVENTS);
    const totalMs = performance.now() - t0;
    const cpu = procs.reduce((sum, p, i) => sum + cpuMs(p.child.pid) - cpu0[i], 0);
    return {
      label,
      servers,
      endToEnd: rate(EVENTS, totalMs),
      ingest: rate(EVENTS, ingestMs),
      cpuPer1000: Math.round((cpu / EVENTS) * 1000),
      duplicates: extole.requests - extole.seen.size,
    };
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await extole.close();
    await cleanupQueue?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchServe() {
  const pgQueue = () => {
    const schema = nextSchema();
    return [(/* dir */) => `  driver: postgres\n  url: \${env:DATABASE_URL}\n  schema: ${schema}`, () => dropSchema(schema)];
  };
  // BENCH_SETUPS=pg1,pg2,sqlite (default all three) picks the setups.
  const setups = (process.env.BENCH_SETUPS ?? 'pg1,pg2,sqlite').split(',');
  const runs = [];
  let pg1, pg2, sq;
  if (setups.includes('pg1')) {
    const [yaml, drop] = pgQueue();
    runs.push((pg1 = await serveRun('postgres, 1 server', 1, yaml, drop)));
  }
  if (setups.includes('pg2')) {
    const [yaml, drop] = pgQueue();
    runs.push((pg2 = await serveRun('postgres, 2 servers', 2, yaml, drop)));
  }
  if (setups.includes('sqlite')) runs.push((sq = await serveRun('sqlite, 1 server', 1, () => '  driver: sqlite\n  path: queue.db')));
  console.log(`\n## End to end through \`serve\` (${fmt(EVENTS)} events after ${fmt(1000)} warm-up; /batch of 100 from 8 senders; 1 destination, concurrency 32; Extole stand-in answers 200 at once; everything on this one machine)\n`);
  if (pg1 && pg2) console.log(`- 2 servers vs 1 server on PostgreSQL: ${(pg2.endToEnd / pg1.endToEnd).toFixed(2)}× end to end, ${(pg2.ingest / pg1.ingest).toFixed(2)}× ingest`);
  if (pg1 && sq) console.log(`- 1 PostgreSQL server vs 1 SQLite server: ${(pg1.endToEnd / sq.endToEnd).toFixed(2)}× end to end, ${(pg1.ingest / sq.ingest).toFixed(2)}× ingest`);
  console.log('\n| setup | events/s end to end (ingest → delivered) | events/s ingest (all 200s) | serve CPU ms per 1,000 events (all servers) | duplicate deliveries |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of runs) console.log(`| ${r.label} | ${fmt(r.endToEnd)} | ${fmt(r.ingest)} | ${fmt(r.cpuPer1000)} | ${r.duplicates} |`);
  return runs;
}

async function main() {
  console.log(`# extole-stream scale-out bench — ${new Date().toISOString()}`);
  console.log(`machine: ${machine()}; PostgreSQL ${await pgVersion()} on the same machine`);
  if (mode === 'queue' || mode === 'all') await benchQueue();
  if (mode === 'serve' || mode === 'all') await benchServe();
}

await main();
