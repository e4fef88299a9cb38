#!/usr/bin/env node
/**
 * Soak: does a long-running `serve` stay flat? (docs/operations.md, "Soak")
 *
 *   node bench/soak.mjs [--seconds 60] [--rate 2000] [--reload-ms 200]   (run `npm run build` first)
 *
 * One `serve` (temp config, SQLite queue) delivering to the benchmark's test Extole, while, for
 * the whole run: senders post `/batch` at `--rate` events/s, the config is reloaded every
 * `--reload-ms` (POST /-/reload), `/metrics` and `/status` are scraped every second, and a live
 * viewer (`/events/live`) connects for half a second every second. Then it waits until the test
 * Extole has had one request per accepted event. Reported after a warm-up: the server's JS heap in use after
 * each full garbage collection (from `--trace-gc`) and its trend in MB per minute, and, by
 * thirds of the run, RSS and open file descriptors.
 * Informational: nothing here is a target. A leak shows as a heap that keeps rising with time
 * (the reload leak fixed in session 5 added about 0.6 MB per reload with the example config).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';
import { ADMIN_TOKEN, API_KEY, BENCH_SECRETS, freePort, startTestExtole, writeConfig } from './e2e.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'dist/bin/extole-stream.js');
if (!existsSync(BIN)) {
  console.error('dist/bin/extole-stream.js is missing: run `npm run build` first');
  process.exit(2);
}
const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, rate: { type: 'string', default: '2000' }, 'reload-ms': { type: 'string', default: '200' } },
});
const SECONDS = Number(args.seconds);
const RATE = Number(args.rate);
const RELOAD_MS = Number(args['reload-ms']);
const dir = mkdtempSync(path.join(os.tmpdir(), 'extole-stream-soak-'));
const extole = await startTestExtole();
const port = await freePort();
// The end-to-end benchmark's config (its destination's concurrency is the default, 16), with
// the admin token that reloads, /status and the live view need.
const configPath = writeConfig(dir, { serverPort: port, extoleUrl: extole.url, concurrency: 16, adminToken: true });
// --trace-gc: after each full (mark-compact) collection V8 prints the heap still in use, the
// figure that shows a leak; /metrics's heap gauge also counts garbage not yet collected.
const serve = spawn(process.execPath, ['--trace-gc', BIN, 'serve', '--config', configPath], {
  cwd: dir,
  env: { ...process.env, ...BENCH_SECRETS },
  stdio: ['ignore', 'pipe', 'pipe'],
});
// The banner goes to stderr: kept, and shown if serve does not start. stdout carries the JSON
// log lines (warnings and errors are counted) and V8's GC traces (the heap after each full
// collection is kept).
let serveStderr = '';
serve.stderr.setEncoding('utf8').on('data', (chunk) => (serveStderr = (serveStderr + chunk).slice(-20_000)));
const afterFullGc = []; // main thread: [seconds since the run started (negative before), heap in use MB]
const problems = []; // log lines of level warn (40) and above
let runStart = Infinity;
let mainIsolate; // GC traces name their isolate; the worker threads' have their own, small heaps
let stdoutTail = '';
serve.stdout.setEncoding('utf8').on('data', (chunk) => {
  const lines = (stdoutTail + chunk).split('\n');
  stdoutTail = lines.pop();
  for (const line of lines) {
    const trace = /^\[\d+:(0x[0-9a-f]+)\]/.exec(line);
    if (trace) {
      mainIsolate ??= trace[1]; // the main thread collects first, before any worker starts
      const full = /Mark-Compact[^>]*-> ([\d.]+) \(/.exec(line);
      if (full && trace[1] === mainIsolate) afterFullGc.push([(performance.now() - runStart) / 1000, Number(full[1])]);
    } else if (/^\{"level":(4|5|6)0,/.test(line)) problems.push(line);
  }
});
const url = `http://127.0.0.1:${port}`;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

try {
  for (let i = 0; ; i++) {
    try {
      const { statusCode, body } = await request(`${url}/readyz`);
      await body.dump();
      if (statusCode === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 300 || serve.exitCode !== null) throw new Error(`serve did not become ready:\n${serveStderr}`);
    await sleep(100);
  }

  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serve.pid}/status`, 'utf8'))[1]) / 1024;
  const fds = () => readdirSync(`/proc/${serve.pid}/fd`).length;
  const samples = []; // [seconds since start, RSS MB, open fds]
  const start = performance.now();
  runStart = start;
  const end = Date.now() + SECONDS * 1000;
  const first = { rss: rssMb(), fds: fds() };
  let sent = 0;
  let failed = 0;
  let reloads = 0;
  let reloadFailures = 0;

  const pool = new Pool(url, { connections: 2 });
  const sender = async () => {
    const perBatch = 100;
    const intervalMs = (perBatch / RATE) * 1000 * 2; // two senders
    while (Date.now() < end) {
      const t = performance.now();
      const events = Array.from({ length: perBatch }, (_, i) => ({ event_type: 'Order Completed', user_id: `soak-${sent + i}@example.com`, insert_id: randomUUID(), time: Date.now() }));
      const { statusCode, body } = await pool.request({ method: 'POST', path: '/batch', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: API_KEY, events }) });
      await body.dump();
      if (statusCode === 200) sent += perBatch;
      else failed++;
      await sleep(Math.max(0, intervalMs - (performance.now() - t)));
    }
  };
  const reloader = async () => {
    while (Date.now() < end) {
      const { statusCode, body } = await request(`${url}/-/reload`, { method: 'POST', headers: admin });
      await body.dump();
      if (statusCode === 200) reloads++;
      else reloadFailures++;
      await sleep(RELOAD_MS);
    }
  };
  const scraper = async () => {
    while (Date.now() < end) {
      const { body } = await request(`${url}/metrics`, { headers: admin });
      const text = await body.text();
      if (!text.includes('extole_stream_delivered_events_total')) throw new Error('/metrics lacks the delivery counters');
      samples.push([(performance.now() - start) / 1000, rssMb(), fds()]);
      await (await request(`${url}/status`, { headers: admin })).body.dump();
      await sleep(1000);
    }
  };
  const viewer = async () => {
    while (Date.now() < end) {
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 500);
      try {
        const { body } = await request(`${url}/events/live`, { headers: admin, signal: stop.signal });
        for await (const _chunk of body) {
          // read and drop
        }
      } catch {
        // aborted: the viewer goes away
      }
      await sleep(500);
    }
  };
  await Promise.all([sender(), sender(), reloader(), scraper(), viewer()]);
  await pool.close();

  const deadline = Date.now() + 120_000;
  let seen = 0;
  while ((seen = await extole.count()) < sent && Date.now() < deadline) await sleep(200);
  const last = { rss: rssMb(), fds: fds() };

  // The first seconds are warm-up (code compiled, caches filled, the heap sized): judged after.
  const warmupSeconds = Math.min(10, SECONDS / 5);
  const steady = samples.filter(([t]) => t >= warmupSeconds);
  const steadySeconds = SECONDS - warmupSeconds;
  const third = (list, k) => list.filter(([t]) => t >= warmupSeconds + (k * steadySeconds) / 3 && t < warmupSeconds + ((k + 1) * steadySeconds) / 3);
  const thirds = [0, 1, 2].map((k) => third(steady, k));
  const byThird = (pick) => thirds.map((t) => (t.length > 0 ? pick(t) : '-')).join(' → ');
  // Heap in use after each full collection past the warm-up, and its trend (least squares).
  const gcs = afterFullGc.filter(([t]) => t >= warmupSeconds && t <= SECONDS);
  const shown = gcs.length <= 12 ? gcs : Array.from({ length: 12 }, (_, i) => gcs[Math.round((i * (gcs.length - 1)) / 11)]);
  const meanT = gcs.reduce((a, [t]) => a + t, 0) / gcs.length;
  const meanH = gcs.reduce((a, [, h]) => a + h, 0) / gcs.length;
  const slopePerMinute =
    (60 * gcs.reduce((a, [t, h]) => a + (t - meanT) * (h - meanH), 0)) / gcs.reduce((a, [t]) => a + (t - meanT) ** 2, 0);
  const highest = (k, digits) => (t) => Math.max(...t.map((x) => x[k])).toFixed(digits);
  const cpus = os.cpus();
  console.log(`soak: ${SECONDS} s on ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`);
  console.log(`  reloads            ${reloads} (${reloadFailures} failed), one every ${RELOAD_MS} ms`);
  console.log(`  events             ${sent} accepted with 200 (${failed} requests failed); the test Extole got ${seen} requests for them`);
  console.log(`  after ${warmupSeconds} s of warm-up, by thirds of the rest (${steady.length} samples, one a second):`);
  console.log(`    JS heap          ${shown.map(([, h]) => h.toFixed(1)).join(', ')} MB in use after full collections (${gcs.length} of them)`);
  console.log(`    heap trend       ${gcs.length >= 3 ? `${slopePerMinute >= 0 ? '+' : ''}${slopePerMinute.toFixed(2)} MB per minute (least squares over those collections)` : 'too few full collections to tell: run longer'}`);
  console.log(`    RSS              ${byThird(highest(1, 0))} MB (highest)`);
  console.log(`    file descriptors ${byThird(highest(2, 0))} (highest)`);
  console.log(`  at the start       RSS ${first.rss.toFixed(0)} MB, ${first.fds} descriptors; at the end ${last.rss.toFixed(0)} MB, ${last.fds}`);
  console.log(`  serve's warnings   ${problems.length}${problems.length > 0 ? `, first:\n    ${problems.slice(0, 3).join('\n    ')}` : ''}`);
  if (seen !== sent || failed > 0 || reloadFailures > 0) process.exitCode = 1;
} finally {
  serve.kill('SIGTERM');
  await once(serve, 'exit');
  await extole.stop();
  rmSync(dir, { recursive: true, force: true });
}
