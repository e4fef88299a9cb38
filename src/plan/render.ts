/**
 * Printing a plan: `json` (a fixed shape for scripts), `markdown` (a pull-request comment) and
 * `text` (compact, colored on a terminal). Everything printed passes through both sides'
 * `redact`, so a secret value never reaches the output even if it shows up in an event.
 */
import { formatDiagnostics } from '../config/format.js';
import type { DropReason, ExtoleRequest } from '../compile/types.js';
import { DROP_REASONS } from '../compile/types.js';
import { requestFieldChanges, requestFields, type PlanOutcome } from './diff.js';
import type { DestinationPlan, OutcomeCounts, Plan, PlanChange, PlanResult } from './plan.js';

export type PlanFormat = 'text' | 'markdown' | 'json';
export const PLAN_FORMATS: readonly PlanFormat[] = ['text', 'markdown', 'json'];

/** First line of every markdown plan: lets a workflow find and update its one sticky comment. */
export const PLAN_COMMENT_MARKER = '<!-- extole-stream-plan -->';

export interface RenderedPlan {
  stdout: string;
  stderr: string;
  /** 0: a plan (changes or not); 1: a side does not validate. */
  exitCode: 0 | 1;
}

/** The JSON form of an outcome: `{"outcome":"send","request":…}` or `{"outcome":"drop","reason":…}`. */
function outcomeJson(o: PlanOutcome | null): unknown {
  if (o === null) return null;
  if (o.outcome === 'send') return { outcome: 'send', request: o.request };
  return o.message === undefined ? { outcome: 'drop', reason: o.reason } : { outcome: 'drop', reason: o.reason, message: o.message };
}

/**
 * The fixed JSON document for scripts:
 * `{"base", "destinations": [{"name","status","events","changed","before","after"}], "changes": [{"destination","insert_id","before","after"}]}`.
 */
export function planToJson(plan: Plan): unknown {
  return {
    base: plan.base,
    destinations: plan.destinations.map((d) => ({
      name: d.name,
      status: d.status,
      events: d.events,
      changed: d.changed,
      before: d.before,
      after: d.after,
    })),
    changes: plan.destinations.flatMap((d) =>
      d.changes.map((c) => ({ destination: c.destination, insert_id: c.insertId, before: outcomeJson(c.before), after: outcomeJson(c.after) })),
    ),
  };
}

const MAX_VALUE = 200;

/** A value as a diff shows it: JSON (strings quoted), long values cut. */
function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function dropLabel(o: { reason: DropReason; message?: string }): string {
  return o.message ? `drop(${o.reason}: ${o.message})` : `drop(${o.reason})`;
}

function sendLabel(request: ExtoleRequest): string {
  return `send ${request.method} ${request.url}`;
}

type Mark = '-' | '+' | ' ';
interface DiffLine {
  mark: Mark;
  text: string;
}

/** The body fields of a request as diff lines (URL already in the send label). */
function fieldLines(request: ExtoleRequest, mark: Mark): DiffLine[] {
  const lines: DiffLine[] = [];
  for (const [p, v] of requestFields(request)) if (p !== 'url') lines.push({ mark, text: `  ${p}: ${show(v)}` });
  return lines;
}

/** What changed for one event, as unified-diff-like lines (markdown ```diff blocks). */
export function changeDiffLines(change: PlanChange): DiffLine[] {
  const { before, after } = change;
  const side = (o: PlanOutcome | null, mark: Mark): DiffLine[] => {
    if (o === null) return [{ mark, text: mark === '-' ? '(destination did not exist)' : '(destination removed)' }];
    if (o.outcome === 'drop') return [{ mark, text: dropLabel(o) }];
    return [{ mark, text: sendLabel(o.request) }, ...fieldLines(o.request, mark)];
  };
  if (before?.outcome === 'send' && after?.outcome === 'send') {
    const lines: DiffLine[] = [];
    for (const f of requestFieldChanges(before.request, after.request)) {
      if (f.kind !== 'added') lines.push({ mark: '-', text: `${f.path}: ${show(f.before)}` });
      if (f.kind !== 'removed') lines.push({ mark: '+', text: `${f.path}: ${show(f.after)}` });
    }
    return lines;
  }
  // A decision change: keep the losing side short (its request is gone), show the new request in full.
  const shortBefore: DiffLine[] =
    before === null ? side(null, '-') : before.outcome === 'drop' ? side(before, '-') : [{ mark: '-', text: sendLabel(before.request) }];
  return [...shortBefore, ...side(after, '+')];
}

