/**
 * Test helpers for the server: a temp config folder, a fake Extole that records bodies, and a
 * running server (real Runtime, real SQLite queue, real HTTP on 127.0.0.1:0).
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Runtime, type RuntimeOptions } from '../../src/runtime/runtime.js';
import { buildServer } from '../../src/server/app.js';

export const WEB_KEY = 'web-key-0123456789';
export const IOS_KEY = 'ios-key-0123456789';
export const EXTOLE_TOKEN = 'extole-token-SECRET-42';
export const ADMIN_TOKEN = 'admin-token-SECRET-7';

export const TEST_ENV: NodeJS.ProcessEnv = {
  TEST_WEB_KEY: WEB_KEY,
  TEST_IOS_KEY: IOS_KEY,
  TEST_EXTOLE_TOKEN: EXTOLE_TOKEN,
  TEST_ADMIN_TOKEN: ADMIN_TOKEN,
};

export interface ConfigDirOptions {
  baseUrl?: string;
  /** Extra YAML under `server:` (indented by the helper). */
  server?: string[];
  adminToken?: boolean;
  queuePath?: string;
  /** Replace the whole `queue:` block (YAML lines under it). */
  queue?: string[];
  /** Destination files: name → YAML. Default: one `referrals` destination for project web. */
  destinations?: Record<string, string>;
}

/** A referrals destination: every event of project `web` with a user_id email; insert_id rides along. */
export function referralsYaml(baseUrl: string, extra = ''): string {
  return `name: referrals
projects: [web]
extole:
  access_token: \${env:TEST_EXTOLE_TOKEN}
  base_url: ${baseUrl}
events:
  - type: "*"
identity:
  email: user_id
properties:
  event: "*"
mapping:
  data:
    partner_conversion_id: insert_id
delivery:
  concurrency: 8
  timeout: 2s
  retry: { max_attempts: 3, max_age: 1s, initial_backoff: 10ms, max_backoff: 50ms }
${extra}`;
}

export function rootYaml(opts: ConfigDirOptions): string {
  const server = [...(opts.server ?? [])];
  if (opts.adminToken) server.push('admin_token: ${env:TEST_ADMIN_TOKEN}');
  return `version: 1
destinations: destinations/*.yaml
projects:
  - key: web
    api_key: \${env:TEST_WEB_KEY}
  - key: ios
    api_key: \${env:TEST_IOS_KEY}
server:
  log_level: warn
${server.map((l) => `  ${l}`).join('\n')}
queue:
${(opts.queue ?? ['driver: sqlite', `path: ${opts.queuePath ?? 'queue.db'}`, 'lease: 2s']).map((l) => `  ${l}`).join('\n')}
`;
}

/** Write a config folder; returns its path. */
export function makeConfigDir(opts: ConfigDirOptions = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'es-server-'));
  mkdirSync(path.join(dir, 'destinations'));
  writeFileSync(path.join(dir, 'extole.config.yaml'), rootYaml(opts));
  const destinations = opts.destinations ?? { referrals: referralsYaml(opts.baseUrl ?? 'http://127.0.0.1:9') };
  for (const [name, yaml] of Object.entries(destinations)) writeFileSync(path.join(dir, 'destinations', `${name}.yaml`), yaml);
  return dir;
}

export interface FakeExtole {
  url: string;
  bodies: Array<Record<string, unknown>>;
  authorizations: string[];
  /** Decide the answer per request (default 200). */
  respond: (body: Record<string, unknown>) => number;
  close(): Promise<void>;
}

/** A stand-in for Extole's events API recording every body it got. */
export async function startFakeExtole(): Promise<FakeExtole> {
  const fake: FakeExtole = {
    url: '',
    bodies: [],
    authorizations: [],
    respond: () => 200,
    close: async () => {},
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      const status = fake.respond(body);
      if (status >= 200 && status < 300) {
        fake.bodies.push(body);
        fake.authorizations.push(String(req.headers.authorization));
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        status < 300
          ? JSON.stringify({ event_id: String(fake.bodies.length) })
          : JSON.stringify({ unique_id: 'u', http_status_code: status, code: status === 400 ? 'event_blocked' : 'server_error', message: 'no', parameters: {} }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

/** Collects log lines (to check that no secret is ever logged). */
export class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

export interface RunningServer {
  dir: string;
  runtime: Runtime;
  app: FastifyInstance;
  url: string;
  logs: LogSink;
  close(): Promise<void>;
}

/** Start Runtime + server on 127.0.0.1:0 over the config in `dir`. */
export async function startServer(dir: string, opts: Partial<RuntimeOptions> = {}): Promise<RunningServer> {
  const logs = new LogSink();
  const runtime = await Runtime.start({
    cwd: dir,
    env: TEST_ENV,
    logOut: logs,
    logLevel: 'info',
    metrics: undefined,
    ...opts,
  });
  const app = buildServer(runtime);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    dir,
    runtime,
    app,
    url,
    logs,
    close: async () => {
      await app.close();
      await runtime.close();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** POST JSON (or raw bytes) and return status + parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const res = await fetch(url, { method: 'POST', headers, body: payload as string });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Wait until `check()` is true (polling; for background delivery). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pending + leased rows across destinations. */
export async function queuedRows(runtime: Runtime): Promise<number> {
  const stats = await runtime.queue.stats(Date.now());
  return Object.values(stats).reduce((n, s) => n + s.pending + s.leased, 0);
}
