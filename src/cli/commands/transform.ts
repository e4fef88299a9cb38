import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { Transformer } from '../../compile/types.js';
import type { CliContext } from '../context.js';
import { readFileChunks } from '../file-chunks.js';

interface TransformOptions {
  destination?: string;
  project?: string;
}

/**
 * Registers `extole-stream transform [--destination N] [--project KEY] [FILE...]`: a dry run
 * printing, for every event and destination, the Extole request or the drop (SPEC §4).
 * Exit 0 all events read, 1 invalid config or some input items rejected (each reported on
 * stderr as `FILE:LINE: …`, the others still transformed), 2 unknown destination/project or a
 * file that cannot be read.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('transform')
    .description('dry run: events (JSON lines or a JSON array, from files or stdin) → one JSON line per event and destination')
    .option('--destination <name>', 'only this destination (default: all, by name)')
    .option('--project <key>', 'project the events come from (default: the first project)')
    .argument('[files...]', 'event files; none or "-" reads stdin')
    .action(async (files: string[], opts: TransformOptions, cmd: Command) => {
      // Loaded here, not at start-up: other commands do not pay for the config and compile stack.
      const [{ loadCommandConfig, requireValidConfig }, { compileDestination }, { displayPath }, { dryRun }] = await Promise.all([
        import('../command-config.js'),
        import('../../compile/transformer.js'),
        import('../../testing/run-tests.js'),
        import('../dry-run.js'),
      ]);
      const config = await loadCommandConfig(cmd, ctx);
      if (config === undefined || !requireValidConfig(config, ctx, 'transform')) return;

      const project = opts.project ?? config.projects[0]?.key;
      if (project === undefined || !config.projects.some((p) => p.key === project)) {
        const known = config.projects.map((p) => p.key).join(', ');
        ctx.stderr.write(`extole-stream transform: unknown project "${opts.project}" (projects: ${known})\n`);
        ctx.exitCode = 2;
        return;
      }
      let destinations = [...config.destinations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (opts.destination !== undefined) {
        destinations = destinations.filter((d) => d.name === opts.destination);
        if (destinations.length === 0) {
          const known = config.destinations.map((d) => d.name).sort().join(', ') || '(none)';
          ctx.stderr.write(`extole-stream transform: unknown destination "${opts.destination}" (destinations: ${known})\n`);
          ctx.exitCode = 2;
          return;
        }
      }
      let transformers: Transformer[];
      try {
        // EXTOLE_STREAM_JSONATA_FAST=0 (undocumented, read only here, never part of the config):
        // evaluate every mapping with jsonata instead of the fast path, for benchmarks and checks.
        const fastPath = ctx.env.EXTOLE_STREAM_JSONATA_FAST !== '0';
        transformers = destinations.map((d) => compileDestination({ name: d.name, definition: d.definition }, { fastPath }));
      } catch (err) {
        ctx.stderr.write(config.redact(`extole-stream transform: ${(err as Error).message}\n`));
        ctx.exitCode = 1;
        return;
      }

      const sources = files.length === 0 ? ['-'] : files;
      if (sources.includes('-') && (ctx.stdin as { isTTY?: boolean }).isTTY === true) {
        // Someone typed the command without a file: say why nothing happens.
        ctx.stderr.write('extole-stream transform: reading events from stdin (JSON lines; Ctrl-D ends)\n');
      }
      let errors = 0;
      for (const file of sources) {
        const stdin = file === '-';
        const absolute = path.resolve(ctx.cwd, file);
        const fileChunks = stdin ? undefined : readFileChunks(absolute);
        const input: Readable | AsyncGenerator<Buffer> = fileChunks ?? ctx.stdin;
        try {
          const summary = await dryRun(input, {
            transformers,
            project,
            source: stdin ? '<stdin>' : displayPath(absolute, ctx.cwd),
            out: ctx.stdout,
            err: ctx.stderr,
            redact: (t) => config.redact(t),
          });
          errors += summary.errors;
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (!stdin && typeof e.code === 'string' && e.syscall !== undefined) {
            ctx.stderr.write(`extole-stream transform: cannot read ${file}: ${e.code}\n`);
            ctx.exitCode = 2;
            return;
          }
          throw err;
        } finally {
          await fileChunks?.return(undefined); // closes the file
        }
      }
      ctx.exitCode = errors > 0 ? 1 : 0;
    });
}
