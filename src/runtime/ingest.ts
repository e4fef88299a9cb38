/**
 * The ingestion core shared by every way events come in (HTTP V2, Batch, Webhook, `replay`,
 * `dlq replay`): validate → normalize → run each destination's transformer → enqueue ALL the
 * resulting deliveries in ONE `queue.enqueue` call (one transaction) → wake delivery.
 *
 * The caller answers the sender only after `ingestEvents` resolves: that is the moment the
 * events are durable (SPEC §5 "200 only after the events are durably committed").
 */
import type { AmplitudeEvent } from '../generated/amplitude-event.js';
import type { DropReason, Outcome, Transformer } from '../compile/types.js';
import type { DeliveryInput, IngestEvent, PackedEvents, Queue } from '../queue/types.js';
import type { Metrics } from '../metrics.js';
import { ingestEvent } from '../events/ingest.js';
import type { LiveRecord, LiveTap } from './live.js';

/** Amplitude's error answer (HTTP V2 / Batch): `code` always equals the HTTP status. */
export interface AmplitudeErrorBody {
  code: number;
  error: string;
  missing_field?: string;
  events_with_invalid_fields?: Record<string, number[]>;
  events_with_missing_fields?: Record<string, number[]>;
}

/** Amplitude documents "Object depth may not exceed 40 layers" for property objects. */
export const MAX_EVENT_DEPTH = 40;

/** Error texts exactly as Amplitude's HTTP V2 / Batch API writes them. */
export const AMPLITUDE_ERRORS = {
  missingBody: 'Missing request body',
  invalidJson: 'Invalid JSON request body',
  missingField: 'Request missing required field',
  invalidEvent: 'Invalid event JSON',
  invalidApiKey: 'Invalid API key',
  invalidFields: 'Invalid field values on some events',
  invalidPath: 'Invalid request path',
  payloadTooLarge: 'Payload too large',
} as const;

export type EventShape =
  /** HTTP V2 / Batch: validated by Amplitude's rules before normalizing. */
  | 'http'
  /** Export / Webhook: Export field names and `event_time`; ids of any length. */
  | 'export';

export type PrepareResult = { ok: true; events: AmplitudeEvent[] } | { ok: false; error: AmplitudeErrorBody };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Depth of nested objects/arrays under `root` (root = 1), computed without recursion so a
 * hostile 100,000-level body cannot overflow the stack. Stops counting past `limit`.
 */
export function nestingDepth(root: unknown, limit: number): number {
  if (typeof root !== 'object' || root === null) return 0;
  let max = 1;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) max = depth;
    if (max > limit) return max;
    const children = Array.isArray(node) ? node : Object.values(node as object);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return max;
}

/** Add `index` under `field` in an Amplitude per-field index map (prototype-safe keys). */
function addIndex(map: Map<string, number[]>, field: string, index: number): void {
  const list = map.get(field);
  if (list) list.push(index);
  else map.set(field, [index]);
}

/**
 * Validate and normalize a request's events the way Amplitude does: every problem of every
 * event is collected into per-field index maps, and one bad event rejects the whole request
 * (nothing is enqueued), so the sender can fix and resend it.
 */
export function prepareEvents(
  raw: readonly unknown[],
  opts: { shape: EventShape; minIdLength?: number; now: number },
): PrepareResult {
  const missing = new Map<string, number[]>();
  const invalid = new Map<string, number[]>();
  const events: AmplitudeEvent[] = [];
  const nowFn = (): number => opts.now;
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i];
    if (!isPlainObject(item)) {
      return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.invalidEvent } };
    }
    // Depth first: the validators and transformers below recurse, a hostile body must not reach them.
    let tooDeep = false;
    for (const [field, value] of Object.entries(item)) {
      if (nestingDepth(value, MAX_EVENT_DEPTH) >= MAX_EVENT_DEPTH) {
        addIndex(invalid, field, i);
        tooDeep = true;
      }
    }
    if (tooDeep) continue;
    try {
      // Export data carries Amplitude's own ids (any length): only the shape rules apply to it.
      const minIdLength = opts.shape === 'http' ? opts.minIdLength : 1;
      // Validate and normalize in one pass (the same verdict and event as the two separately).
      const result = ingestEvent(item, { minIdLength, now: nowFn });
      if (result.problems) {
        for (const field of result.problems.missing) addIndex(missing, field, i);
        for (const field of result.problems.invalid) addIndex(invalid, field, i);
        continue;
      }
      events.push(result.event);
    } catch {
      // normalize/validate never should throw; if they do, the event is what is wrong.
      return { ok: false, error: { code: 400, error: AMPLITUDE_ERRORS.invalidEvent } };
    }
  }
  if (missing.size === 0 && invalid.size === 0) return { ok: true, events };
  const error: AmplitudeErrorBody = {
    code: 400,
    error: missing.size > 0 ? AMPLITUDE_ERRORS.missingField : AMPLITUDE_ERRORS.invalidFields,
  };
  if (invalid.size > 0) error.events_with_invalid_fields = Object.fromEntries(invalid);
  if (missing.size > 0) error.events_with_missing_fields = Object.fromEntries(missing);
  return { ok: false, error };
}

