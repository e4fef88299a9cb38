/**
 * Starting the runtime (config, transformers, queue) for a command: the shared part of serve,
 * replay and dlq. When it cannot start, the command says why on stderr and ends with exit code
 * 1 (the config is invalid) or 2 (anything else: no config, missing secret, queue unreachable).
 */
import type { Runtime, RuntimeOptions } from '../runtime/runtime.js';
import type { CliContext } from './context.js';

/** A started runtime, or the exit code of a command whose runtime could not start. */
export type CommandRuntime = { runtime: Runtime; exitCode?: undefined } | { runtime?: undefined; exitCode: number };

/**
 * Start the runtime in `ctx.cwd` with `ctx.env` and `options`. On failure, write
 * `extole-stream <command>: <why>` on stderr and return the exit code instead.
 */
export async function startCommandRuntime(
  ctx: CliContext,
  command: string,
  options: Omit<RuntimeOptions, 'cwd' | 'env'>,
): Promise<CommandRuntime> {
  try {
    // The runtime (queue drivers, compile stack) loads only when a command that needs it runs.
    const { Runtime } = await import('../runtime/runtime.js');
    return { runtime: await Runtime.start({ ...options, cwd: ctx.cwd, env: ctx.env }) };
  } catch (e) {
    const error = e as { code?: string; message?: string };
    ctx.stderr.write(`extole-stream ${command}: ${error.message ?? String(e)}\n`);
    return { exitCode: error.code === 'ES_CONFIG_INVALID' ? 1 : 2 };
  }
}

/**
 * For the commands that only touch the queue (replay, dlq): start the runtime without delivery,
 * needing only the queue's secrets, warnings and errors logged on stderr; run `fn` and close the
 * runtime whatever happens. Resolves with `fn`'s exit code, or the one of a failed start.
 */
export async function withQueueRuntime(
  ctx: CliContext,
  command: string,
  configPath: string | undefined,
  fn: (runtime: Runtime) => Promise<number>,
): Promise<number> {
  const started = await startCommandRuntime(ctx, command, {
    configPath,
    delivery: false,
    requireSecrets: 'queue',
    logOut: ctx.stderr,
    logLevel: 'warn',
  });
  if (started.runtime === undefined) return started.exitCode;
  try {
    return await fn(started.runtime);
  } finally {
    await started.runtime.close();
  }
}
