/**
 * Parts 2 and 3: `extole-stream transform` as a whole process (node dist/bin/extole-stream.js).
 *   2. wall time on a temp JSONL of N events (samples cycled, fresh insert_ids), output to
 *      /dev/null, fast path vs forced jsonata (EXTOLE_STREAM_JSONATA_FAST=0, read only by the CLI);
 *   3. RSS of one process fed 1M events generated on the fly into its stdin, sampled from
 *      /proc/<pid>/status every 200 ms.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createWriteStream, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readRawSamples, REPO_ROOT } from './samples.mjs';

const BIN = path.join(REPO_ROOT, 'dist/bin/extole-stream.js');
const PLACEHOLDER = '__BENCH_INSERT_ID__';

/** Environment for the child: no secrets needed by `transform`; the switch set or removed. */
function childEnv(fastPath) {
  const env = { ...process.env };
  delete env.EXTOLE_STREAM_JSONATA_FAST;
  if (!fastPath) env.EXTOLE_STREAM_JSONATA_FAST = '0';
  return env;
}

/**
 * A function `i → one JSON line` cycling the recorded samples with a fresh insert_id each
 * (`$insert_id` for Export-shape samples, `insert_id` otherwise).
 */
export function eventLineGenerator() {
  const templates = readRawSamples().map((raw) => {
    const copy = { ...raw };
    if ('$insert_id' in copy) copy.$insert_id = PLACEHOLDER;
    else copy.insert_id = PLACEHOLDER;
    return JSON.stringify(copy).split(`"${PLACEHOLDER}"`);
  });
  return (i) => {
    const [head, tail] = templates[i % templates.length];
    return `${head}"bench-${i.toString(36).padStart(8, '0')}"${tail}\n`;
  };
}

/** Write `count` generated events to `file` as JSON lines. */
export async function writeEventsFile(file, count) {
  const line = eventLineGenerator();
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += line(i);
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Run `transform FILE > /dev/null`; resolves with wall seconds; rejects on a non-zero exit. */
async function timeTransform(file, fastPath) {
  const devNull = openSync('/dev/null', 'w');
  try {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, 'transform', file], {
      cwd: REPO_ROOT,
      env: childEnv(fastPath),
      stdio: ['ignore', devNull, 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t) => {
      stderr += t;
    });
    const [code] = await once(child, 'exit');
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (code !== 0) throw new Error(`transform exited ${code}: ${stderr.trim().slice(0, 500)}`);
    return seconds;
  } finally {
    closeSync(devNull);
  }
}

/** Output of `transform FILE` (small inputs only: the equality check). */
async function transformOutput(file, fastPath) {
  const child = spawn(process.execPath, [BIN, 'transform', file], { cwd: REPO_ROOT, env: childEnv(fastPath), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`transform exited ${code}: ${stderr.trim().slice(0, 500)}`);
  return stdout;
}

/**
 * Part 2. `opts: { tmpDir, events, repeats }`. Best (minimum) wall time of `repeats` runs per
 * mode, interleaved; the startup cost (same command on an empty file) is measured too.
 */
export async function runWholeProcess({ tmpDir, events = 100_000, repeats = 2, log = () => {} }) {
  const small = path.join(tmpDir, 'equality.jsonl');
  await writeEventsFile(small, 500);
  const [fastOut, slowOut] = [await transformOutput(small, true), await transformOutput(small, false)];
  if (fastOut !== slowOut || fastOut.length === 0) throw new Error('transform prints different output with EXTOLE_STREAM_JSONATA_FAST=0');
  log(`  transform output identical with and without EXTOLE_STREAM_JSONATA_FAST=0 (500 events, ${fastOut.split('\n').length - 1} lines)`);

  const empty = path.join(tmpDir, 'empty.jsonl');
  await writeEventsFile(empty, 0);
  const file = path.join(tmpDir, `events-${events}.jsonl`);
  await writeEventsFile(file, events);
  const bytes = readFileSync(file).length;

  const startup = [];
  const fast = [];
  const slow = [];
  for (let r = 0; r < repeats; r++) {
    startup.push(await timeTransform(empty, true));
    fast.push(await timeTransform(file, true));
    slow.push(await timeTransform(file, false));
  }
  const best = (xs) => Math.min(...xs);
  const startupSeconds = best(startup);
  const fastSeconds = best(fast);
  const slowSeconds = best(slow);
  return {
    events,
    fileMB: bytes / 1e6,
    repeats,
    startupSeconds,
    fast: { seconds: fastSeconds, eventsPerSecond: events / fastSeconds, eventsPerSecondAfterStartup: events / (fastSeconds - startupSeconds) },
    jsonata: { seconds: slowSeconds, eventsPerSecond: events / slowSeconds, eventsPerSecondAfterStartup: events / (slowSeconds - startupSeconds) },
    ratio: slowSeconds / fastSeconds,
  };
}

function readRssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined; // the process is gone
  }
}

