/**
 * Validation and normalization of one ingested event in a single pass over its fields: what
 * `validateIngestEvent` followed by `normalizeEvent` give, for callers that do both per event
 * (the `transform` command), with one field lookup per key and the Export `event_time` parsed once.
 */
import type { AmplitudeEvent } from '../generated/amplitude-event.js';
import { EXPORT_EVENT_TIME, INGEST_FIELDS, parseExportEventTime } from './fields.js';
import { DEFAULT_MIN_ID_LENGTH, type IngestEventProblems } from './validate.js';

export interface IngestOptions {
  /** Amplitude's `options.min_id_length` (see validateIngestEvent). Default 5. */
  minIdLength?: number;
  /** Time (ms) for an event without one; called only then. Default `Date.now`. */
  now?: () => number;
}

/** The normalized event, or the problems that make it unusable (as validateIngestEvent reports them). */
export type IngestResult = { event: AmplitudeEvent; problems?: undefined } | { event?: undefined; problems: IngestEventProblems };

/**
 * `validateIngestEvent(raw, opts)`; when it reports nothing, `normalizeEvent(raw, { now })`.
 * Same field lists in the same order, same event (same keys in the same order, same values).
 */
export function ingestEvent(raw: unknown, opts: IngestOptions = {}): IngestResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { problems: { missing: [], invalid: ['event'] } };
  }
  const source = raw as Record<string, unknown>;
  const minIdLength = opts.minIdLength ?? DEFAULT_MIN_ID_LENGTH;
  let missing: string[] | undefined;
  let invalid: string[] | undefined;

  // The required fields first, in validateIngestEvent's order.
  const eventType = Object.hasOwn(source, 'event_type') ? source.event_type : undefined;
  if (eventType === undefined || eventType === null) (missing ??= []).push('event_type');
  else if (typeof eventType !== 'string' || eventType.length === 0) (invalid ??= []).push('event_type');
  const userId = Object.hasOwn(source, 'user_id') ? source.user_id : undefined;
  const deviceId = Object.hasOwn(source, 'device_id') ? source.device_id : undefined;
  const hasUserId = userId !== undefined && userId !== null;
  const hasDeviceId = deviceId !== undefined && deviceId !== null;
  if (hasUserId && (typeof userId !== 'string' || userId.length < minIdLength)) (invalid ??= []).push('user_id');
  if (hasDeviceId && (typeof deviceId !== 'string' || deviceId.length < minIdLength)) (invalid ??= []).push('device_id');
  if (!hasUserId && !hasDeviceId) (missing ??= []).push('user_id', 'device_id');

  // Every key written to `event` is a schema name from INGEST_FIELDS, never an input key.
  const event: Record<string, unknown> = {};
  let exportTime: number | undefined;
  let exportTimeParsed = false;
  // Object.keys: the own enumerable keys, in for-in order (what `for in` + hasOwn visits).
  const keys = Object.keys(source);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const value = source[key];
    if (key === EXPORT_EVENT_TIME) {
      // Not a schema field: checked and converted (below), never copied.
      exportTime = parseExportEventTime(value);
      exportTimeParsed = true;
      if (exportTime === undefined && value !== undefined && value !== null) (invalid ??= []).push(key);
      continue;
    }
    const rule = INGEST_FIELDS.get(key);
    if (rule === undefined || value === undefined) continue;
    if (!rule.accepts(value)) {
      // A wrong type is reported (null means "not set"; the required fields were checked above)
      // and, as normalizeEvent does, left out.
      if (value !== null && key !== 'event_type' && key !== 'user_id' && key !== 'device_id') (invalid ??= []).push(key);
      continue;
    }
    if (rule.renamed && Object.hasOwn(source, rule.target) && source[rule.target] !== undefined) continue;
    rule.assign(event, value);
  }
  if (missing !== undefined || invalid !== undefined) return { problems: { missing: missing ?? [], invalid: invalid ?? [] } };
  if (event.time === undefined) {
    if (!exportTimeParsed && Object.hasOwn(source, EXPORT_EVENT_TIME)) exportTime = parseExportEventTime(source[EXPORT_EVENT_TIME]);
    event.time = exportTime ?? (opts.now ?? Date.now)();
  }
  return { event: event as unknown as AmplitudeEvent };
}
