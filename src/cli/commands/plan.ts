import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { configOption } from '../main.js';
import { PLAN_FORMATS, type PlanFormat } from '../../plan/render.js';

/**
 * `--max-diffs` default, as text for the help. Equal to `DEFAULT_MAX_DIFFS` of src/plan/plan.ts
 * (test/cli/lazy-commands.test.ts checks): importing it from there would load the whole plan
 * and compile stack at start-up.
 */
export const MAX_DIFFS_DEFAULT = '10';

interface PlanFlags {
  base: string;
  events?: string;
  format: PlanFormat;
  maxDiffs: string;
}

/** Colors only for a terminal; NO_COLOR turns them off, FORCE_COLOR on (https://no-color.org). */
function wantsColor(ctx: CliContext): boolean {
  if (ctx.env.NO_COLOR !== undefined && ctx.env.NO_COLOR !== '') return false;
  if (ctx.env.FORCE_COLOR !== undefined && ctx.env.FORCE_COLOR !== '0') return true;
  return (ctx.stdout as { isTTY?: boolean }).isTTY === true;
}

/** Registers `extole-stream plan --base REF [--events GLOB] [--format text|markdown|json] [--max-diffs N]`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .description('compile the config at git REF and in the working tree, run both over sample events, print what changes')
    .requiredOption('--base <ref>', 'git REF to compare the working tree with, e.g. origin/main')
    .option('--events <glob>', 'plan with these event files only (JSON lines or a JSON array) instead of samples + tests')
    .addOption(new Option('--format <format>', 'output format').choices([...PLAN_FORMATS]).default('text'))
    .option('--max-diffs <n>', 'changed events shown per destination', MAX_DIFFS_DEFAULT)
    .action(async (flags: PlanFlags, cmd: Command) => {
      const maxDiffs = Number(flags.maxDiffs);
      if (!Number.isInteger(maxDiffs) || maxDiffs < 0) {
        ctx.stderr.write(`extole-stream plan: --max-diffs must be a whole number ≥ 0, got ${JSON.stringify(flags.maxDiffs)}\n`);
        ctx.exitCode = 2;
        return;
      }
      // git, the config and compile stack load only when plan runs.
      const { computePlan, renderPlanResult } = await import('../../plan/index.js');
      let result;
      try {
        result = await computePlan({
          base: flags.base,
          events: flags.events,
          maxDiffs,
          configPath: configOption(cmd),
          cwd: ctx.cwd,
          env: ctx.env,
        });
      } catch (err) {
        // Git, event-file and config-not-found problems are usage/I-O errors.
        ctx.stderr.write(`extole-stream plan: ${(err as Error).message}\n`);
        ctx.exitCode = 2;
        return;
      }
      const rendered = renderPlanResult(result, flags.format, { color: wantsColor(ctx) });
      if (rendered.stdout) ctx.stdout.write(rendered.stdout);
      if (rendered.stderr) ctx.stderr.write(rendered.stderr);
      ctx.exitCode = rendered.exitCode;
    });
}
