#!/usr/bin/env node
/**
 * How long `SqliteQueue.stats` holds the event loop as the queue and the dead letters grow
 * (`stats` answers every `/status` and every `/metrics` scrape, on the event loop).
 *
 *   node bench/queue-stats.mjs          (run `npm run build` first)
 *   BENCH_QUEUED=200000 BENCH_DEAD=0,100000,1000000 BENCH_DIST=/other/checkout/dist node bench/queue-stats.mjs
 *
 * For each dead-letter count, a fresh SQLite queue file is opened by the driver under test (so it
 * has that version's schema), then filled directly: BENCH_QUEUED delivery rows (bodies and events
 * of about 0.5 KB, as the end-to-end benchmark sends) and that many dead letters, over two
 * destinations, with 32 live leases. Reported: the median and the slowest of 15 `stats` calls.
 * Informational: nothing here is a target, and the figures vary with the machine.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.BENCH_DIST ?? path.join(REPO, 'dist');
const DRIVER = path.join(DIST, 'queue/sqlite.js');
if (!existsSync(DRIVER)) {
  console.error(`${DRIVER} is missing: run \`npm run build\` first`);
  process.exit(2);
}
const { SqliteQueue } = await import(pathToFileURL(DRIVER).href);

const QUEUED = Number(process.env.BENCH_QUEUED ?? 200_000);
const DEAD = (process.env.BENCH_DEAD ?? '0,100000,1000000').split(',').map(Number);
const CALLS = 15;
const BODY = JSON.stringify({ event_name: 'order_completed', event_time: new Date(0).toISOString(), data: { note: 'x'.repeat(420) } });
const EVENT = JSON.stringify({ event_type: 'Order Completed', event_properties: { note: 'y'.repeat(480) } });

async function measure(dir, dead) {
  const file = path.join(dir, `q-${dead}.db`);
  const setup = new SqliteQueue({ path: file });
  await setup.open(); // this version's schema
  await setup.close();
  const raw = new Database(file);
  const now = Date.now();
  const insertRow = raw.prepare('INSERT INTO deliveries (destination, project, insert_id, path, body, event, enqueued_at, run_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertDead = raw.prepare(
    `INSERT INTO dead_letters (id, destination, project, event, request, reason, http_status, attempts, first_attempt_at, last_attempt_at, config_revision, created_at)
     VALUES (?, ?, 'bench', ?, ?, 'rejected', 400, 1, ?, ?, 'rev', ?)`,
  );
  const insertLease = raw.prepare('INSERT INTO leases (id, token, until) VALUES (?, ?, ?)');
  raw.transaction(() => {
    for (let i = 0; i < QUEUED; i++) insertRow.run(i % 2 ? 'referrals' : 'loyalty', 'bench', `q${i}`, '/v6/async-events', BODY, EVENT, now - QUEUED + i, now - QUEUED + i);
    // Dead letters keep the delivery's id: ids past the queued rows'.
    for (let i = 0; i < dead; i++) insertDead.run(QUEUED + 1 + i, i % 2 ? 'referrals' : 'loyalty', EVENT, BODY, now, now, now);
    for (let i = 1; i <= 32; i++) insertLease.run(i, 'bench-lease', now + 60_000);
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();

  const queue = new SqliteQueue({ path: file });
  await queue.open();
  const times = [];
  let answer;
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    answer = await queue.stats(now);
    times.push(performance.now() - t0);
  }
  await queue.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const sorted = times.sort((a, b) => a - b);
  const deadSeen = Object.values(answer).reduce((sum, s) => sum + s.deadLetters, 0);
  if (deadSeen !== dead) throw new Error(`stats counted ${deadSeen} dead letters, not ${dead}`);
  return { median: sorted[Math.floor(CALLS / 2)], max: sorted[CALLS - 1] };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'extole-stream-stats-'));
try {
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}; driver ${path.relative(process.cwd(), DRIVER) || DRIVER}`);
  console.log(`${QUEUED.toLocaleString('en-US')} queued rows, 32 leased; ${CALLS} stats calls each\n`);
  console.log('dead letters     stats: median    slowest');
  for (const dead of DEAD) {
    const { median, max } = await measure(dir, dead);
    console.log(`${dead.toLocaleString('en-US').padStart(12)}     ${median.toFixed(1).padStart(8)} ms  ${max.toFixed(1).padStart(7)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
