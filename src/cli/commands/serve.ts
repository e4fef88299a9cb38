import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream serve`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('serve: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
