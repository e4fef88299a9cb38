import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream test`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('test')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('test: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
