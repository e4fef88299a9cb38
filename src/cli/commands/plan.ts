import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream plan`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('plan: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