/** Compact one-line-per-field text for a terminal: `data.revenue: 42 → "42"`, `send → drop(no_identity)`. */
function changeTextLines(change: PlanChange): string[] {
  const { before, after } = change;
  const label = (o: PlanOutcome | null, missing: string) => (o === null ? missing : o.outcome === 'send' ? 'send' : dropLabel(o));
  if (before?.outcome === 'send' && after?.outcome === 'send') {
    return requestFieldChanges(before.request, after.request).map((f) => `${f.path}: ${show(f.before)} → ${show(f.after)}`);
  }
  const lines = [`${label(before, '(new destination)')} → ${label(after, '(destination removed)')}`];
  if (after?.outcome === 'send') {
    lines.push(`  url: ${after.request.url}`);
    for (const l of fieldLines(after.request, ' ')) lines.push(l.text);
  }
  return lines;
}

function dropsBeforeAfter(before: OutcomeCounts | null, after: OutcomeCounts | null): string {
  const parts: string[] = [];
  for (const reason of DROP_REASONS) {
    const b = before?.drop[reason] ?? 0;
    const a = after?.drop[reason] ?? 0;
    if (b === 0 && a === 0) continue;
    parts.push(`${reason} ${before ? b : '–'} → ${after ? a : '–'}`);
  }
  return parts.length === 0 ? '–' : parts.join(', ');
}

function sendBeforeAfter(d: DestinationPlan): string {
  return `${d.before ? d.before.send : '–'} → ${d.after ? d.after.send : '–'}`;
}

function eventsSummary(plan: Plan): string {
  const e = plan.events;
  const sources: string[] = [];
  if (e.files.length > 0) sources.push(`${e.files.length} ${e.source === 'events' ? 'event' : 'sample'} file${e.files.length === 1 ? '' : 's'}`);
  if (e.tests > 0) sources.push(`${e.tests} test event${e.tests === 1 ? '' : 's'}`);
  return `${e.runs} event run${e.runs === 1 ? '' : 's'}${sources.length ? ` (${sources.join(', ')})` : ''}`;
}

function totals(plan: Plan) {
  const by = (s: string) => plan.destinations.filter((d) => d.status === s).length;
  return {
    added: by('added'),
    removed: by('removed'),
    changed: by('changed'),
    unchanged: by('unchanged'),
    events: plan.destinations.reduce((n, d) => n + d.changed, 0),
  };
}

function shortSha(sha: string): string {
  return sha.slice(0, 12);
}