/** Everything ingestion needs, taken from ONE config snapshot so a reload never splits a request. */
export interface IngestTarget {
  transformers: readonly Transformer[];
  queue: Queue;
  metrics?: Metrics;
  /** insert_id de-duplication window; 0 disables (dlq replay). */
  dedupWindowMs: number;
  /** Tell delivery that rows were enqueued for these destinations. */
  wake?: (destinations: readonly string[]) => void;
  /** The live view (`GET /events/live`): told every decision, only while someone listens. */
  live?: LiveTap;
}

export interface IngestSummary {
  /** Events handed in. */
  events: number;
  /** Events committed now (including those every destination dropped). */
  accepted: number;
  /** Events skipped as repeats of an insert_id seen within the window (counted as ingested). */
  duplicates: number;
  /** Delivery rows written. */
  deliveries: number;
  /** Drops per reason, all destinations together. */
  dropped: Partial<Record<DropReason, number>>;
}

/**
 * What the transformers made of a request's events, before the commit: plain data (it crosses
 * from the ingest worker thread to the event loop by structured clone).
 */
export interface TransformedBatch {
  /** One row per event, in order: the event as JSON and its deliveries (packed by the worker thread). */
  rows: IngestEvent[] | PackedEvents;
  /** Number of events. */
  count: number;
  /** `destination\u0000reason` → drops. */
  dropCounts: Map<string, number>;
  /** Per event with an insert_id: its drop keys (to take back out when the queue skips it as a repeat). */
  dropsOf?: (string[] | undefined)[];
  /** Destinations that got at least one delivery row. */
  touched: string[];
  /** Live-view records per event, only when asked for. */
  decisions?: LiveRecord[][];
}

/**
 * Run every transformer on every event (already normalized). Pure apart from the transformers
 * themselves: the same call runs in the event loop and in the ingest worker thread.
 */
export async function transformEvents(
  transformers: readonly Transformer[],
  project: string,
  events: readonly AmplitudeEvent[],
  opts: { endpoint: string; now: number; dedupOn: boolean; live: boolean },
): Promise<TransformedBatch> {
  const dropCounts = new Map<string, number>();
  const touched = new Set<string>();
  const rows: IngestEvent[] = new Array(events.length);
  // Drops per event, kept for events the queue may skip as repeats (those with an insert_id), so
  // that a repeat's drops can be taken back out: it is counted as ingested, nothing else.
  const dropsOf: (string[] | undefined)[] | undefined = opts.dedupOn ? new Array(events.length) : undefined;
  // The live view costs one boolean when nobody listens; decisions are kept only when someone does.
  const decisions: LiveRecord[][] | undefined = opts.live ? new Array(events.length) : undefined;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const insertId = typeof event.insert_id === 'string' && event.insert_id !== '' ? event.insert_id : null;
    const deliveries: DeliveryInput[] = [];
    const eventDecisions: LiveRecord[] | undefined = decisions ? (decisions[i] = []) : undefined;
    for (const transformer of transformers) {
      let outcome: Outcome;
      try {
        const result = transformer.transform(event, project);
        // Synchronous transformers skip the microtask hop: thousands of events per request.
        outcome = transformer.sync ? (result as Outcome) : await result;
      } catch (err) {
        outcome = { outcome: 'drop', reason: 'mapping_error', message: err instanceof Error ? err.message : String(err) };
      }
      if (eventDecisions) eventDecisions.push(liveDecision(event, project, opts, transformer.name, outcome));
      if (outcome.outcome === 'send') {
        deliveries.push({ destination: transformer.name, path: outcome.request.path, body: outcome.bodyJson });
        touched.add(transformer.name);
      } else {
        const key = `${transformer.name}\u0000${outcome.reason}`;
        dropCounts.set(key, (dropCounts.get(key) ?? 0) + 1);
        if (dropsOf && insertId !== null) (dropsOf[i] ??= []).push(key);
      }
    }
    rows[i] = { insertId, event: JSON.stringify(event), deliveries };
  }
  const batch: TransformedBatch = { rows, count: rows.length, dropCounts, touched: [...touched] };
  if (dropsOf) batch.dropsOf = dropsOf;
  if (decisions) batch.decisions = decisions;
  return batch;
}

