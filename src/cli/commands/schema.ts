import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream schema`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('schema')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('schema: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
