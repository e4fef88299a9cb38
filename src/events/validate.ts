/**
 * Per-event checks of Amplitude's HTTP V2 API, so ingest can answer 400 exactly as Amplitude
 * does (`events_with_missing_fields`, `events_with_invalid_fields`).
 */
import { EXPORT_EVENT_TIME, INGEST_FIELDS, parseExportEventTime } from './fields.js';

export interface ValidateOptions {
  /** Amplitude's `options.min_id_length`: shortest accepted user_id / device_id. Default 5. */
  minIdLength?: number;
}

/** Field names at fault, as Amplitude reports them per event. Both empty = valid. */
export interface IngestEventProblems {
  missing: string[];
  invalid: string[];
}

/** Amplitude's default minimum length of user_id and device_id. */
export const DEFAULT_MIN_ID_LENGTH = 5;

const ID_FIELDS = ['user_id', 'device_id'] as const;

/**
 * Check one ingested event (HTTP V2 or Export shape) against Amplitude's HTTP V2 rules:
 * - `event_type` is required (missing when absent or null; invalid when not a non-empty string);
 * - `user_id` or `device_id` is required (both absent or null → both reported missing);
 * - a present id must be a string of at least `minIdLength` characters (default 5), else invalid;
 * - every other schema field present must have the schema's type (`time` an integer in ms,
 *   `event_properties` an object, …); Export names are checked as the field they become, and an
 *   Export `event_time` must be a `YYYY-MM-DD HH:mm:ss[.ffffff]` UTC time.
 * A null value counts as absent. Unknown fields are not errors (normalization drops them). A non-object event is reported as
 * invalid field `event`.
 */
export function validateIngestEvent(raw: unknown, opts: ValidateOptions = {}): IngestEventProblems {
  const missing: string[] = [];
  const invalid: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    invalid.push('event');
    return { missing, invalid };
  }
  const event = raw as Record<string, unknown>;
  const minIdLength = opts.minIdLength ?? DEFAULT_MIN_ID_LENGTH;

  const eventType = own(event, 'event_type');
  if (eventType === undefined || eventType === null) missing.push('event_type');
  else if (typeof eventType !== 'string' || eventType.length === 0) invalid.push('event_type');

  let ids = 0;
  for (const field of ID_FIELDS) {
    const id = own(event, field);
    if (id === undefined || id === null) continue;
    ids++;
    if (typeof id !== 'string' || id.length < minIdLength) invalid.push(field);
  }
  if (ids === 0) missing.push(...ID_FIELDS);

  for (const key in event) {
    if (!Object.hasOwn(event, key) || key === 'event_type' || key === 'user_id' || key === 'device_id') continue;
    const value = event[key];
    // null means "not set" (Export events carry many nulls; normalization leaves them out).
    if (value === undefined || value === null) continue;
    if (key === EXPORT_EVENT_TIME) {
      if (parseExportEventTime(value) === undefined) invalid.push(key);
      continue;
    }
    const rule = INGEST_FIELDS.get(key);
    if (rule !== undefined && !rule.accepts(value)) invalid.push(key);
  }
  return { missing, invalid };
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