/**
 * Commit a transformed batch in one `enqueue` call, then count it, wake delivery and tell the
 * live view. Rejects with the queue's `QueueUnavailableError` when the commit fails (then
 * nothing was written, nothing was counted, and the sender must get a 5xx).
 */
export async function commitTransformed(
  target: IngestTarget,
  project: string,
  batch: TransformedBatch,
  opts: { endpoint: string; now: number; dedup?: boolean },
): Promise<IngestSummary> {
  const dedup = opts.dedup ?? true;
  const { rows, dropCounts, dropsOf, decisions } = batch;
  const result = await target.queue.enqueue(project, rows, {
    now: opts.now,
    dedupWindowMs: dedup ? target.dedupWindowMs : 0,
  });
  // A repeat is not dropped again: take its drops back out of the counts.
  if (dropsOf && result.duplicateIndexes) {
    for (const i of result.duplicateIndexes) {
      for (const key of dropsOf[i] ?? []) dropCounts.set(key, dropCounts.get(key)! - 1);
    }
  }
  const dropped: Partial<Record<DropReason, number>> = {};
  for (const [key, count] of dropCounts) {
    if (count === 0) continue;
    const reason = key.slice(key.indexOf('\u0000') + 1) as DropReason;
    dropped[reason] = (dropped[reason] ?? 0) + count;
  }
  // Counted only after the commit: a 503'd request ingested nothing.
  if (target.metrics) {
    target.metrics.ingestedEvents.inc({ project, endpoint: opts.endpoint }, result.accepted + result.duplicates);
    for (const [key, count] of dropCounts) {
      if (count === 0) continue;
      const [destination, reason] = key.split('\u0000') as [string, string];
      target.metrics.droppedEvents.inc({ destination, reason }, count);
    }
  }
  if (result.deliveries > 0 && batch.touched.length > 0) target.wake?.(batch.touched);
  if (decisions && target.live) {
    markDuplicates(decisions, result.duplicateIndexes);
    target.live.publish(decisions.flat());
  }
  return {
    events: batch.count,
    accepted: result.accepted,
    duplicates: result.duplicates,
    deliveries: result.deliveries,
    dropped,
  };
}

/**
 * Transform `events` (already normalized) for every destination of `target` and commit the
 * result in one `enqueue` call. Rejects with the queue's `QueueUnavailableError` when the
 * commit fails (then nothing was written and the sender must get a 5xx).
 */
export async function ingestEvents(
  target: IngestTarget,
  project: string,
  events: readonly AmplitudeEvent[],
  opts: { endpoint: string; now: number; dedup?: boolean },
): Promise<IngestSummary> {
  const dedupOn = (opts.dedup ?? true) && target.dedupWindowMs > 0;
  const live = target.live !== undefined && target.live.listening;
  const batch = await transformEvents(target.transformers, project, events, { endpoint: opts.endpoint, now: opts.now, dedupOn, live });
  return commitTransformed(target, project, batch, opts);
}

/** One live-view record of a transformer's decision (no event data beyond type and insert_id). */
function liveDecision(event: AmplitudeEvent, project: string, opts: { endpoint: string; now: number }, destination: string, outcome: Outcome): LiveRecord {
  const record: LiveRecord = {
    time: opts.now,
    stage: 'ingest',
    project,
    endpoint: opts.endpoint,
    insert_id: typeof event.insert_id === 'string' && event.insert_id !== '' ? event.insert_id : null,
    event_type: typeof event.event_type === 'string' ? event.event_type : null,
    destination,
    outcome: outcome.outcome,
  };
  if (outcome.outcome === 'drop') {
    record.reason = outcome.reason;
    if (outcome.message !== undefined) record.message = outcome.message;
  } else {
    record.request = { method: 'POST', path: outcome.request.path, body: outcome.request.body };
  }
  return record;
}

/** Turn the decisions of the events the queue skipped as repeats into `duplicate`. */
function markDuplicates(decisions: LiveRecord[][], duplicateIndexes: readonly number[] | undefined): void {
  for (const i of duplicateIndexes ?? []) markDuplicate(decisions[i]);
}

function markDuplicate(records: LiveRecord[] | undefined): void {
  for (const r of records ?? []) {
    r.outcome = 'duplicate';
    delete r.reason;
    delete r.request;
    r.message = 'insert_id seen within the de-duplication window: counted as ingested, not enqueued again';
  }
}
