#!/usr/bin/env node
/**
 * What a destination that rejects every event costs the server, against one that accepts them.
 *
 *   node bench/dead-letters.mjs            (run `npm run build` first; BENCH_EVENTS=20000, BENCH_ROUNDS=3)
 *
 * Each round starts `serve` twice on a fresh SQLite queue, in turn: once against the test Extole
 * answering 200 (every event delivered) and once against it answering 400 with a
 * RestExceptionResponse (every event moved to the dead letters). Each time, one unmeasured run of
 * the same size first (V8 warms up), then N events as `/batch` requests of 100 from 4 senders,
 * timed until the test Extole has answered the last of them (then `/status` must show the
 * destination's queue empty). Reported per mode (median round):
 * events/s, `serve`'s CPU per event (all threads, and its main thread) and ingest latency, and
 * the ratio of the two rates. Informational: no target; the figures vary with the machine.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { ADMIN_TOKEN, API_KEY, BENCH_SECRETS, endToEndUnavailable, freePort, startTestExtole, writeConfig } from './e2e.mjs';
import { REPO_ROOT, readRawSamples } from './samples.mjs';
import { describeMachine } from './machine.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = 100;
const SENDERS = 4;

const unavailable = endToEndUnavailable();
if (unavailable !== undefined) {
  console.error(`${unavailable}: run \`npm run build\` first`);
  process.exit(2);
}

/** CPU time (user + system, ms) of a process, or of one of its threads. */
function cpuMs(pid, tid = undefined) {
  const fields = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const raws = readRawSamples().filter((r) => typeof r.time === 'number');
function batches(n) {
  const now = Date.now();
  const out = [];
  for (let i = 0; i < n; i += BATCH) {
    const events = [];
    for (let k = i; k < Math.min(n, i + BATCH); k++) events.push({ ...raws[k % raws.length], user_id: `dl-${k}@example.com`, insert_id: randomUUID(), time: now - 1000 });
    out.push(JSON.stringify({ api_key: API_KEY, events }));
  }
  return out;
}

/** One `serve` against a test Extole that accepts (`reject` false) or rejects every event. */
async function measure(reject) {
  const extole = await startTestExtole({ reject });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'extole-stream-dead-letters-'));
  const port = await freePort();
  const config = writeConfig(dir, { serverPort: port, extoleUrl: extole.url, concurrency: 16, adminToken: true });
  const log = openSync(path.join(dir, 'serve.log'), 'w');
  const serve = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/bin/extole-stream.js'), 'serve', '--config', config], {
    cwd: dir,
    env: { ...process.env, ...BENCH_SECRETS },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: SENDERS });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (Date.now() > deadline || serve.exitCode !== null) throw new Error(`serve did not become ready (log: ${dir}/serve.log)`);
      try {
        const { statusCode, body } = await pool.request({ method: 'GET', path: '/readyz' });
        await body.dump();
        if (statusCode === 200) break;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    const queueOf = async () => {
      const { body } = await pool.request({ method: 'GET', path: '/status', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return JSON.parse(await body.text()).queue.destinations.bench;
    };
    const run = async () => {
      const bodies = batches(EVENTS);
      const cpu0 = cpuMs(serve.pid);
      const main0 = cpuMs(serve.pid, serve.pid);
      const latencies = [];
      let next = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          for (;;) {
            const i = next++;
            if (i >= bodies.length) return;
            const sent = performance.now();
            const { statusCode, body } = await pool.request({ method: 'POST', path: '/batch', headers: { 'content-type': 'application/json' }, body: bodies[i] });
            await body.dump();
            latencies.push(performance.now() - sent);
            if (statusCode !== 200) throw new Error(`ingest answered ${statusCode}`);
          }
        }),
      );
      // Timed to the test Extole's answer to the last event (it says so itself: no polling, which
      // would cost serve a count of every row per /status). Each event is sent once either way.
      if (!(await extole.waitFor(EVENTS, 180_000))) throw new Error(`the test Extole did not see ${EVENTS} events in 180 s`);
      const seconds = (performance.now() - start) / 1000;
      const serveUs = ((cpuMs(serve.pid) - cpu0) * 1000) / EVENTS;
      const mainUs = ((cpuMs(serve.pid, serve.pid) - main0) * 1000) / EVENTS;
      // Then, untimed: every row settled (delivered, or moved to the dead letters).
      let q;
      for (;;) {
        q = await queueOf();
        // No entry: no rows left at all (every one delivered).
        if (q === undefined || (q.pending === 0 && q.leased === 0)) break;
        if (performance.now() - start > 180_000) throw new Error('the queue did not empty in 180 s');
        await sleep(100);
      }
      latencies.sort((a, b) => a - b);
      return {
        eventsPerSecond: EVENTS / seconds,
        serveUs,
        mainUs,
        p50: latencies[Math.floor(latencies.length / 2)],
        p99: latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)],
        deadLetters: q?.deadLetters ?? 0,
        delivered: await extole.count(),
      };
    };
    await run(); // warm-up
    await extole.reset();
    return await run();
  } finally {
    await pool.close();
    serve.kill('SIGTERM');
    if (serve.exitCode === null && serve.signalCode === null) await once(serve, 'exit');
    await extole.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const loadAtStart = describeMachine().loadavg;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rounds = { deliver: [], reject: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['deliver', 'reject']) {
    const result = await measure(mode === 'reject');
    rounds[mode].push(result);
    process.stderr.write(
      `round ${r + 1} ${mode}: ${Math.round(result.eventsPerSecond)} events/s, serve ${Math.round(result.serveUs)} µs/event (main ${Math.round(result.mainUs)}), ingest p99 ${result.p99.toFixed(1)} ms\n`,
    );
  }
}
const m = (mode, key) => median(rounds[mode].map((x) => x[key]));
const ratios = rounds.reject.map((x, i) => x.eventsPerSecond / rounds.deliver[i].eventsPerSecond);
console.log(`dead letters vs deliveries, ${EVENTS.toLocaleString('en-US')} events, median of ${ROUNDS} rounds`);
console.log(`  rate, dead-lettering vs delivering        ${median(ratios).toFixed(2)}x   (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
for (const mode of ['deliver', 'reject']) {
  console.log(
    `  ${mode === 'deliver' ? 'every event delivered (200)  ' : 'every event rejected (400)   '}` +
      `  ${Math.round(m(mode, 'eventsPerSecond')).toLocaleString('en-US')} events/s, serve ${Math.round(m(mode, 'serveUs'))} µs/event` +
      ` (main thread ${Math.round(m(mode, 'mainUs'))}), ingest p50 ${m(mode, 'p50').toFixed(1)} ms, p99 ${m(mode, 'p99').toFixed(1)} ms`,
  );
}
const check = rounds.reject.at(-1);
console.log(`  last round: ${check.deadLetters} dead letters (its warm-up run included), ${check.delivered} requests answered 400 (measured run)`);
const machine = describeMachine();
console.log(`machine: ${machine.cpu} · ${machine.cores} cores · Node ${machine.node} · ${machine.platform} · load average at start ${loadAtStart}`);
