import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream transform`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('transform')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('transform: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
