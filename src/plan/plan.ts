/**
 * `plan`: what a config change does to real events. Loads the config as it is at a git REF
 * (the base) and as it is in the working tree, compiles every destination on both sides, runs
 * both over the same events and compares the outcomes per destination.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { compileDestination } from '../compile/transformer.js';
import { DROP_REASONS } from '../compile/types.js';
import type { DropReason, Outcome, Transformer } from '../compile/types.js';
import { loadConfig } from '../config/load.js';
import type { Diagnostic } from '../config/diagnostics.js';
import type { LoadedConfig, LoadedDestination } from '../config/model.js';
import { normalizeEvent } from '../events/normalize.js';
import type { AmplitudeEvent } from '../generated/amplitude-event.js';
import { deepEqual, outcomeChanged, type PlanOutcome } from './diff.js';
import { PlanEventsError } from './errors.js';
import { projectsForEvent, readEventFile, type ProjectRef } from './events.js';
import { existsAtCommit, findRepository, materializeTree, resolveCommit } from './git.js';

/** Default number of changed events shown per destination. */
export const DEFAULT_MAX_DIFFS = 10;

export interface PlanOptions {
  /** The git REF to compare against (branch, tag, sha, `origin/main`). */
  base: string;
  /** Current folder: finds the config (cosmiconfig) and resolves `--config` and `--events`. */
  cwd: string;
  /** Environment for secret interpolation (optional: unset secrets are warnings) and for git. */
  env: NodeJS.ProcessEnv;
  /** `--config PATH`; default: found from `cwd`. */
  configPath?: string;
  /** `--events GLOB` (relative to `cwd`): plan with only these events instead of samples + tests. */
  events?: string;
  /** Changed events listed per destination (counts are always complete). Default 10. */
  maxDiffs?: number;
  /** Clock for event normalization (events without `time`); fixed once so both sides agree. */
  now?: number;
}

export type DestinationStatus = 'added' | 'removed' | 'changed' | 'unchanged';

/** Outcome counts of one side: requests sent, and drops per reason (reasons with 0 left out). */
export interface OutcomeCounts {
  send: number;
  drop: Partial<Record<DropReason, number>>;
}

/** One event whose decision changed for one destination. */
export interface PlanChange {
  destination: string;
  /** The event's insert_id, null when it has none. */
  insertId: string | null;
  /** The project the event was run for. */
  project: string;
  /** Where the event came from: `samples/web.jsonl:3`, `destinations/x.yaml test "name"`. */
  origin: string;
  /** null: the destination does not exist on that side. */
  before: PlanOutcome | null;
  after: PlanOutcome | null;
}

export interface DestinationPlan {
  name: string;
  /** added / removed / changed (definition differs) / unchanged. */
  status: DestinationStatus;
  /** Event runs (an event run for two projects counts twice). */
  events: number;
  /** Runs whose decision changed (see {@link outcomeChanged}). */
  changed: number;
  /** null when the destination does not exist on that side. */
  before: OutcomeCounts | null;
  after: OutcomeCounts | null;
  /** The first `maxDiffs` changed runs, in event order. */
  changes: PlanChange[];
}

export interface Plan {
  /** The REF as given. */
  base: string;
  baseCommit: string;
  /** False when the root config file did not exist at the base (everything is `added`). */
  baseHasConfig: boolean;
  /** Where the events came from. */
  events: {
    source: 'samples' | 'events';
    /** Event files read, relative to `cwd`. */
    files: string[];
    /** Distinct `tests:` events used (0 with `--events`). */
    tests: number;
    /** Event runs (events × the projects each is run for). */
    runs: number;
    /** Events that could not be normalized, with the reason (not run). */
    skipped: string[];
  };
  destinations: DestinationPlan[];
  maxDiffs: number;
}

/** A side whose config does not validate (or does not compile). */
export interface InvalidSide {
  side: 'base' | 'working tree';
  diagnostics: Diagnostic[];
  /** Compile failures that validation did not catch. */
  errors: string[];
  /** Folder the side's diagnostics paths are printed relative to (so both sides print alike). */
  cwd: string;
}

export type PlanResult =
  | { kind: 'plan'; plan: Plan; redact: (text: string) => string }
  | { kind: 'invalid'; base: string; invalid: InvalidSide[]; redact: (text: string) => string };

/** An event run: one normalized event for one project. */
interface EventRun {
  event: AmplitudeEvent;
  project: string;
  insertId: string | null;
  origin: string;
}

interface Side {
  config: LoadedConfig;
  transformers: Map<string, Transformer>;
}

const toPosix = (p: string): string => p.split(path.sep).join('/');

/** `rel` is inside its base (not `..`-escaping, not absolute). */
const isInside = (rel: string): boolean => rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));

