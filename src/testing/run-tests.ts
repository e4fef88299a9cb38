/**
 * `extole-stream test`: every destination's `tests:` cases run through the real pipeline
 * (normalizeEvent → compiled transformer) and compared with what they expect.
 */
import path from 'node:path';
import { compileDestination } from '../compile/transformer.js';
import type { DropReason, Outcome, Transformer } from '../compile/types.js';
import type { LoadedConfig, LoadedDestination } from '../config/model.js';
import { normalizeEvent } from '../events/normalize.js';
import type { TestCase } from '../generated/destination.js';
import { UsageError } from '../errors.js';
import { diffValues, joinPath, type Difference } from './diff.js';

/** Time given to a test event without one, so event_time is the same on every run. */
export const TEST_EVENT_DEFAULT_TIME = 0;

/** A case's `expect:` (the schema's oneOf guarantees request XOR dropped once the config validated). */
export interface TestExpectation {
  request?: { method?: string; path?: string; url?: string; headers?: Record<string, string>; body?: unknown };
  dropped?: DropReason;
  message?: string;
}

/** What a case actually produced, in the shape users write `expect:` in. */
export type ActualOutcome =
  | {
      outcome: 'send';
      request: { method: string; url: string; path: string; headers: Record<string, string>; body: unknown };
    }
  | { outcome: 'drop'; reason: DropReason; message?: string }
  /** The case could not run at all (the destination does not compile, the event is unusable). */
  | { outcome: 'error'; message: string };

/** The result of one test case. */
export interface TestCaseResult {
  destination: string;
  name: string;
  /** Destination file (absolute) and 1-based position of the case. */
  file: string;
  line: number;
  col: number;
  project: string;
  status: 'pass' | 'fail';
  /** The case's `expect:` as written. */
  expected: TestExpectation;
  actual: ActualOutcome;
  /** Empty when the case passes. Paths start at `outcome`, `reason`, `message`, `method`, `path`, `url`, `headers.…`, `body.…`. */
  differences: Difference[];
}

/** All results, in destination (by name) then file order. */
export interface TestReport {
  cases: TestCaseResult[];
  passed: number;
  failed: number;
  /** Destinations whose tests ran (including those with no cases). */
  destinations: string[];
  /** No failed case. */
  ok: boolean;
}

export interface RunTestsOptions {
  /** Only this destination's tests. An unknown name throws UsageError. */
  destination?: string;
}

/**
 * Run every `tests:` case of the config's destinations (or of `opts.destination`).
 *
 * Each case's `event` is normalized (HTTP V2 or Export shape; an event without a time gets
 * {@link TEST_EVENT_DEFAULT_TIME}) and transformed as coming from the case's `project`
 * (default: the destination's first project). `expect.request` compares only the keys given
 * (method, path, url, headers by name) and the body exactly; `expect.dropped` compares the
 * reason, and `expect.message` must be a substring of the drop message.
 *
 * Never throws for a failing case or a destination that does not compile (its cases fail with
 * outcome `error`); throws UsageError for an unknown `opts.destination`.
 */
