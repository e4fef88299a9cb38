/**
 * `extole-stream serve [--port N] [--host H] [--sandbox]`: the runtime server (SPEC §5).
 * SIGHUP reloads the config; SIGTERM/SIGINT stop accepting, finish or release in-flight
 * deliveries, close the queue and end with exit code 0 (within 30 s).
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { configOption } from '../main.js';
import { startCommandRuntime } from '../command-runtime.js';
import type { Sandbox } from '../../extole/sandbox.js';
import { UsageError } from '../../errors.js';

/** Whole shutdown budget (SPEC: exit within 30 s); the HTTP part gets a share of it. */
const SHUTDOWN_BUDGET_MS = 25_000;
const HTTP_DRAIN_MS = 10_000;

export interface ServeOptions {
  port?: string;
  host?: string;
  sandbox?: boolean;
  config?: string;
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`--port must be a number 0-65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Registers `extole-stream serve`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the server: ingest Amplitude events, queue them durably, deliver them to Extole')
    .option('--port <n>', 'TCP port (default: server.port, 8080)')
    .option('--host <h>', 'address to listen on (default: server.host, 127.0.0.1)')
    .option('--sandbox', 'also start the local Extole sandbox and deliver every destination there')
    .action(async (opts: ServeOptions, cmd: Command) => {
      ctx.exitCode = await serve(ctx, { ...opts, config: configOption(cmd) });
    });
}

/** Run the server until a signal (or `ctx.signal`) stops it. Resolves with the exit code. */
export async function serve(ctx: CliContext, opts: ServeOptions): Promise<number> {
  const err = (line: string): void => {
    ctx.stderr.write(`${line}\n`);
  };
  let port: number | undefined;
  try {
    port = parsePort(opts.port);
  } catch (e) {
    err(`extole-stream serve: ${(e as Error).message}`);
    return 2;
  }
  // The server stack (fastify, the queue drivers, undici, prom-client…) loads only when serving.
  const [{ bannerText }, { buildServer }, { startSandbox }] = await Promise.all([
    import('../../runtime/banner.js'),
    import('../../server/app.js'),
    import('../../extole/sandbox.js'),
  ]);

  let sandbox: Sandbox | undefined;
  if (opts.sandbox) {
    try {
      sandbox = await startSandbox({ host: '127.0.0.1', port: 0, log: (line) => err(`[sandbox] ${line}`) });
    } catch (e) {
      err(`extole-stream serve: cannot start the sandbox: ${(e as Error).message}`);
      return 2;
    }
  }

  const opened = await startCommandRuntime(ctx, 'serve', { configPath: opts.config, logOut: ctx.stdout, deliveryBaseUrl: sandbox?.url });
  if (opened.runtime === undefined) {
    await sandbox?.close();
    return opened.exitCode;
  }
  const runtime = opened.runtime;

  const active = runtime.active;
  const server = active.loaded.root.server ?? {};
  const host = opts.host ?? server.host ?? '127.0.0.1';
  const listenPort = port ?? server.port ?? 8080;
  const app = buildServer(runtime);
  let url: string;
  try {
    await app.listen({ host, port: listenPort });
    const address = app.server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `http://${shownHost}:${address.port}`;
  } catch (e) {
    err(`extole-stream serve: cannot listen on ${host}:${listenPort}: ${(e as Error).message}`);
    await app.close().catch(() => {});
    await runtime.close();
    await sandbox?.close();
    return 2;
  }

  const queue = active.loaded.root.queue ?? {};
  const queueDescription =
    (queue.driver ?? 'sqlite') === 'sqlite'
      ? `sqlite ${path.relative(ctx.cwd, path.resolve(active.loaded.rootDir, queue.path ?? '.extole-stream/queue.db'))}`
      : `postgres (schema ${queue.schema ?? 'extole_stream'})`;
  err(
    bannerText({
      url,
      loaded: active.loaded,
      queueDescription,
      sandboxUrl: sandbox?.url ?? null,
      adminToken: active.adminToken !== undefined,
      cwd: ctx.cwd,
      env: ctx.env,
    }).trimEnd(),
  );

  // ---- run until told to stop ------------------------------------------------------------
  let stopRequested: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      err(`extole-stream serve: ${signal} again; still stopping (in-flight deliveries are being finished or released)`);
      return;
    }
    stopping = true;
    stopRequested(signal);
  };
  const onHup = (): void => {
    void runtime.reload().then((result) => {
      err(
        result.ok
          ? `extole-stream serve: config reloaded (revision ${result.revision})${result.warnings.length ? `; ${result.warnings.join('; ')}` : ''}`
          : `extole-stream serve: reload rejected, still running revision ${result.revision}:\n  ${result.errors.join('\n  ')}`,
      );
    });
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  const onAbort = (): void => onStop('SIGTERM');
  if (ctx.signal) {
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  }

  const reason = await stopped;
  ctx.shutdown?.requested(reason);
  err(`extole-stream serve: ${reason}: stopping (no new requests; finishing in-flight work)`);
  const started = Date.now();
  let clean = false;
  try {
    // 1. Stop accepting; let requests in flight get their answer (their commit or 503).
    const httpClosed = await withTimeout(app.close(), HTTP_DRAIN_MS);
    if (httpClosed === 'timeout') {
      app.server.closeAllConnections();
      err('extole-stream serve: some requests did not finish in time; their connections were closed (senders retry)');
    }
    // 2. Finish or release in-flight deliveries, close the queue.
    const left = Math.max(1000, SHUTDOWN_BUDGET_MS - (Date.now() - started));
    const runtimeClosed = await withTimeout(runtime.close(), left);
    if (runtimeClosed === 'timeout') {
      err('extole-stream serve: delivery did not stop in time; leased events come back after their lease');
    } else {
      clean = true;
    }
    await withTimeout(sandbox?.close() ?? Promise.resolve(), 2000);
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
    ctx.signal?.removeEventListener('abort', onAbort);
  }
  err(`extole-stream serve: stopped after ${Date.now() - started} ms`);
  ctx.shutdown?.finished(clean);
  return 0;
}
