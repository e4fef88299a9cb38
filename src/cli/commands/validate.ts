import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream validate`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('validate: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