export async function runDestinationTests(config: LoadedConfig, opts: RunTestsOptions = {}): Promise<TestReport> {
  let destinations = [...config.destinations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (opts.destination !== undefined) {
    destinations = destinations.filter((d) => d.name === opts.destination);
    if (destinations.length === 0) {
      const known = config.destinations.map((d) => d.name).sort().join(', ') || '(none)';
      throw new UsageError(`unknown destination "${opts.destination}" (destinations: ${known})`);
    }
  }
  const cases: TestCaseResult[] = [];
  for (const dest of destinations) cases.push(...(await runOneDestination(dest)));
  const failed = cases.filter((c) => c.status === 'fail').length;
  return { cases, passed: cases.length - failed, failed, destinations: destinations.map((d) => d.name), ok: failed === 0 };
}

async function runOneDestination(dest: LoadedDestination): Promise<TestCaseResult[]> {
  const tests = dest.definition.tests ?? [];
  if (tests.length === 0) return [];
  let transformer: Transformer | undefined;
  let compileError: string | undefined;
  try {
    transformer = compileDestination({ name: dest.name, definition: dest.definition });
  } catch (err) {
    compileError = `destination does not compile: ${errorMessage(err)}`;
  }
  const results: TestCaseResult[] = [];
  for (let i = 0; i < tests.length; i++) {
    const tc = tests[i]!;
    const where = dest.locate(['tests', i]);
    const project = tc.project ?? dest.definition.projects[0];
    let actual: ActualOutcome;
    if (transformer === undefined) {
      actual = { outcome: 'error', message: compileError ?? 'destination does not compile' };
    } else {
      actual = await runCase(transformer, tc, project);
    }
    const differences = compareOutcome(tc.expect as TestExpectation, actual);
    results.push({
      destination: dest.name,
      name: tc.name,
      file: where.file || dest.file,
      line: where.line,
      col: where.col,
      project,
      status: differences.length === 0 ? 'pass' : 'fail',
      expected: tc.expect as TestExpectation,
      actual,
      differences,
    });
  }
  return results;
}

async function runCase(transformer: Transformer, tc: TestCase, project: string): Promise<ActualOutcome> {
  let outcome: Outcome;
  try {
    const event = normalizeEvent(tc.event as Record<string, unknown>, { now: TEST_EVENT_DEFAULT_TIME });
    outcome = await transformer.transform(event, project);
  } catch (err) {
    // The transformer promises never to throw; if it does, the case shows why instead of the run dying.
    return { outcome: 'error', message: errorMessage(err) };
  }
  return toActual(outcome);
}

/** An Outcome in the shape of a test's `expect:` (no bodyJson; headers as a plain map). */
export function toActual(outcome: Outcome): ActualOutcome {
  if (outcome.outcome === 'drop') {
    return outcome.message === undefined
      ? { outcome: 'drop', reason: outcome.reason }
      : { outcome: 'drop', reason: outcome.reason, message: outcome.message };
  }
  const r = outcome.request;
  return {
    outcome: 'send',
    request: { method: r.method, url: r.url, path: r.path, headers: { ...r.headers }, body: r.body },
  };
}

/**
 * The differences between what a case expects and what happened; empty = pass.
 * Exported for the reporters' tests and for `plan`-like tools.
 */
export function compareOutcome(expect: TestExpectation, actual: ActualOutcome): Difference[] {
  const expectedOutcome = expect.request !== undefined ? 'send' : 'drop';
  if (actual.outcome === 'error') {
    return [{ path: 'outcome', kind: 'changed', expected: expectedOutcome, actual: `error: ${actual.message}` }];
  }
  if (actual.outcome !== expectedOutcome) {
    const shown =
      actual.outcome === 'drop'
        ? `drop ${actual.reason}${actual.message ? `: ${actual.message}` : ''}`
        : `send ${actual.request.method} ${actual.request.path}`;
    const wanted = expect.dropped !== undefined ? `drop ${expect.dropped}` : 'send';
    return [{ path: 'outcome', kind: 'changed', expected: wanted, actual: shown }];
  }
  const diffs: Difference[] = [];
  if (actual.outcome === 'drop') {
    if (expect.dropped !== actual.reason) {
      diffs.push({ path: 'reason', kind: 'changed', expected: expect.dropped, actual: actual.reason });
    }
    if (expect.message !== undefined && !(actual.message ?? '').includes(expect.message)) {
      diffs.push({ path: 'message', kind: 'changed', expected: `…${expect.message}…`, actual: actual.message });
    }
    return diffs;
  }
  const want = expect.request!;
  const got = actual.request;
  for (const key of ['method', 'path', 'url'] as const) {
    if (want[key] !== undefined && want[key] !== got[key]) {
      diffs.push({ path: key, kind: 'changed', expected: want[key], actual: got[key] });
    }
  }
  if (want.headers !== undefined) {
    // Header names are case-insensitive; the transformer writes them lower-case.
    const lower = new Map(Object.entries(got.headers).map(([k, v]) => [k.toLowerCase(), v]));
    for (const [name, value] of Object.entries(want.headers)) {
      const have = lower.get(name.toLowerCase());
      const p = joinPath('headers', name.toLowerCase());
      if (have === undefined) diffs.push({ path: p, kind: 'missing', expected: value });
      else if (have !== value) diffs.push({ path: p, kind: 'changed', expected: value, actual: have });
    }
  }
  if (want.body !== undefined) diffs.push(...diffValues(want.body, got.body, 'body'));
  return diffs;
}

/** A file path as users see it: relative to `cwd` when inside it. */
export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}
