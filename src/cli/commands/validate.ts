import { Option, type Command } from 'commander';
import type { LoadedConfig } from '../../config/model.js';
import type { CliContext } from '../context.js';

type Format = 'text' | 'json' | 'github';

/**
 * Registers `extole-stream validate [--format text|json|github]`: schema, references, JSONata,
 * secrets rules. Exit 0 without errors (warnings allowed), 1 with errors, 2 when no config is
 * found or a file cannot be read.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check the config: schema, references, JSONata (no $eval), secrets rules')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'github']).default('text'))
    .action(async (opts: { format: Format }, cmd: Command) => {
      // Loaded here, not at start-up: `--version` and other commands do not pay for them.
      const [{ configExitCode, loadCommandConfig, plural }, { formatDiagnostics }, { displayPath }] = await Promise.all([
        import('../command-config.js'),
        import('../../config/format.js'),
        import('../../testing/run-tests.js'),
      ]);
      const config = await loadCommandConfig(cmd, ctx);
      if (config === undefined) return;
      let out = formatDiagnostics(config.diagnostics, opts.format, { cwd: ctx.cwd });
      if (out !== '' && !out.endsWith('\n')) out += '\n';
      if (opts.format === 'text') out += summary(config, ctx.cwd, displayPath, plural);
      ctx.stdout.write(config.redact(out));
      ctx.exitCode = configExitCode(config);
    });
}

/** The last line of the text format, e.g. `✓ extole.config.yaml is valid: 2 projects, 3 destinations, 18 tests`. */
function summary(
  config: LoadedConfig,
  cwd: string,
  displayPath: (file: string, cwd: string) => string,
  plural: (n: number, word: string) => string,
): string {
  const file = displayPath(config.rootFile, cwd);
  if (config.diagnostics.some((d) => d.severity === 'error')) return `✗ ${file} is invalid\n`;
  const tests = config.destinations.reduce((n, d) => n + (d.definition.tests?.length ?? 0), 0);
  return `✓ ${file} is valid: ${plural(config.projects.length, 'project')}, ${plural(config.destinations.length, 'destination')}, ${plural(tests, 'test')}\n`;
}
