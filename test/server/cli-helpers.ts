/**
 * Helpers for end-to-end tests that run the BUILT command line (`npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BUILT_CLI as CLI, REPO_ROOT } from '../support/cli.js';
import { makeConfigDir, referralsYaml, removeDir } from './helpers.js';

export { REPO_ROOT };

/** Fail clearly when the CLI was not built (npm test builds before running vitest). */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
}

/** KEY=VALUE lines of an env file (comments and blanks skipped). */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.trim();
  }
  return env;
}

export interface ServeProcess {
  child: ChildProcess;
  /** Everything written to stderr so far (banner, notices). */
  stderr(): string;
  /** Everything written to stdout so far (JSON logs). */
  stdout(): string;
  /** The URL from the banner. */
  url: string;
  exited: Promise<number | null>;
}

/** Spawn `extole-stream serve …` and wait for its banner. */
export async function spawnServe(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<ServeProcess> {
  requireBuiltCli();
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 20 s; stderr:\n${err}`)), 20_000);
    const check = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${String(code)} before listening; stderr:\n${err}`));
    });
  });
  return { child, stderr: () => err, stdout: () => out, url, exited };
}

/** Run the CLI to completion. */
export function runCli(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireBuiltCli();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One request the recording Extole answered: its `partner_conversion_id` (= insert_id) and arrival time. */
export interface RecordedDelivery {
  id: string;
  at: number;
}

/**
 * A fake Extole for the crash tests: answers 200 after `delayMs` and records every request's
 * `partner_conversion_id` (= the event's insert_id) with its ARRIVAL time (a request that arrived
 * before a kill may be answered after it), plus a count per id.
 */
export async function recordingExtole(delayMs = 0): Promise<{ url: string; deliveries: RecordedDelivery[]; received: Map<string, number>; server: Server }> {
  const deliveries: RecordedDelivery[] = [];
  const received = new Map<string, number>();
  const server = createServer((req, res) => {
    const arrivedAt = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (): void => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { partner_conversion_id: string } };
        const id = body.data.partner_conversion_id;
        deliveries.push({ id, at: arrivedAt });
        received.set(id, (received.get(id) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ event_id: String(deliveries.length) }));
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, deliveries, received, server };
}

/**
 * The crash tests' stage: a `recordingExtole` (answering after `delayMs`) and a config folder
 * whose referrals destination delivers to it, both torn down by `cleanups` (run in reverse).
 */
export async function crashTestStage(
  cleanups: Array<() => unknown>,
  delayMs = 0,
): Promise<{ extole: Awaited<ReturnType<typeof recordingExtole>>; dir: string }> {
  const extole = await recordingExtole(delayMs);
  cleanups.push(() => new Promise((r) => extole.server.close(r)));
  extole.server.on('connection', (s) => cleanups.push(() => s.destroy()));
  const dir = makeConfigDir({ baseUrl: extole.url, destinations: { referrals: referralsYaml(extole.url) } });
  cleanups.push(() => removeDir(dir));
  return { extole, dir };
}

export type DestinationQueueCounts = { pending: number; leased: number; deadLetters: number };

/**
 * Polls a running server's `/status` until `destination` has nothing pending or leased (or 30 s
 * pass); returns its last queue counts.
 */
export async function drainQueue(url: string, destination: string): Promise<DestinationQueueCounts> {
  let q: DestinationQueueCounts = { pending: -1, leased: -1, deadLetters: -1 };
  const drainBy = Date.now() + 30_000;
  do {
    const status = (await (await fetch(`${url}/status`)).json()) as { queue: { destinations: Record<string, DestinationQueueCounts> } };
    q = status.queue.destinations[destination] ?? { pending: 0, leased: 0, deadLetters: 0 };
    if (q.pending + q.leased === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < drainBy);
  return q;
}
