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
 * Extole has seen every event once. Reported: reloads, events sent and delivered, and the
 * server's JS heap in use (the lowest sample of the first and of the last fifth of the run,
 * which is what survives garbage collection), RSS and open file descriptors, first and last.
 * Informational: nothing here is a target. A leak shows as a heap that keeps rising with time
 * (the reload leak fixed in session 5 added about 0.6 MB per reload).
 */
import { fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';

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
const API_KEY = 'soak-amplitude-key-0001';
const ADMIN = 'soak-admin-token-0001';

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'extole-stream-soak-'));
const extole = fork(path.join(REPO, 'bench/test-extole.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const [{ port: extolePort }] = await once(extole, 'message');
const askExtole = async (message) => {
  extole.send(message);
  const [answer] = await once(extole, 'message');
  return answer;
};
const port = await freePort();
mkdirSync(path.join(dir, 'destinations'));
writeFileSync(
  path.join(dir, 'extole.config.yaml'),
  `version: 1
destinations: destinations/*.yaml
projects:
  - key: soak
    api_key: \${env:SOAK_API_KEY}
server:
  host: 127.0.0.1
  port: ${port}
  log_level: warn
  admin_token: \${env:SOAK_ADMIN_TOKEN}
queue:
  path: queue.db
`,
);
writeFileSync(
  path.join(dir, 'destinations', 'soak.yaml'),
  `name: soak
projects: [soak]
extole:
  access_token: \${env:SOAK_EXTOLE_TOKEN}
  base_url: http://127.0.0.1:${extolePort}
events:
  - type: "*"
identity:
  email: user_id
mapping:
  data:
    partner_conversion_id: insert_id
`,
);
const serve = spawn(process.execPath, [BIN, 'serve', '--config', path.join(dir, 'extole.config.yaml')], {
  cwd: dir,
  env: { ...process.env, SOAK_API_KEY: API_KEY, SOAK_ADMIN_TOKEN: ADMIN, SOAK_EXTOLE_TOKEN: 'soak-extole-token' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
// The banner and warnings go to stderr: kept, and shown only if something goes wrong.
let serveStderr = '';
serve.stderr.setEncoding('utf8').on('data', (chunk) => (serveStderr = (serveStderr + chunk).slice(-20_000)));
const url = `http://127.0.0.1:${port}`;
const admin = { authorization: `Bearer ${ADMIN}` };

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
  const samples = []; // [seconds since start, heap used MB, RSS MB, open fds]
  const start = performance.now();
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
      const heap = /^extole_stream_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
      if (heap) samples.push([(performance.now() - start) / 1000, Number(heap[1]) / 2 ** 20, rssMb(), fds()]);
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
  while ((seen = (await askExtole('count')).count) < sent && Date.now() < deadline) await sleep(200);
  const last = { rss: rssMb(), fds: fds() };

  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const lowest = (list) => Math.min(...list.map(([, mb]) => mb));
  const heapFirst = lowest(samples.slice(0, fifth));
  const heapLast = lowest(samples.slice(-fifth));
  const cpus = os.cpus();
  console.log(`soak: ${SECONDS} s on ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`);
  console.log(`  reloads            ${reloads} (${reloadFailures} failed), one every ${RELOAD_MS} ms`);
  console.log(`  events             ${sent} sent with 200 (${failed} requests failed), ${seen} delivered${seen === sent ? ', each once' : ''}`);
  console.log(`  JS heap in use     ${heapFirst.toFixed(1)} MB in the first fifth → ${heapLast.toFixed(1)} MB in the last (lowest samples; ${samples.length} samples)`);
  console.log(`  RSS                ${first.rss.toFixed(0)} → ${last.rss.toFixed(0)} MB`);
  console.log(`  file descriptors   ${first.fds} → ${last.fds}`);
  const thirds = [0, 1, 2].map((k) => samples.slice(Math.floor((k * samples.length) / 3), Math.floor(((k + 1) * samples.length) / 3)));
  const byThird = (pick) => thirds.map((t) => (t.length > 0 ? pick(t) : '-')).join(' → ');
  console.log(`  by thirds of the run: heap ${byThird((t) => lowest(t).toFixed(1))} MB (lowest sample of each), RSS ${byThird((t) => Math.max(...t.map((x) => x[2])).toFixed(0))} MB, fds ${byThird((t) => String(Math.max(...t.map((x) => x[3]))))} (highest)`);
  if (/warn|error/i.test(serveStderr.replace(/^.*listening on[\s\S]*?stopped after.*$/m, ''))) console.log(`  serve's stderr:\n${serveStderr}`);
  if (seen !== sent) process.exitCode = 1;
} finally {
  serve.kill('SIGTERM');
  await once(serve, 'exit');
  extole.send('stop');
  await once(extole, 'exit').catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
