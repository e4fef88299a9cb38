#!/usr/bin/env node
/**
 * What the `insert_id` de-duplication costs an enqueue, and how that grows with the number of
 * keys the window holds (docs/queue.md, "Sizing").
 *
 *   node bench/dedup-scale.mjs            (run `npm run build` first; BENCH_KEYS=0,100000,1000000)
 *
 * For each window size, a fresh SQLite queue file gets that many random-UUID keys in its
 * `dedup_log` (written directly, as setup), then 20,000 events with fresh UUID insert_ids are
 * enqueued through `SqliteQueue.enqueue` in requests of 100, once with the 7-day window and once
 * with de-duplication off, alternating, 3 rounds. Reported per event: CPU time of this process
 * (all threads) and bytes handed to write(2)/pwrite(2) (WAL frames plus checkpoint copies, from
 * /proc/self/io); and, once per window size, how long the first enqueue took (it loads the
 * connection's in-memory index from the log) and how much the process's RSS grew meanwhile.
 * Informational: nothing here is a target, and the figures vary with the machine.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DRIVER = path.join(REPO, 'dist/queue/sqlite.js');
if (!existsSync(DRIVER)) {
  console.error('dist/queue/sqlite.js is missing: run `npm run build` first');
  process.exit(2);
}
const { SqliteQueue } = await import(pathToFileURL(DRIVER).href);

const EVENTS = 20_000;
const REQUEST = 100;
const WEEK_MS = 7 * 24 * 3600 * 1000;
const KEYS = (process.env.BENCH_KEYS ?? '0,100000,1000000').split(',').map(Number);
const ROUNDS = 3;

// A body and an event of the size the end-to-end benchmark sends (about 0.5 KB each).
const BODY = JSON.stringify({ event_name: 'order_completed', event_time: new Date(0).toISOString(), data: { note: 'x'.repeat(420) } });
const EVENT = JSON.stringify({ event_type: 'Order Completed', event_properties: { note: 'y'.repeat(480) } });

/** Bytes this process has passed to write-type system calls so far (Linux; NaN elsewhere). */
function writtenBytes() {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))[1]);
  } catch {
    return NaN;
  }
}

async function measure(dir, keys, dedup) {
  const file = path.join(dir, `q-${keys}-${dedup ? 'on' : 'off'}.db`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const setup = new SqliteQueue({ path: file });
  await setup.open(); // creates the schema
  await setup.close();
  const raw = new Database(file);
  const insert = raw.prepare('INSERT INTO dedup_log (project, insert_id, first_seen) VALUES (?, ?, ?)');
  const now = Date.now();
  // Seen during the past hour, oldest first, as a running server would have logged them.
  raw.transaction(() => {
    for (let i = 0; i < keys; i++) insert.run('bench', randomUUID(), now - 1 - Math.max(0, 3_600_000 - keys + i));
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();

  const queue = new SqliteQueue({ path: file });
  await queue.open();
  // The first enqueue with de-duplication on loads the index (not part of the per-event figures).
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const load0 = performance.now();
  await queue.enqueue('bench', [{ insertId: randomUUID(), event: EVENT, deliveries: [] }], { now, dedupWindowMs: dedup ? WEEK_MS : 0 });
  const loadMs = performance.now() - load0;
  const loadRssMB = (process.memoryUsage().rss - rss0) / 1048576;
  const requests = [];
  for (let r = 0; r < EVENTS / REQUEST; r++) {
    requests.push(
      Array.from({ length: REQUEST }, () => ({ insertId: randomUUID(), event: EVENT, deliveries: [{ destination: 'bench', path: '/v6/async-events', body: BODY }] })),
    );
  }
  const cpu0 = process.cpuUsage();
  const written0 = writtenBytes();
  for (const events of requests) await queue.enqueue('bench', events, { now, dedupWindowMs: dedup ? WEEK_MS : 0 });
  const cpu = process.cpuUsage(cpu0);
  const written = writtenBytes() - written0;
  await queue.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  return { cpuUs: (cpu.user + cpu.system) / EVENTS, writtenKB: written / EVENTS / 1024, loadMs, loadRssMB };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(path.join(os.tmpdir(), 'extole-stream-dedup-'));
try {
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`);
  console.log(`${EVENTS} events with UUID insert_ids, enqueued in requests of ${REQUEST}; medians of ${ROUNDS} alternating rounds\n`);
  console.log('keys in the window   de-dup on: CPU / written per event   off: CPU / written per event   on ÷ off (CPU, bytes)   index load: time, RSS');
  for (const keys of KEYS) {
    const on = [];
    const off = [];
    for (let round = 0; round < ROUNDS; round++) {
      on.push(await measure(dir, keys, true));
      off.push(await measure(dir, keys, false));
    }
    const m = (list, k) => median(list.map((x) => x[k]));
    const [onCpu, onKB, offCpu, offKB] = [m(on, 'cpuUs'), m(on, 'writtenKB'), m(off, 'cpuUs'), m(off, 'writtenKB')];
    console.log(
      `${keys.toLocaleString('en-US').padStart(18)}   ${onCpu.toFixed(1).padStart(6)} µs / ${onKB.toFixed(2).padStart(5)} KB` +
        `              ${offCpu.toFixed(1).padStart(6)} µs / ${offKB.toFixed(2).padStart(5)} KB        ${(onCpu / offCpu).toFixed(2)}×, ${(onKB / offKB).toFixed(2)}×` +
        `           ${m(on, 'loadMs').toFixed(0).padStart(5)} ms, +${Math.max(0, m(on, 'loadRssMB')).toFixed(0)} MB`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
