/**
 * Ingested event → normalized event (SPEC §3): the HTTP V2 shape the schema
 * `schemas/amplitude-event.schema.json` describes, whatever shape the event came in.
 */
import type { AmplitudeEvent } from '../generated/amplitude-event.js';
import { EXPORT_EVENT_TIME, INGEST_FIELDS, parseExportEventTime } from './fields.js';

export interface NormalizeOptions {
  /** Time (ms since the epoch) given to an event without one; default `Date.now()`. */
  now?: number;
}

/**
 * Normalize one Amplitude event to the HTTP V2 shape.
 *
 * - HTTP V2 / Batch events pass through.
 * - Amplitude Export / Webhook fields are converted per event: `event_time`
 *   (`"YYYY-MM-DD HH:mm:ss.ffffff"`, UTC) → `time` in ms, `$insert_id` → `insert_id`,
 *   `ip_address` → `ip`, `version_name` → `app_version`, `device_carrier` → `carrier`. When an
 *   event carries both names, the HTTP V2 one wins.
 * - Only fields the event schema lists survive, and only with a value of the schema's type
 *   (a field of the wrong type is left out, so the result always matches the schema; call
 *   `validateIngestEvent` first to reject such events instead).
 * - An event without a valid time gets `opts.now` (Amplitude sets the upload time).
 *
 * Prototype-safe: hostile keys (`__proto__`, `constructor`) at the top level are not schema
 * fields and are dropped; nested property objects are kept as they are (data, never merged into
 * anything here).
 */
export function normalizeEvent(raw: Record<string, unknown>, opts: NormalizeOptions = {}): AmplitudeEvent {
  // Every key written below comes from EVENT_FIELD_TYPES (schema names), never from the input,
  // so a plain object literal is safe.
  const event: Record<string, unknown> = {};
  const keys = Object.keys(raw); // own enumerable keys, in for-in order
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const rule = INGEST_FIELDS.get(key);
    if (rule === undefined) continue; // event_time is handled below
    const value = raw[key];
    if (value === undefined || !rule.accepts(value)) continue;
    if (rule.renamed && Object.hasOwn(raw, rule.target) && raw[rule.target] !== undefined) continue;
    rule.assign(event, value); // a fixed-name store keeps the event a fast object (see fields.ts)
  }
  if (event.time === undefined) {
    const exportTime = Object.hasOwn(raw, EXPORT_EVENT_TIME) ? parseExportEventTime(raw[EXPORT_EVENT_TIME]) : undefined;
    event.time = exportTime ?? opts.now ?? Date.now();
  }
  return event as unknown as AmplitudeEvent;
}
