/**
 * Part 4: end to end. `extole-stream serve` on a temp config whose one destination points at a
 * local test Extole (bench/test-extole.mjs, a child process answering 200 `{event_id}`), with a
 * temp SQLite queue. N events go in over HTTP (`POST /batch`, batches of 100, a few concurrent
 * senders on an undici Pool); measured: ingest latency per batch (200 = durably queued) p50/p99,
 * and end-to-end events/s until the test Extole has seen every event. The ceiling is the same
 * test Extole fed directly by an undici Pool with the destination's delivery concurrency,
 * measured just before and again just after serve's run (serve stopped); the mean of the two.
 *
 * Runs only when the built server is there and `serve` becomes ready; otherwise it reports why
 * it was skipped.
 */
import { fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { readRawSamples, REPO_ROOT } from './samples.mjs';

const BIN = path.join(REPO_ROOT, 'dist/bin/extole-stream.js');
/** serve's User-Agent carries it (src/version.ts); the direct client sends the same header. */
const PACKAGE_VERSION = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
const SERVER_PARTS = ['dist/cli/commands/serve.js', 'dist/server/app.js', 'dist/runtime/runtime.js'];
export const API_KEY = 'bench-amplitude-key-0001';
export const ADMIN_TOKEN = 'bench-admin-token-0001';
/** The secrets `writeConfig`'s files refer to, for serve's environment. */
export const BENCH_SECRETS = { BENCH_AMPLITUDE_API_KEY: API_KEY, BENCH_EXTOLE_TOKEN: 'bench-extole-token', BENCH_ADMIN_TOKEN: ADMIN_TOKEN };

/** Why the end-to-end part cannot run, or undefined when it can try. */
export function endToEndUnavailable() {
  const missing = SERVER_PARTS.filter((p) => !existsSync(path.join(REPO_ROOT, p)));
  return missing.length > 0 ? `the server is not built (${missing.join(', ')} missing)` : undefined;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * The test Extole child: `{ url, count(), reset(), stop() }`. With `reject`, it answers every
 * request 400 (a RestExceptionResponse): each delivery becomes a dead letter.
 */
export async function startTestExtole({ reject = false } = {}) {
  const env = { ...process.env, TEST_EXTOLE_REJECT: reject ? '1' : '0' };
  const child = fork(path.join(REPO_ROOT, 'bench/test-extole.mjs'), [], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const [{ port }] = await once(child, 'message');
  const ask = async (message) => {
    child.send(message);
    // A `waitFor`'s `{ reached }` is not the answer to this question.
    for (;;) {
      const [answer] = await once(child, 'message');
      if (answer?.reached === undefined) return answer;
    }
  };
  return {
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    count: async () => (await ask('count')).count,
    /** Requests and body bytes counted since the last reset. */
    counted: async () => {
      const { count, bytes } = await ask('count');
      return { count, bytes };
    },
    /**
     * Resolves true as soon as the test Extole has counted `n` requests (it says so itself, so
     * the moment is not rounded up to a polling interval), or false after `timeoutMs` or when
     * `stopWaiting()` turns true (checked every 100 ms).
     */
    waitFor: (n, timeoutMs, stopWaiting = () => false) =>
      new Promise((resolve) => {
        const finish = (reached) => {
          child.off('message', onMessage);
          clearInterval(timer);
          resolve(reached);
        };
        const onMessage = (message) => {
          if (message?.reached === n) finish(true);
        };
        const deadline = Date.now() + timeoutMs;
        const timer = setInterval(() => {
          if (Date.now() > deadline || stopWaiting()) finish(false);
        }, 100);
        child.on('message', onMessage);
        child.send({ waitFor: n });
      }),
    reset: () => ask('reset'),
    stop: async () => {
      child.send('stop');
      await once(child, 'exit');
    },
  };
}

/** This process's CPU time (user + system) so far, in ms. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * CPU time (user + system) a process has used, in ms (Linux /proc; NaN elsewhere). With `thread`,
 * only that thread's (the main thread's id is the process id).
 */
function cpuMs(pid, thread) {
  try {
    const { user, system } = statCpu(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`);
    return user + system;
  } catch {
    return NaN;
  }
}

/** User and system CPU time, in ms, from a /proc `stat` file (a process's or a thread's). */
function statCpu(statPath) {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100/s on Linux).
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

/** Per-thread CPU of a process: Map tid → { name, user, system } in ms (Linux /proc; empty elsewhere). */
function threadCpu(pid) {
  const threads = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        threads.set(tid, { name, ...statCpu(`/proc/${pid}/task/${tid}/stat`) });
      } catch {
        // the thread ended between the listing and the read
      }
    }
  } catch {
    // not Linux
  }
  return threads;
}

/** `tid:name user+system` (µs per event) of each thread that used at least 1 µs per event between two `threadCpu` readings. */
function threadCpuEach(before, after, events) {
  const out = [];
  for (const [tid, t] of after) {
    const b = before.get(tid) ?? { user: 0, system: 0 };
    const u = ((t.user - b.user) * 1000) / events, sy = ((t.system - b.system) * 1000) / events;
    if (u + sy >= 1) out.push(`${tid}:${t.name} ${Math.round(u)}+${Math.round(sy)}`);
  }
  return out.join(', ');
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * N HTTP V2 events from the http-v2 samples, each with its own email user_id and a random UUID
 * insert_id, as Amplitude's SDKs make them. (Sequential ids would flatter the queue: its
 * de-duplication index would take them in order instead of at random pages.)
 */
function buildEvents(n) {
  const raws = readRawSamples().filter((r) => typeof r.time === 'number');
  const now = Date.now();
  const events = new Array(n);
  for (let i = 0; i < n; i++) {
    const raw = raws[i % raws.length];
    events[i] = { ...raw, user_id: `bench-${i}@example.com`, insert_id: randomUUID(), time: now - 1000 };
    // BENCH_NON_ASCII=1: one non-ASCII property per event, as names, cities and product titles
    // often are (the samples are ASCII).
    if (process.env.BENCH_NON_ASCII === '1') events[i].event_properties = { ...raw.event_properties, city: 'Zürich' };
  }
  return events;
}

/**
 * Feed `bodies` through `concurrency` workers on `pool`; returns per-request latencies (ms).
 * Any non-2xx answer is an error (the benchmark must not count failures as speed).
 */
async function drive(pool, requestFor, count, concurrency) {
  const latencies = new Array(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const start = performance.now();
      const { statusCode, body } = await pool.request(requestFor(i));
      const text = await body.text();
      latencies[i] = performance.now() - start;
      if (statusCode < 200 || statusCode >= 300) throw new Error(`HTTP ${statusCode}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

/**
 * Write the temp config (root file + one destination) and return its path. With `adminToken`,
 * `/status`, `/-/reload` and `/events/live` take `Bearer ADMIN_TOKEN`. Secrets: `BENCH_SECRETS`.
 */
export function writeConfig(dir, { serverPort, extoleUrl, concurrency, adminToken = false }) {
  mkdirSync(path.join(dir, 'destinations'), { recursive: true });
  writeFileSync(
    path.join(dir, 'extole.config.yaml'),
    [
      'version: 1',
      'destinations: destinations/*.yaml',
      'projects:',
      '  - key: bench',
      '    api_key: ${env:BENCH_AMPLITUDE_API_KEY}',
      'server:',
      '  host: 127.0.0.1',
      `  port: ${serverPort}`,
      '  log_level: warn',
      // BENCH_DEDUP_WINDOW, e.g. "0s", to see what de-duplication costs end to end.
      ...(process.env.BENCH_DEDUP_WINDOW ? [`  dedup_window: ${process.env.BENCH_DEDUP_WINDOW}`] : []),
      // BENCH_INGEST_THREADS, e.g. "0", to compare reading bodies in the event loop.
      ...(process.env.BENCH_INGEST_THREADS ? [`  ingest_threads: ${process.env.BENCH_INGEST_THREADS}`] : []),
      ...(adminToken ? ['  admin_token: ${env:BENCH_ADMIN_TOKEN}'] : []),
      'queue:',
      '  driver: sqlite',
      '  path: queue.db',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'destinations', 'bench.yaml'),
    [
      'name: bench',
      'projects: [bench]',
      'extole:',
      '  access_token: ${env:BENCH_EXTOLE_TOKEN}',
      `  base_url: ${extoleUrl}`,
      '  endpoint: async-events',
      'events:',
      '  - type: "*"',
      'identity:',
      '  email: user_id',
      'properties:',
      '  event: "*"',
      '  user: [plan]',
      'mapping:',
      '  data:',
      '    partner_conversion_id: insert_id',
      'delivery:',
      `  concurrency: ${concurrency}`,
      '',
    ].join('\n'),
  );
  return path.join(dir, 'extole.config.yaml');
}

/**
 * @param opts `{ tmpDir, events, batchSize, senders, concurrency, warmups, log }`; `warmups` (default 2,
 *   `BENCH_WARMUPS`) is how many unmeasured runs of `events` the direct client and serve each get first
 */
export async function runEndToEnd({ tmpDir, events = 20_000, batchSize = 100, senders = 4, concurrency = 16, warmups = Number(process.env.BENCH_WARMUPS ?? 2), log = () => {} }) {
  const unavailable = endToEndUnavailable();
  if (unavailable !== undefined) return { skipped: unavailable };

  const extole = await startTestExtole();
  let serve;
  try {
    const eventList = buildEvents(events);

    // ---- ceiling: the test Extole fed directly ------------------------------------------
    // The same requests serve sends for the bench destination (writeConfig): its body (the user
    // property `plan` first, then the event's properties) and its SPEC §3.1 headers, so the test
    // Extole parses the same bytes on both sides; the run reports both sides' body bytes. Bodies
    // are encoded once, here and for the senders below: the load generator shares the cores with
    // what it measures, and encoding each 70 KB /batch string to UTF-8 on every send was half of
    // the senders' CPU (session 14: 8.4–11.3 against 4.3–5.5 µs per event).
    const directBodies = eventList.map((e) =>
      Buffer.from(
        JSON.stringify({
          event_name: e.event_type,
          event_time: new Date(e.time).toISOString(),
          data: {
            ...(e.user_properties?.plan !== undefined ? { plan: e.user_properties.plan } : {}),
            ...e.event_properties,
            partner_conversion_id: e.insert_id,
            extole_app_type: 'extole-stream',
            email: e.user_id,
          },
        }),
      ),
    );
    const directHeaders = {
      authorization: `Bearer ${BENCH_SECRETS.BENCH_EXTOLE_TOKEN}`,
      'content-type': 'application/json',
      'user-agent': `extole-stream/${PACKAGE_VERSION}`,
      accept: 'application/json',
    };
    const directRequest = (i) => ({ method: 'POST', path: '/v6/async-events', headers: directHeaders, body: directBodies[i] });
    /** One measured run of the direct client: seconds, events/s and CPU per event of client and test Extole. */
    const measureDirect = async () => {
      const direct = new Pool(extole.url, { connections: concurrency });
      try {
        const bytes0 = (await extole.counted()).bytes;
        const cpu0 = { client: ownCpuMs(), extole: cpuMs(extole.pid) };
        const started = performance.now();
        await drive(direct, directRequest, events, concurrency);
        const seconds = (performance.now() - started) / 1000;
        // µs of CPU per event, per process: where the machine's cores went.
        const cpu = { client: ((ownCpuMs() - cpu0.client) * 1000) / events, extole: ((cpuMs(extole.pid) - cpu0.extole) * 1000) / events };
        const { bytes } = await extole.counted();
        return { seconds, eventsPerSecond: events / seconds, cpu, bodyBytes: (bytes - bytes0) / events };
      } finally {
        await direct.close();
        await extole.reset();
      }
    };
    // Warm-up: `warmups` runs as long as the measured one. After 2,000 requests V8 was still
    // optimizing the client (four runs of 20k in one process after them: 16k, 27k, 31k, 29k
    // requests/s), and after one run of 20k the second measurement of a round (after serve)
    // came out faster than the first in 4 of 5 rounds (session 9).
    for (let w = 0; w < warmups; w++) {
      const warmDirect = new Pool(extole.url, { connections: concurrency });
      await drive(warmDirect, directRequest, events, concurrency);
      await warmDirect.close();
      await extole.reset();
    }
    const directBefore = await measureDirect();
    log(`  direct: ${events} requests in ${directBefore.seconds.toFixed(2)} s`);

    // ---- serve --------------------------------------------------------------------------
    const serverPort = await freePort();
    const configPath = writeConfig(tmpDir, { serverPort, extoleUrl: extole.url, concurrency });
    const logFile = path.join(tmpDir, 'serve.log');
    const logFd = openSync(logFile, 'w');
    // BENCH_SERVE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to look inside serve.
    const nodeArgs = (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    serve = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--config', configPath], {
      cwd: tmpDir,
      env: { ...process.env, ...BENCH_SECRETS },
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    let exited = false;
    serve.once('exit', () => (exited = true));
    const serverUrl = `http://127.0.0.1:${serverPort}`;
    const ready = await waitReady(serverUrl, () => exited, 30_000);
    if (!ready) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ');
      return { skipped: `serve did not become ready in 30 s (${exited ? 'it exited' : 'still starting'}): ${tail.slice(0, 400)}` };
    }

    // `/batch` bodies of `batchSize` events (encoded once, as the direct client's), and the request for the i-th of them.
    const toBatches = (list) => {
      const bodies = [];
      for (let i = 0; i < list.length; i += batchSize) bodies.push(Buffer.from(JSON.stringify({ api_key: API_KEY, events: list.slice(i, i + batchSize) })));
      return bodies;
    };
    const batchRequest = (bodies) => (i) => ({ method: 'POST', path: '/batch', headers: { 'content-type': 'application/json' }, body: bodies[i] });
    const batches = toBatches(eventList);

    // Warm-up, as much as the direct path gets: `warmups` times the measured number of events
    // through the whole pipeline (with their own insert_ids, so de-duplication drops none of the
    // measured ones), each time until the test Extole has seen them all. Without it the measured
    // window includes V8 compiling serve's hot paths on the same two cores.
    const warmupEvents = events;
    for (let w = 0; w < warmups; w++) {
      const warmBatches = toBatches(buildEvents(warmupEvents));
      const warmPool = new Pool(serverUrl, { connections: senders });
      await drive(warmPool, batchRequest(warmBatches), warmBatches.length, senders);
      await warmPool.close();
      await extole.waitFor(warmupEvents, 60_000, () => exited);
      const warmSeen = await extole.count();
      if (warmSeen < warmupEvents) throw new Error(`warm-up: the test Extole saw ${warmSeen} of ${warmupEvents} events (serve log: ${logFile})`);
      await extole.reset();
    }
    // serve's CPU from here on, per event: steadier than events/s on a shared machine.
    const serveCpu0 = cpuMs(serve.pid);
    const serveMainCpu0 = cpuMs(serve.pid, serve.pid);
    const serveThreads0 = threadCpu(serve.pid);
    const cpu0 = { senders: ownCpuMs(), extole: cpuMs(extole.pid) };
    const ingest = new Pool(serverUrl, { connections: senders });
    const start = performance.now();
    const latencies = await drive(ingest, batchRequest(batches), batches.length, senders);
    const ingestSeconds = (performance.now() - start) / 1000;
    await ingest.close();
    // Delivered while ingestion was still running: ingest and delivery share serve's event loop.
    const deliveredDuringIngest = await extole.count();

    await extole.waitFor(events, 180_000, () => exited);
    const endToEndSeconds = (performance.now() - start) / 1000;
    const { count: seen, bytes: serveBytes } = await extole.counted();
    const serveCpuMs = cpuMs(serve.pid) - serveCpu0;
    const endToEndCpu = {
      serve: (serveCpuMs * 1000) / events,
      // Of which serve's main thread: ingest, queue calls and sends all run there, one core at most.
      serveMain: ((cpuMs(serve.pid, serve.pid) - serveMainCpu0) * 1000) / events,
      extole: ((cpuMs(extole.pid) - cpu0.extole) * 1000) / events,
      // The senders, plus this process polling the test Extole's count every 20 ms.
      senders: ((ownCpuMs() - cpu0.senders) * 1000) / events,
    };
    log(`  serve CPU: ${Math.round(serveCpuMs)} ms for ${events} events (${((serveCpuMs / events) * 1000).toFixed(0)} ms per 1,000)`);
    log(`  serve CPU by thread, µs per event (user+system): ${threadCpuEach(serveThreads0, threadCpu(serve.pid), events)}`);
    if (seen < events) throw new Error(`the test Extole saw ${seen} of ${events} events (serve log: ${logFile})`);

    const extraDeliveries = (await extole.count()) - events;
    latencies.sort((a, b) => a - b);

    // The ceiling again, right after serve: the VM's speed drifts over a round (the direct
    // figure alone moved between 12k and 24k requests/s within minutes here), so serve is
    // compared with the mean of the ceilings measured just before and just after it. serve is
    // stopped first, so it takes no CPU from this run.
    await stopServe(serve, log);
    const directAfter = await measureDirect();
    log(`  direct again: ${events} requests in ${directAfter.seconds.toFixed(2)} s`);
    const directEventsPerSecond = (directBefore.eventsPerSecond + directAfter.eventsPerSecond) / 2;
    const directCpu = {
      client: (directBefore.cpu.client + directAfter.cpu.client) / 2,
      extole: (directBefore.cpu.extole + directAfter.cpu.extole) / 2,
    };
    const endToEndEventsPerSecond = events / endToEndSeconds;
    return {
      events,
      warmups,
      batchSize,
      senders,
      concurrency,
      ingest: {
        seconds: ingestSeconds,
        eventsPerSecond: events / ingestSeconds,
        p50ms: percentile(latencies, 50),
        p99ms: percentile(latencies, 99),
        maxms: latencies[latencies.length - 1],
      },
      endToEnd: { seconds: endToEndSeconds, eventsPerSecond: endToEndEventsPerSecond },
      /** serve's CPU time (user + system) from the first send until the test Extole saw every event. */
      serveCpuMsPer1000: (serveCpuMs / events) * 1000,
      /** The ceiling: the mean of the runs just before and just after serve's. */
      direct: { eventsPerSecond: directEventsPerSecond, before: directBefore, after: directAfter },
      delivery: {
        deliveredDuringIngest,
        /** Delivery rate while ingestion ran, and after it (the backlog draining alone). */
        duringIngestPerSecond: deliveredDuringIngest / ingestSeconds,
        drainPerSecond: endToEndSeconds > ingestSeconds ? (events - deliveredDuringIngest) / (endToEndSeconds - ingestSeconds) : NaN,
      },
      cpu: cpuBudget({ directCpu, endToEndCpu, directEventsPerSecond }),
      ratio: endToEndEventsPerSecond / directEventsPerSecond,
      /** The same against the run before serve only (how this benchmark computed it until session 9). */
      ratioToDirectBefore: endToEndEventsPerSecond / directBefore.eventsPerSecond,
      extraDeliveries,
      /** Request body bytes per event the test Extole read: the direct client's (mean of its two runs) and serve's. */
      bodyBytes: { direct: (directBefore.bodyBytes + directAfter.bodyBytes) / 2, serve: serveBytes / seen },
    };
  } finally {
    if (serve !== undefined) await stopServe(serve, log);
    await extole.stop();
  }
}

/** SIGTERM to serve, SIGKILL after 35 s; resolves once it exited (at once if it already had). */
async function stopServe(serve, log) {
  if (serve.exitCode !== null || serve.signalCode !== null) return;
  const stopStart = performance.now();
  serve.kill('SIGTERM');
  const how = await Promise.race([once(serve, 'exit').then(() => 'exit'), sleep(35_000, undefined, { ref: false }).then(() => 'timeout')]);
  if (how === 'timeout') {
    serve.kill('SIGKILL');
    if (serve.exitCode === null && serve.signalCode === null) await once(serve, 'exit');
    log('  serve did not exit within 35 s of SIGTERM (killed)');
  } else log(`  serve exited ${((performance.now() - stopStart) / 1000).toFixed(1)} s after SIGTERM`);
}

/**
 * Where the CPU goes, per event (µs), and what that allows on this machine. Every process of the
 * benchmark shares the same cores, so the end-to-end rate cannot exceed cores ÷ (CPU per event
 * of serve + test Extole + senders), however well the work is spread over threads: that is
 * `ceilingPerSecond`. `serveBudgetUs` is the serve CPU per event at which that ceiling would
 * reach the target ratio (0.5x), with the test Extole and senders costing what they did.
 */
function cpuBudget({ directCpu, endToEndCpu, directEventsPerSecond, target = 0.5 }) {
  const cores = os.cpus().length;
  const directTotal = directCpu.client + directCpu.extole;
  const endToEndTotal = endToEndCpu.serve + endToEndCpu.extole + endToEndCpu.senders;
  const ceilingPerSecond = (cores * 1e6) / endToEndTotal;
  return {
    cores,
    direct: { ...directCpu, total: directTotal },
    endToEnd: { ...endToEndCpu, total: endToEndTotal },
    ceilingPerSecond,
    ceilingRatio: ceilingPerSecond / directEventsPerSecond,
    /** serve's main thread can use one core at most: a second ceiling, 1 s ÷ its CPU per event. */
    mainThreadCeilingPerSecond: 1e6 / endToEndCpu.serveMain,
    mainThreadCeilingRatio: 1e6 / endToEndCpu.serveMain / directEventsPerSecond,
    /** The main-thread CPU per event at which that ceiling would reach the target. */
    mainThreadBudgetUs: 1e6 / (target * directEventsPerSecond),
    serveBudgetUs: (cores * 1e6) / (target * directEventsPerSecond) - endToEndCpu.extole - endToEndCpu.senders,
  };
}

async function waitReady(url, hasExited, timeoutMs) {
  const pool = new Pool(url, { connections: 1 });
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !hasExited()) {
      try {
        const { statusCode, body } = await pool.request({ method: 'GET', path: '/readyz' });
        await body.dump();
        if (statusCode === 200) return true;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    return false;
  } finally {
    await pool.close();
  }
}