function longestRun(text: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

/** Inline code that survives backticks in the content. */
function code(text: string): string {
  const ticks = '`'.repeat(longestRun(text, '`') + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${text}${pad}${ticks}`;
}

/** A fenced block whose fence is longer than any backtick run inside (content cannot break out). */
function fenced(content: string, lang: string): string {
  const fence = '`'.repeat(Math.max(3, longestRun(content, '`') + 1));
  return `${fence}${lang}\n${content}\n${fence}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Markdown for a pull-request comment: summary table, then one collapsible section per destination with changes. */
export function planToMarkdown(plan: Plan): string {
  const t = totals(plan);
  const out: string[] = [PLAN_COMMENT_MARKER, '### extole-stream plan', ''];
  out.push(`Base ${code(plan.base)} (${code(shortSha(plan.baseCommit))}) → working tree · ${eventsSummary(plan)}`);
  out.push('');
  if (!plan.baseHasConfig) out.push('> The base has no config at this path: every destination is new.', '');
  if (plan.destinations.length > 0) {
    out.push('| destination | status | events | changed | send before→after | drops before→after |');
    out.push('|---|---|---:|---:|---|---|');
    for (const d of plan.destinations) {
      const status = d.status === 'unchanged' ? 'unchanged' : `**${d.status}**`;
      out.push(`| ${code(d.name)} | ${status} | ${d.events} | ${d.changed} | ${sendBeforeAfter(d)} | ${dropsBeforeAfter(d.before, d.after)} |`);
    }
    out.push('');
  }
  out.push(
    t.events === 0
      ? `**No event changes its outcome.** Destinations: ${t.added} added, ${t.removed} removed, ${t.changed} changed, ${t.unchanged} unchanged.`
      : `**${t.events} event run${t.events === 1 ? '' : 's'} change${t.events === 1 ? 's' : ''} outcome.** Destinations: ${t.added} added, ${t.removed} removed, ${t.changed} changed, ${t.unchanged} unchanged.`,
  );
  for (const d of plan.destinations) {
    if (d.changes.length === 0) continue;
    const shown = d.changes.length < d.changed ? ` (first ${d.changes.length})` : '';
    out.push('', `<details><summary><code>${escapeHtml(d.name)}</code> (${d.status}): ${d.changed} changed event run${d.changed === 1 ? '' : 's'}${shown}</summary>`, '');
    for (const c of d.changes) {
      const id = c.insertId === null ? 'no insert_id' : code(c.insertId);
      out.push(`${id} · project ${code(c.project)} · ${code(c.origin)}`, '');
      out.push(fenced(changeDiffLines(c).map((l) => `${l.mark} ${l.text}`).join('\n'), 'diff'), '');
    }
    out.push('</details>');
  }
  if (plan.events.skipped.length > 0) {
    out.push('', `<details><summary>${plan.events.skipped.length} event(s) skipped (could not be normalized)</summary>`, '');
    out.push(fenced(plan.events.skipped.join('\n'), ''), '', '</details>');
  }
  return out.join('\n') + '\n';
}

const ANSI = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/** Compact text for a terminal; `color` adds ANSI colors (only when stdout is a TTY). */
export function planToText(plan: Plan, opts: { color?: boolean } = {}): string {
  const paint = (color: keyof typeof ANSI, text: string) => (opts.color ? `${ANSI[color]}${text}${ANSI.reset}` : text);
  const t = totals(plan);
  const out: string[] = [];
  out.push(`${paint('bold', 'extole-stream plan')}: ${plan.base} (${shortSha(plan.baseCommit)}) → working tree, ${eventsSummary(plan)}`);
  if (!plan.baseHasConfig) out.push('The base has no config at this path: every destination is new.');
  const symbol = { added: paint('green', '+'), removed: paint('red', '-'), changed: paint('yellow', '~'), unchanged: ' ' } as const;
  const width = Math.max(0, ...plan.destinations.map((d) => d.name.length));
  for (const d of plan.destinations) {
    out.push(
      `${symbol[d.status]} ${d.name.padEnd(width)}  ${d.status.padEnd(9)}  ${d.changed}/${d.events} changed  send ${sendBeforeAfter(d)}  drops ${dropsBeforeAfter(d.before, d.after)}`,
    );
    for (const c of d.changes) {
      out.push(paint('dim', `    ${c.insertId ?? '(no insert_id)'} [${c.project}] ${c.origin}`));
      for (const line of changeTextLines(c)) out.push(`      ${line}`);
    }
    if (d.changes.length < d.changed) out.push(paint('dim', `    … ${d.changed - d.changes.length} more (--max-diffs)`));
  }
  for (const s of plan.events.skipped) out.push(paint('yellow', `skipped ${s}`));
  out.push(
    `Plan: ${t.added} added, ${t.removed} removed, ${t.changed} changed, ${t.unchanged} unchanged destination(s); ` +
      (t.events === 0 ? 'no event changes its outcome.' : paint('yellow', `${t.events} event run(s) change outcome.`)),
  );
  return out.join('\n') + '\n';
}

/** Render a {@link PlanResult} in `format`, redacted, with its exit code. */
export function renderPlanResult(result: PlanResult, format: PlanFormat, opts: { color?: boolean } = {}): RenderedPlan {
  if (result.kind === 'invalid') {
    const parts: string[] = [];
    for (const side of result.invalid) {
      const which = side.side === 'base' ? `the base config (at ${result.base})` : 'the working tree config';
      const errors = side.diagnostics.filter((d) => d.severity === 'error').length + side.errors.length;
      parts.push(`extole-stream plan: ${which} does not validate (${errors} error${errors === 1 ? '' : 's'}):`);
      const diagnostics = formatDiagnostics(side.diagnostics, 'text', { cwd: side.cwd }).replace(/\n$/, '');
      if (diagnostics) parts.push(diagnostics);
      parts.push(...side.errors);
    }
    const stderr = result.redact(parts.join('\n') + '\n');
    let stdout = '';
    if (format === 'markdown') {
      // The PR comment should say why there is no plan.
      stdout = result.redact(
        [PLAN_COMMENT_MARKER, '### extole-stream plan', '', ':x: **No plan: the config does not validate.**', '', fenced(parts.join('\n'), ''), ''].join('\n'),
      );
    }
    return { stdout, stderr, exitCode: 1 };
  }
  const plan = result.plan;
  const body =
    format === 'json' ? JSON.stringify(planToJson(plan), null, 2) + '\n' : format === 'markdown' ? planToMarkdown(plan) : planToText(plan, opts);
  return { stdout: result.redact(body), stderr: '', exitCode: 0 };
}