function compileSide(config: LoadedConfig, side: InvalidSide['side'], cwd: string): Side | InvalidSide {
  if (!config.ok) return { side, diagnostics: config.diagnostics, errors: [], cwd };
  const transformers = new Map<string, Transformer>();
  const errors: string[] = [];
  for (const dest of config.destinations) {
    try {
      transformers.set(dest.name, compileDestination({ name: dest.name, definition: dest.definition }));
    } catch (err) {
      errors.push(`${path.relative(cwd, dest.file) || dest.file}: destination ${dest.name} does not compile: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) return { side, diagnostics: config.diagnostics, errors, cwd };
  return { config, transformers };
}

async function runTransformer(transformer: Transformer, run: EventRun): Promise<PlanOutcome> {
  let outcome: Outcome;
  try {
    outcome = await transformer.transform(run.event, run.project);
  } catch (err) {
    // The transformer promises never to throw; if it does, show it instead of aborting the plan.
    return { outcome: 'drop', reason: 'mapping_error', message: `transformer threw: ${(err as Error).message}` };
  }
  if (outcome.outcome === 'send') return { outcome: 'send', request: outcome.request };
  return outcome.message === undefined
    ? { outcome: 'drop', reason: outcome.reason }
    : { outcome: 'drop', reason: outcome.reason, message: outcome.message };
}

function emptyCounts(): OutcomeCounts {
  return { send: 0, drop: {} };
}

function count(counts: OutcomeCounts, outcome: PlanOutcome): void {
  if (outcome.outcome === 'send') counts.send++;
  else counts.drop[outcome.reason] = (counts.drop[outcome.reason] ?? 0) + 1;
}

/** Drop counts in the fixed DROP_REASONS order, so JSON output is stable. */
function sortCounts(counts: OutcomeCounts): OutcomeCounts {
  const drop: Partial<Record<DropReason, number>> = {};
  for (const reason of DROP_REASONS) if (counts.drop[reason]) drop[reason] = counts.drop[reason];
  return { send: counts.send, drop };
}

function projectRefs(...configs: (LoadedConfig | undefined)[]): ProjectRef[] {
  const refs: ProjectRef[] = [];
  for (const config of configs) {
    for (const p of config?.root.projects ?? []) {
      if (!refs.some((r) => r.key === p.key)) refs.push({ key: p.key, amplitudeProjectId: p.amplitude_project_id });
    }
  }
  return refs;
}

function insertIdOf(event: AmplitudeEvent): string | null {
  return typeof event.insert_id === 'string' ? event.insert_id : null;
}

/** The `tests:` events of one side, as raw events with their project and origin. */
function testEvents(config: LoadedConfig, labelCwd: string, suffix: string) {
  const out: { raw: Record<string, unknown>; project: string; origin: string }[] = [];
  for (const dest of config.destinations as LoadedDestination[]) {
    const file = toPosix(path.relative(labelCwd, dest.file));
    for (const test of dest.definition.tests ?? []) {
      const project = test.project ?? dest.definition.projects[0];
      out.push({ raw: test.event as Record<string, unknown>, project, origin: `${file} test ${JSON.stringify(test.name)}${suffix}` });
    }
  }
  return out;
}

/**
 * Compute the plan: compare the config at `opts.base` with the working tree over the same
 * events. Never prints. Resolves with `kind: 'invalid'` when either side does not validate.
 *
 * Events: with `opts.events`, only those files; otherwise the working tree's `samples:` (both
 * sides see the same recorded traffic; the base's own samples are not used) plus every
 * `tests:` event of both sides (identical test events once), each with its test's project.
 * Recorded events run for the project {@link projectsForEvent} finds, else for every project.
 *
 * @throws ConfigNotFoundError (`ES_CONFIG_NOT_FOUND`) when the working tree has no config;
 *   PlanGitError (`ES_PLAN_GIT`) for a folder outside git or an unknown REF;
 *   PlanEventsError (`ES_PLAN_EVENTS`) for unreadable event files.
 */
export async function computePlan(opts: PlanOptions): Promise<PlanResult> {
  const maxDiffs = Math.max(0, opts.maxDiffs ?? DEFAULT_MAX_DIFFS);
  const now = opts.now ?? Date.now();
  const working = await loadConfig({ configPath: opts.configPath, cwd: opts.cwd, env: opts.env });

  // The config's own folder decides the repository, not the current directory.
  const top = await findRepository(working.rootDir, opts.env);
  const commit = await resolveCommit(top, opts.base, opts.env);
  const realCwd = await realpath(opts.cwd);
  const relRootDir = toPosix(path.relative(top, await realpath(working.rootDir)));
  const relRootFile = toPosix(path.relative(top, await realpath(working.rootFile)));
  if (!isInside(relRootDir)) throw new PlanEventsError(`config ${working.rootFile} is not inside the repository ${top}`);

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'extole-stream-plan-'));
  try {
    const baseTop = path.join(tmp, 'base');
    const relCwd = path.relative(top, realCwd);
    const baseCwd = isInside(relCwd) ? path.join(baseTop, relCwd) : path.join(baseTop, relRootDir);
    const baseRootFile = path.join(baseTop, relRootFile);

    let base: LoadedConfig | undefined;
    if (await existsAtCommit(top, commit, relRootFile, opts.env)) {
      await materializeTree(top, commit, relRootDir, baseTop, opts.env);
      if (existsSync(baseRootFile)) base = await loadConfig({ configPath: baseRootFile, cwd: baseCwd, env: opts.env });
    }
    const redact = (text: string): string => (base ? base.redact(working.redact(text)) : working.redact(text));

    const baseSide = base ? compileSide(base, 'base', baseCwd) : undefined;
    const workingSide = compileSide(working, 'working tree', realCwd);
    const invalid = [baseSide, workingSide].filter((s): s is InvalidSide => s !== undefined && 'side' in s);
    if (invalid.length > 0) return { kind: 'invalid', base: opts.base, invalid, redact };
    const before = baseSide as Side | undefined;
    const after = workingSide as Side;

    // Events: read once, normalized once, so both sides see exactly the same input.
    const projects = projectRefs(working, base);
    const runs: EventRun[] = [];
    const skipped: string[] = [];
    const files: string[] = [];
    let tests = 0;
    const addRun = (raw: Record<string, unknown>, project: string, origin: string) => {
      let event: AmplitudeEvent;
      try {
        event = normalizeEvent(raw, { now });
      } catch (err) {
        skipped.push(`${origin}: ${(err as Error).message}`);
        return;
      }
      runs.push({ event, project, insertId: insertIdOf(event), origin });
    };

    let fileList: string[];
    if (opts.events !== undefined) {
      fileList = (await glob(opts.events, { cwd: opts.cwd, absolute: true, onlyFiles: true })).sort();
      if (fileList.length === 0) throw new PlanEventsError(`no file matches --events ${JSON.stringify(opts.events)}`);
    } else {
      const samples = working.root.samples;
      const patterns = samples === undefined ? [] : Array.isArray(samples) ? samples : [samples];
      fileList = patterns.length === 0 ? [] : (await glob(patterns, { cwd: working.rootDir, absolute: true, onlyFiles: true })).sort();
    }
    for (const file of fileList) {
      files.push(toPosix(path.relative(opts.cwd, file)));
      const relToRoot = toPosix(path.relative(working.rootDir, file));
      for (const { raw, origin } of await readEventFile(file, opts.cwd)) {
        for (const project of projectsForEvent(raw, relToRoot, projects)) addRun(raw, project, origin);
      }
    }
    if (opts.events === undefined) {
      const seen = new Set<string>();
      const candidates = [...testEvents(working, realCwd, ''), ...(base ? testEvents(base, baseCwd, ' (base)') : [])];
      for (const t of candidates) {
        const key = `${t.project}\0${JSON.stringify(t.raw)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        tests++;
        addRun(t.raw, t.project, t.origin);
      }
    }

    const baseDests = new Map((base?.destinations ?? []).map((d) => [d.name, d]));
    const workDests = new Map(working.destinations.map((d) => [d.name, d]));
    const names = [...new Set([...baseDests.keys(), ...workDests.keys()])].sort();
    const destinations: DestinationPlan[] = [];
    for (const name of names) {
      const b = baseDests.get(name);
      const w = workDests.get(name);
      const status: DestinationStatus = !b ? 'added' : !w ? 'removed' : deepEqual(b.definition, w.definition) ? 'unchanged' : 'changed';
      const bt = b ? before?.transformers.get(name) : undefined;
      const wt = w ? after.transformers.get(name) : undefined;
      const beforeCounts = bt ? emptyCounts() : null;
      const afterCounts = wt ? emptyCounts() : null;
      const changes: PlanChange[] = [];
      let changed = 0;
      for (const run of runs) {
        const bo = bt ? await runTransformer(bt, run) : null;
        const wo = wt ? await runTransformer(wt, run) : null;
        if (bo && beforeCounts) count(beforeCounts, bo);
        if (wo && afterCounts) count(afterCounts, wo);
        if (outcomeChanged(bo, wo)) {
          changed++;
          if (changes.length < maxDiffs) {
            changes.push({ destination: name, insertId: run.insertId, project: run.project, origin: run.origin, before: bo, after: wo });
          }
        }
      }
      destinations.push({
        name,
        status,
        events: runs.length,
        changed,
        before: beforeCounts && sortCounts(beforeCounts),
        after: afterCounts && sortCounts(afterCounts),
        changes,
      });
    }

    return {
      kind: 'plan',
      redact,
      plan: {
        base: opts.base,
        baseCommit: commit,
        baseHasConfig: base !== undefined,
        events: { source: opts.events === undefined ? 'samples' : 'events', files, tests, runs: runs.length, skipped },
        destinations,
        maxDiffs,
      },
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
