/**
 * `extole-stream dlq list|show ID|replay|purge [--destination N] [--reason R]`: the dead-letter
 * queue, on whichever queue driver the config names.
 *
 * - `list`: a table (id, destination, reason, status, code, attempts, last attempt); `--format json`.
 * - `show ID`: one dead letter as JSON (event and request parsed; the token stays `Bearer ***`).
 * - `replay [ID…]`: each dead letter's stored event goes through the CURRENT config of its own
 *   destination and is enqueued again (no de-duplication: it was seen before on purpose), and
 *   the dead letter is deleted right after that commit. A crash between the two can only
 *   duplicate, never lose. Dead letters of destinations no longer in the config are kept.
 * - `purge`: delete the matching dead letters, printing how many.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { withQueueRuntime } from '../command-runtime.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterReason } from '../../queue/types.js';
import type { AmplitudeEvent } from '../../generated/amplitude-event.js';
import type { DropReason } from '../../compile/types.js';
import { UsageError } from '../../errors.js';

const REASONS: readonly DeadLetterReason[] = ['rejected', 'expired'];
/** Dead letters loaded, re-enqueued and deleted per page (memory is bounded by one page). */
const BATCH = 500;

interface FilterOptions {
  destination?: string;
  reason?: string;
  config?: string;
}

/** `--config` wherever it was given: on the subcommand, on `dlq`, or before it. */
function configFrom(cmd: Command): string | undefined {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const v = c.opts<{ config?: string }>().config;
    if (v) return v;
  }
  return undefined;
}

function filterOf(opts: FilterOptions): DeadLetterFilter {
  if (opts.reason !== undefined && !REASONS.includes(opts.reason as DeadLetterReason)) {
    throw new UsageError(`--reason must be one of ${REASONS.join(', ')}, got ${JSON.stringify(opts.reason)}`);
  }
  const filter: DeadLetterFilter = {};
  if (opts.destination) filter.destination = opts.destination;
  if (opts.reason) filter.reason = opts.reason as DeadLetterReason;
  return filter;
}

