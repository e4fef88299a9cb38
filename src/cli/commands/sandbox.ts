import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { CliContext } from '../context.js';

/**
 * Registers `extole-stream sandbox [--port N] [--host H] [--throttle RATIO]`: a local stand-in for
 * Extole's events API. Runs until SIGINT/SIGTERM or until `ctx.signal` aborts.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('sandbox')
    .description("run a local stand-in for Extole's events API (validates requests, answers like Extole, can throttle)")
    .option('--port <n>', 'port to listen on', '8089')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--throttle <ratio>', 'share of requests answered 429 too_many_requests, 0 to 1', '0')
    .action(async (options: { port: string; host: string; throttle: string }) => {
      const port = Number(options.port);
      const throttle = Number(options.throttle);
      try {
        if (!/^[0-9]+$/.test(options.port) || port > 65535) throw new UsageError(`--port must be 0-65535, got ${options.port}`);
        if (options.throttle.trim() === '' || !(throttle >= 0 && throttle <= 1)) {
          throw new UsageError(`--throttle must be a ratio from 0 to 1, got ${options.throttle}`);
        }
      } catch (err) {
        ctx.stderr.write(`extole-stream sandbox: ${(err as Error).message}\n`);
        ctx.exitCode = 2;
        return;
      }

      // Loaded only when the command runs: other commands do not pay for undici/ajv.
      const { startSandbox } = await import('../../extole/sandbox.js');
      let sandbox;
      try {
        sandbox = await startSandbox({
          host: options.host,
          port,
          throttle,
          log: (line) => ctx.stdout.write(`${new Date().toISOString()} ${line}\n`),
        });
      } catch (err) {
        ctx.stderr.write(`extole-stream sandbox: cannot listen on ${options.host}:${port}: ${(err as Error).message}\n`);
        ctx.exitCode = 2;
        return;
      }

      ctx.stdout.write(
        `Extole sandbox listening on ${sandbox.url}\n` +
          `  POST ${sandbox.url}/v6/async-events | /v6/events | /v5/events   (Authorization: Bearer <any token>)\n` +
          `  GET  ${sandbox.url}/-/received   what it got so far\n` +
          (throttle > 0 ? `  throttling ${Math.round(throttle * 100)}% of requests with 429\n` : '') +
          `  data.email ending in @blocked.example is answered 400 event_blocked\n`,
      );

      await waitForStop(ctx.signal);
      await sandbox.close();
      ctx.stdout.write('Extole sandbox stopped\n');
      ctx.exitCode = 0;
    });
}

/** Resolve on SIGINT, SIGTERM or `signal` aborting, whichever comes first. */
function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    if (signal?.aborted) return resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
