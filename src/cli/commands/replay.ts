/**
 * `extole-stream replay FILE… [--project KEY]`: backfill. Reads Amplitude Export files (JSON
 * lines; `.gz`; `.zip`), normalizes and transforms every event through the CURRENT config and
 * enqueues the deliveries in batches through the same ingest core as the server (insert_id
 * de-duplication on, so replaying a file twice sends nothing twice). A running `serve` on the
 * same queue delivers them.
 *
 * Exit codes: 0 all lines enqueued, 1 some lines were not events (skipped, listed), 2 usage/I-O.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { configOption } from '../main.js';
import { withQueueRuntime } from '../command-runtime.js';
import type { IngestSummary } from '../../runtime/ingest.js';
import type { AmplitudeEvent } from '../../generated/amplitude-event.js';
import type { DropReason } from '../../compile/types.js';

/** Events per enqueue transaction. */
const BATCH = 500;
/** Problems listed in full; the rest are only counted. */
const SHOWN_PROBLEMS = 10;
const PROGRESS_EVERY_MS = 1000;

export interface ReplayOptions {
  project?: string;
  config?: string;
}

export interface ReplayTotals {
  files: number;
  lines: number;
  events: number;
  accepted: number;
  duplicates: number;
  deliveries: number;
  invalid: number;
  dropped: Partial<Record<DropReason, number>>;
}

/** Registers `extole-stream replay`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('replay')
    .description('enqueue Amplitude Export files (JSON lines, .gz, .zip) for delivery through the current config (backfill)')
    .argument('<files...>', 'export files')
    .option('--project <key>', 'project the events come from (default: the first project)')
    .action(async (files: string[], opts: ReplayOptions, cmd: Command) => {
      ctx.exitCode = await replay(ctx, files, { ...opts, config: configOption(cmd) });
    });
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Run `replay`; resolves with the exit code. */
export async function replay(ctx: CliContext, files: string[], opts: ReplayOptions): Promise<number> {
  const err = (line: string): void => void ctx.stderr.write(`${line}\n`);
  const resolved = files.map((f) => path.resolve(ctx.cwd, f));
  const absent = resolved.filter((f) => !existsSync(f));
  if (absent.length > 0) {
    err(`extole-stream replay: no such file: ${absent.map((f) => path.relative(ctx.cwd, f)).join(', ')}`);
    return 2;
  }
  // The ingest core loads only when replay runs (the runtime itself: in withQueueRuntime).
  const [{ prepareEvents }, { readExportLines }] = await Promise.all([import('../../runtime/ingest.js'), import('../../runtime/export-files.js')]);
  return withQueueRuntime(ctx, 'replay', opts.config, async (runtime) => {
    const active = runtime.active;
    const project = opts.project ?? active.loaded.projects[0]?.key;
    if (!project || !active.loaded.projects.some((p) => p.key === project)) {
      err(`extole-stream replay: unknown project ${JSON.stringify(opts.project)}; the config has ${active.loaded.projects.map((p) => p.key).join(', ')}`);
      return 2;
    }
    const totals: ReplayTotals = { files: 0, lines: 0, events: 0, accepted: 0, duplicates: 0, deliveries: 0, invalid: 0, dropped: {} };
    const problems: string[] = [];
    const started = Date.now();
    let batch: AmplitudeEvent[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const summary: IngestSummary = await runtime.ingest(active, project, batch, { endpoint: 'replay', dedup: true });
      totals.accepted += summary.accepted;
      totals.duplicates += summary.duplicates;
      totals.deliveries += summary.deliveries;
      for (const [reason, n] of Object.entries(summary.dropped) as Array<[DropReason, number]>) {
        totals.dropped[reason] = (totals.dropped[reason] ?? 0) + n;
      }
      batch = [];
    };

    for (const file of resolved) {
      const shown = path.relative(ctx.cwd, file) || file;
      totals.files++;
      let lastProgress = Date.now();
      let fileEvents = 0;
      const fileStarted = Date.now();
      const progress = (read: number, size: number): void => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        const rate = fileEvents / Math.max(0.001, (now - fileStarted) / 1000);
        err(`replay: ${shown} ${((read / Math.max(1, size)) * 100).toFixed(1)}% · ${fmt(fileEvents)} events · ${fmt(Math.round(rate))} events/s`);
      };
      try {
        for await (const line of readExportLines(file, progress)) {
          totals.lines++;
          const where = `${shown}${line.entry ? `!${line.entry}` : ''}:${line.line}`;
          let raw: unknown;
          try {
            raw = JSON.parse(line.text);
          } catch {
            totals.invalid++;
            if (problems.length < SHOWN_PROBLEMS) problems.push(`${where}: not JSON`);
            continue;
          }
          const prepared = prepareEvents([raw], { shape: 'export', now: Date.now() });
          if (!prepared.ok) {
            totals.invalid++;
            if (problems.length < SHOWN_PROBLEMS) {
              const e = prepared.error;
              const fields = [
                ...Object.keys(e.events_with_missing_fields ?? {}).map((f) => `missing ${f}`),
                ...Object.keys(e.events_with_invalid_fields ?? {}).map((f) => `invalid ${f}`),
              ];
              problems.push(`${where}: ${e.error}${fields.length ? ` (${fields.join(', ')})` : ''}`);
            }
            continue;
          }
          totals.events++;
          fileEvents++;
          batch.push(prepared.events[0]!);
          if (batch.length >= BATCH) await flush();
        }
        await flush();
      } catch (e) {
        err(`extole-stream replay: ${shown}: ${runtime.redact((e as Error).message)}`);
        err(summaryText(totals, project, Date.now() - started));
        return 2;
      }
    }
    ctx.stdout.write(summaryText(totals, project, Date.now() - started));
    if (totals.invalid > 0) {
      err(`replay: ${fmt(totals.invalid)} line${totals.invalid === 1 ? ' was' : 's were'} not valid events and ${totals.invalid === 1 ? 'was' : 'were'} skipped:`);
      for (const p of problems) err(`  ${p}`);
      if (totals.invalid > problems.length) err(`  … and ${fmt(totals.invalid - problems.length)} more`);
      return 1;
    }
    return 0;
  });
}

function summaryText(t: ReplayTotals, project: string, ms: number): string {
  const lines = [
    `replay: ${fmt(t.events)} events from ${t.files} file${t.files === 1 ? '' : 's'} (project ${project}) in ${(ms / 1000).toFixed(1)} s`,
    `  enqueued    ${fmt(t.accepted)} events → ${fmt(t.deliveries)} deliveries`,
    `  duplicates  ${fmt(t.duplicates)} (insert_id already seen within the dedup window)`,
  ];
  const dropped = Object.entries(t.dropped).filter(([, n]) => (n ?? 0) > 0);
  if (dropped.length > 0) lines.push(`  dropped     ${dropped.map(([r, n]) => `${r} ${fmt(n!)}`).join(', ')} (per destination and event)`);
  if (t.invalid > 0) lines.push(`  skipped     ${fmt(t.invalid)} invalid lines`);
  return `${lines.join('\n')}\n`;
}
