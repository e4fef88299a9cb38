import { Argument, type Command } from 'commander';
import { loadSchema } from '../../config/schemas.js';
import type { CliContext } from '../context.js';

/** `schema NAME` → the shipped schema file it prints. */
export const SCHEMA_NAMES = {
  config: 'extole-config',
  destination: 'destination',
  event: 'amplitude-event',
} as const;

/** Registers `extole-stream schema config|destination|event`: prints a JSON Schema on stdout. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('schema')
    .description('print a JSON Schema: config (extole.config.yaml), destination (destinations/*.yaml), event (normalized Amplitude event)')
    .addArgument(new Argument('<name>', 'which schema').choices(Object.keys(SCHEMA_NAMES)))
    .action((name: keyof typeof SCHEMA_NAMES) => {
      ctx.stdout.write(`${JSON.stringify(loadSchema(SCHEMA_NAMES[name]), null, 2)}\n`);
    });
}
