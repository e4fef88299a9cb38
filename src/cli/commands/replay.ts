import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** Registers `extole-stream replay`. (Stub: not implemented yet.) */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('replay')
    .description('(not implemented yet)')
    .allowUnknownOption(true)
    .action(() => {
      ctx.stderr.write('replay: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
