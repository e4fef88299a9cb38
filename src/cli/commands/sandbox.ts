import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream sandbox`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('sandbox')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('sandbox: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