/**
 * Part 3. One `transform` process (stdin) fed `events` generated lines with backpressure; RSS
 * sampled every `intervalMs`. Returns undefined with a reason when /proc is not there.
 */
export async function runMemory({ events = 1_000_000, checkpoint = 100_000, intervalMs = 200, fastPath = true, log = () => {} }) {
  if (!existsSync('/proc/self/status')) return { skipped: 'no /proc/<pid>/status on this system' };
  const devNull = openSync('/dev/null', 'w');
  const child = spawn(process.execPath, [BIN, 'transform'], {
    cwd: REPO_ROOT,
    env: childEnv(fastPath),
    stdio: ['pipe', devNull, 'pipe'],
  });
  closeSync(devNull);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
  const exited = once(child, 'exit');

  let written = 0;
  const samples = [];
  const timer = setInterval(() => {
    const rss = readRssBytes(child.pid);
    if (rss !== undefined) samples.push({ written, rss, t: performance.now() });
  }, intervalMs);

  const line = eventLineGenerator();
  const start = performance.now();
  const stdin = child.stdin;
  let broken = false;
  stdin.on('error', () => (broken = true));
  let chunk = '';
  for (let i = 0; i < events && !broken; i++) {
    chunk += line(i);
    if (chunk.length >= 64 * 1024) {
      written = i + 1;
      if (!stdin.write(chunk)) await once(stdin, 'drain');
      chunk = '';
    }
  }
  written = events;
  stdin.end(chunk);
  // One last sample while the tail is processed, then wait for the end.
  const [code] = await exited;
  clearInterval(timer);
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`transform exited ${code}: ${stderr.trim().slice(0, 500)}`);
  if (samples.length < 3) throw new Error('too few RSS samples; the run was too short');

  const atCheckpoint = samples.find((s) => s.written >= checkpoint) ?? samples[0];
  const beforeEnd = samples.filter((s) => s.written >= events);
  const atEnd = (beforeEnd.length > 0 ? beforeEnd[0] : samples[samples.length - 1]);
  const afterCheckpoint = samples.filter((s) => s.t >= atCheckpoint.t);
  const peak = Math.max(...afterCheckpoint.map((s) => s.rss));
  log(`  ${samples.length} RSS samples over ${seconds.toFixed(1)} s`);
  return {
    events,
    checkpoint,
    seconds,
    eventsPerSecond: events / seconds,
    rssAtCheckpointMB: atCheckpoint.rss / 2 ** 20,
    rssAtEndMB: atEnd.rss / 2 ** 20,
    rssPeakMB: peak / 2 ** 20,
    growthMB: (peak - atCheckpoint.rss) / 2 ** 20,
    growthRatio: peak / atCheckpoint.rss,
    curve: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 10)) === 0).map((s) => [s.written, Math.round(s.rss / 2 ** 20)]),
  };
}