/** Registers `extole-stream dlq` and its subcommands. */
export function register(program: Command, ctx: CliContext): void {
  const dlq = program.command('dlq').description('inspect, replay and purge the dead-letter queue');
  const withFilters = (c: Command): Command =>
    c
      .option('--destination <name>', 'only dead letters of this destination')
      .option('--reason <reason>', `only this reason (${REASONS.join(', ')})`)
      .option('--config <path>', 'root config file');

  withFilters(dlq.command('list').description('list dead letters as a table'))
    .option('--format <format>', 'text or json', 'text')
    .option('--limit <n>', 'at most this many, oldest first (in id order)')
    .option('--after <id>', 'only dead letters after this id: page with --limit, passing the last id shown')
    .action(async (opts: FilterOptions & { format: string; limit?: string; after?: string }, cmd: Command) => {
      ctx.exitCode = await withRuntime(ctx, configFrom(cmd), async (runtime) => {
        if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError('--format must be text or json');
        const filter = filterOf(opts);
        if (opts.limit !== undefined) {
          if (!/^[0-9]+$/.test(opts.limit)) throw new UsageError('--limit must be a whole number');
          filter.limit = Number(opts.limit);
        }
        if (opts.after !== undefined) {
          if (!/^[0-9]+$/.test(opts.after)) throw new UsageError('--after must be a dead letter id (a whole number)');
          // 0 and leading zeros: "from the start" and the same id, as a user would mean them.
          const after = opts.after.replace(/^0+/, '');
          if (after !== '') filter.afterId = after;
        }
        const letters = await runtime.queue.listDeadLetters(filter);
        if (opts.format === 'json') {
          for (const l of letters) ctx.stdout.write(`${runtime.redact(JSON.stringify(summaryOf(l)))}\n`);
        } else {
          ctx.stdout.write(runtime.redact(table(letters)));
        }
        return 0;
      });
    });

  dlq
    .command('show')
    .description('print one dead letter as JSON')
    .argument('<id>', 'dead letter id (from `dlq list`)')
    .option('--config <path>', 'root config file')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      ctx.exitCode = await withRuntime(ctx, configFrom(cmd), async (runtime) => {
        const letter = await runtime.queue.getDeadLetter(id);
        if (!letter) {
          ctx.stderr.write(`extole-stream dlq show: no dead letter ${JSON.stringify(id)}\n`);
          return 1;
        }
        ctx.stdout.write(`${runtime.redact(JSON.stringify(detailOf(letter), null, 2))}\n`);
        return 0;
      });
    });

  withFilters(dlq.command('replay').description('put dead letters back through the current config and enqueue them again'))
    .argument('[ids...]', 'only these dead letters')
    .action(async (ids: string[], opts: FilterOptions, cmd: Command) => {
      ctx.exitCode = await withRuntime(ctx, configFrom(cmd), async (runtime) => {
        const filter = filterOf(opts);
        if (ids.length > 0) filter.ids = ids;
        const result = await replayDeadLetters(runtime, filter);
        ctx.stdout.write(
          `dlq replay: ${result.replayed} dead letter${result.replayed === 1 ? '' : 's'} replayed → ${result.deliveries} deliveries enqueued` +
            `${Object.keys(result.dropped).length ? `; dropped by the current config: ${Object.entries(result.dropped).map(([r, n]) => `${r} ${n}`).join(', ')}` : ''}\n`,
        );
        const kept = Object.values(result.kept).reduce((a, b) => a + b, 0);
        if (kept > 0) {
          ctx.stderr.write(
            `dlq replay: kept ${kept} dead letter${kept === 1 ? '' : 's'} of destinations not in the config: ${Object.keys(result.kept).join(', ')}\n`,
          );
        }
        return 0;
      });
    });

  withFilters(dlq.command('purge').description('delete dead letters')).action(async (opts: FilterOptions, cmd: Command) => {
    ctx.exitCode = await withRuntime(ctx, configFrom(cmd), async (runtime) => {
      const n = await runtime.queue.deleteDeadLetters(filterOf(opts));
      ctx.stdout.write(`dlq purge: deleted ${n} dead letter${n === 1 ? '' : 's'}\n`);
      return 0;
    });
  });
}

/** Open the config and queue (no delivery), run `fn`, close. Maps errors to exit codes. */
function withRuntime(ctx: CliContext, configPath: string | undefined, fn: (runtime: Runtime) => Promise<number>): Promise<number> {
  return withQueueRuntime(ctx, 'dlq', configPath, async (runtime) => {
    try {
      return await fn(runtime);
    } catch (e) {
      const error = e as { code?: string; message?: string };
      ctx.stderr.write(`extole-stream dlq: ${runtime.redact(error.message ?? String(e))}\n`);
      return 2;
    }
  });
}

export interface DeadLetterReplayResult {
  replayed: number;
  deliveries: number;
  dropped: Partial<Record<DropReason, number>>;
  /** Dead letters kept because their destination is not in the current config, per destination (exact). */
  kept: Record<string, number>;
}

/**
 * Re-run dead letters through the current config of their own destination and enqueue them
 * (no de-duplication), deleting each page of dead letters right after its commit.
 *
 * Memory stays at one page (`pageSize`, default 500) whatever the size of the DLQ: each page is
 * the first `pageSize` matches of ONE destination that is in the config; since the page is
 * deleted once enqueued, the next first page is the next one. Letters of destinations not in the
 * config are never replayed; they are counted, exactly, a page at a time.
 */
