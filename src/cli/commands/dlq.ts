import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream dlq`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('dlq')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('dlq: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
