/**
 * The command line, thin: parse flags, call the library, return an exit code.
 * Only src/bin/extole-stream.ts turns the code into a process exit.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import type { CliContext } from './context.js';
import * as validate from './commands/validate.js';
import * as test from './commands/test.js';
import * as transform from './commands/transform.js';
import * as schema from './commands/schema.js';
import * as serve from './commands/serve.js';
import * as sandbox from './commands/sandbox.js';
import * as replay from './commands/replay.js';
import * as dlq from './commands/dlq.js';
import * as plan from './commands/plan.js';

const COMMANDS = [validate, test, transform, schema, serve, sandbox, replay, dlq, plan];

/** Build the commander program; each command module registers itself. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('extole-stream')
    .description('Stream Amplitude events into Extole, configured as code.')
    .version(VERSION)
    .option('--config <path>', 'root config file (default: found by cosmiconfig from the current folder)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
  for (const command of COMMANDS) command.register(program, ctx);
  // Every subcommand takes --config too (SPEC §4: "--config PATH on every command").
  for (const sub of program.commands) {
    if (!sub.options.some((o) => o.long === '--config')) sub.option('--config <path>', 'root config file');
    sub.exitOverride();
  }
  return program;
}

/**
 * Run the CLI with `argv` (without `node` and the script). Resolves with the exit code:
 * 0 success, 1 the check failed, 2 usage or I/O error.
 */
export async function main(argv: string[], ctx: Omit<CliContext, 'exitCode'>): Promise<number> {
  const context: CliContext = { ...ctx, exitCode: 0 };
  const program = buildProgram(context);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    const e = err as { code?: string; message?: string };
    context.stderr.write(`extole-stream: ${e.message ?? String(err)}\n`);
    return e.code === 'ES_CONFIG_INVALID' ? 1 : 2;
  }
  return context.exitCode;
}

/** Read `--config` whether given before or after the subcommand. */
export function configOption(cmd: Command): string | undefined {
  const own = cmd.opts<{ config?: string }>().config;
  return own ?? cmd.parent?.opts<{ config?: string }>().config;
}