export async function replayDeadLetters(
  runtime: Runtime,
  filter: DeadLetterFilter,
  opts: { pageSize?: number } = {},
): Promise<DeadLetterReplayResult> {
  const pageSize = Math.max(1, Math.trunc(opts.pageSize ?? BATCH));
  const active = runtime.active;
  const result: DeadLetterReplayResult = { replayed: 0, deliveries: 0, dropped: {}, kept: {} };
  const wanted = (destination: string): boolean => filter.destination === undefined || filter.destination === destination;
  for (const transformer of active.transformers) {
    if (!wanted(transformer.name)) continue;
    const target = { ...runtime.target(active), transformers: [transformer] };
    for (;;) {
      const page = await runtime.queue.listDeadLetters({ ...filter, destination: transformer.name, limit: pageSize });
      if (page.length === 0) break;
      // One ingest per project (a page may mix projects), then delete the page: a crash between
      // the two can only duplicate, never lose.
      const byProject = new Map<string, DeadLetter[]>();
      for (const letter of page) {
        const group = byProject.get(letter.project);
        if (group) group.push(letter);
        else byProject.set(letter.project, [letter]);
      }
      for (const [project, group] of byProject) {
        const events = group.map((l) => JSON.parse(l.event) as AmplitudeEvent);
        const summary = await runtime.ingest(active, project, events, { endpoint: 'dlq', dedup: false, target });
        result.deliveries += summary.deliveries;
        for (const [reason, n] of Object.entries(summary.dropped) as Array<[DropReason, number]>) {
          result.dropped[reason] = (result.dropped[reason] ?? 0) + n;
        }
      }
      const deleted = await runtime.queue.deleteDeadLetters({ ids: page.map((l) => l.id) });
      result.replayed += page.length;
      // Nothing deleted means the next list would return the same page: stop instead of looping.
      if (deleted === 0) break;
      if (page.length < pageSize) break;
    }
  }
  // Count what stays: destinations holding dead letters that are not in the config.
  const activeNames = new Set(active.transformers.map((t) => t.name));
  const stats = await runtime.queue.stats(Date.now());
  for (const [destination, s] of Object.entries(stats)) {
    if (activeNames.has(destination) || !wanted(destination) || s.deadLetters === 0) continue;
    let count = 0;
    if (filter.ids !== undefined || filter.reason !== undefined) {
      // The stats count every reason: page through the matches instead (one page in memory).
      let afterId: string | undefined;
      for (;;) {
        const page = await runtime.queue.listDeadLetters({ ...filter, destination, limit: pageSize, ...(afterId ? { afterId } : {}) });
        count += page.length;
        if (page.length < pageSize) break;
        const last = page[page.length - 1]!.id;
        // A cursor that does not move would count the same page forever.
        if (afterId !== undefined && BigInt(last) <= BigInt(afterId)) break;
        afterId = last;
      }
    } else {
      count = s.deadLetters;
    }
    if (count > 0) result.kept[destination] = count;
  }
  return result;
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function summaryOf(l: DeadLetter): Record<string, unknown> {
  return {
    id: l.id,
    destination: l.destination,
    project: l.project,
    insert_id: l.insertId,
    reason: l.reason,
    http_status: l.httpStatus,
    extole_code: l.extoleCode,
    attempts: l.attempts,
    first_attempt_at: iso(l.firstAttemptAt),
    last_attempt_at: iso(l.lastAttemptAt),
  };
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Everything of a dead letter; the stored request already says `Bearer ***`, re-checked here. */
function detailOf(l: DeadLetter): Record<string, unknown> {
  const request = parsed(l.request) as { headers?: Record<string, unknown> } | string;
  if (typeof request === 'object' && request !== null && request.headers) {
    for (const name of Object.keys(request.headers)) {
      if (name.toLowerCase() === 'authorization') request.headers[name] = 'Bearer ***';
    }
  }
  return {
    ...summaryOf(l),
    extole_message: l.extoleMessage,
    config_revision: l.configRevision,
    created_at: iso(l.createdAt),
    event: parsed(l.event),
    request,
  };
}

function table(letters: DeadLetter[]): string {
  if (letters.length === 0) return 'no dead letters\n';
  const header = ['ID', 'DESTINATION', 'REASON', 'STATUS', 'CODE', 'ATTEMPTS', 'LAST ATTEMPT'];
  const rows = letters.map((l) => [
    l.id,
    l.destination,
    l.reason,
    l.httpStatus === null ? '-' : String(l.httpStatus),
    l.extoleCode ?? '-',
    String(l.attempts),
    iso(l.lastAttemptAt),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n${letters.length} dead letter${letters.length === 1 ? '' : 's'}\n`;
}
