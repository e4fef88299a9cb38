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
 * destinations, with 32 live leases. Reported, median and slowest of 15 `stats` calls, twice: as
 * a CLI run calls it (no claim made), and as a delivering server does (after one claim, which
 * starts the checkpoint worker): how long the call held the event loop, and when it answered.
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

  const out = {};
  for (const mode of ['cli', 'server']) {
    const queue = new SqliteQueue({ path: file });
    await queue.open();
    // A server claims: that starts the checkpoint worker. 'nobody' has no rows: nothing is leased.
    if (mode === 'server') await queue.claim('nobody', 1, now, 60_000);
    const held = [];
    const answered = [];
    let answer;
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const call = queue.stats(now);
      held.push(performance.now() - t0);
      answer = await call;
      answered.push(performance.now() - t0);
    }
    await queue.close();
    const deadSeen = Object.values(answer).reduce((sum, st) => sum + st.deadLetters, 0);
    if (deadSeen !== dead) throw new Error(`stats counted ${deadSeen} dead letters, not ${dead}`);
    out[mode] = { held: spread(held), answered: spread(answered) };
  }
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  return out;
}

/** Median and slowest, in ms. */
function spread(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)].toFixed(1).padStart(6)} / ${sorted[sorted.length - 1].toFixed(1).padStart(6)}`;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'extole-stream-stats-'));
try {
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}; driver ${path.relative(process.cwd(), DRIVER) || DRIVER}`);
  console.log(`${QUEUED.toLocaleString('en-US')} queued rows, 32 leased; ${CALLS} stats calls each\n`);
  console.log('                 ms, median / slowest:   CLI (no claim)                      server (after a claim)');
  console.log('dead letters                            event loop held   answered          event loop held   answered');
  for (const dead of DEAD) {
    const { cli, server } = await measure(dir, dead);
    console.log(`${dead.toLocaleString('en-US').padStart(12)}                            ${cli.held}   ${cli.answered}     ${server.held}   ${server.answered}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
