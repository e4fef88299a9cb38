import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { TestReporter } from '../../testing/reporters.js';
import type { CliContext } from '../context.js';

/**
 * Registers `extole-stream test [--destination N] [--reporter text|json|junit]`: runs every
 * destination's `tests:` through the compiled transformer. Exit 0 all pass, 1 a case fails or
 * the config is invalid, 2 unknown destination or no config.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('test')
    .description("run the destinations' tests: cases through the compiled transformer, diffs on failure")
    .option('--destination <name>', 'only this destination')
    .addOption(new Option('--reporter <reporter>', 'output format').choices(['text', 'json', 'junit']).default('text'))
    .action(async (opts: { destination?: string; reporter: TestReporter }, cmd: Command) => {
      // Loaded here, not at start-up: other commands do not pay for the config and compile stack.
      const [{ loadCommandConfig, requireValidConfig }, { runDestinationTests }, { formatTestReport }] = await Promise.all([
        import('../command-config.js'),
        import('../../testing/run-tests.js'),
        import('../../testing/reporters.js'),
      ]);
      const config = await loadCommandConfig(cmd, ctx);
      if (config === undefined || !requireValidConfig(config, ctx, 'test')) return;
      let report;
      try {
        report = await runDestinationTests(config, { destination: opts.destination });
      } catch (err) {
        if (err instanceof UsageError) {
          ctx.stderr.write(`extole-stream test: ${err.message}\n`);
          ctx.exitCode = 2;
          return;
        }
        throw err;
      }
      ctx.stdout.write(config.redact(formatTestReport(report, opts.reporter, { cwd: ctx.cwd })));
      ctx.exitCode = report.ok ? 0 : 1;
    });
}
