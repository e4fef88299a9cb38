/**
 * The fields of a normalized event and their JSON types, derived once from
 * `schemas/amplitude-event.schema.json` (the source of truth), plus the Amplitude Export /
 * Webhook names that map onto them (SPEC §3).
 */
import { readFileSync } from 'node:fs';

/** A JSON Schema `type` name as used by the event schema. */
export type JsonTypeName = 'string' | 'integer' | 'number' | 'object' | 'array' | 'boolean' | 'null';

interface EventSchema {
  properties: Record<string, { type?: JsonTypeName | JsonTypeName[] }>;
}

// Read at module load like src/version.ts does: ../../schemas resolves from both src/ and dist/.
const schema = JSON.parse(
  readFileSync(new URL('../../schemas/amplitude-event.schema.json', import.meta.url), 'utf8'),
) as EventSchema;

/**
 * Field name → allowed JSON types, in schema order. A Map, not an object, so that lookups of
 * hostile keys like `__proto__` or `constructor` find nothing.
 */
export const EVENT_FIELD_TYPES: ReadonlyMap<string, readonly JsonTypeName[]> = new Map(
  Object.entries(schema.properties).map(([name, def]) => {
    const types = def.type === undefined ? [] : Array.isArray(def.type) ? def.type : [def.type];
    return [name, Object.freeze([...types])] as const;
  }),
);

/**
 * Amplitude Export / Webhook field → normalized field, for the renames SPEC §3 lists
 * (`event_time` is converted, not renamed: see `parseExportEventTime`). Export fields with the same
 * name as a schema field (`amplitude_id`, `uuid`, `os_name`, `city`, …) need no entry.
 */
export const EXPORT_RENAMES: ReadonlyMap<string, string> = new Map([
  ['$insert_id', 'insert_id'],
  ['ip_address', 'ip'],
  ['version_name', 'app_version'],
  ['device_carrier', 'carrier'],
]);

/** Export shape's time field (`"YYYY-MM-DD HH:mm:ss.ffffff"`, UTC). */
export const EXPORT_EVENT_TIME = 'event_time';

/**
 * True for an event in Amplitude's Export / Webhook shape (it has `event_time` or `$insert_id`,
 * which HTTP V2 events do not). Such events carry Amplitude's own ids, which may be shorter than
 * HTTP V2's minimum id length, so callers that cannot know the endpoint (`transform`) check them
 * as `/webhook` and `replay` do.
 */
export function isExportShape(raw: Record<string, unknown>): boolean {
  return Object.hasOwn(raw, EXPORT_EVENT_TIME) || Object.hasOwn(raw, '$insert_id');
}

for (const target of EXPORT_RENAMES.values()) {
  if (!EVENT_FIELD_TYPES.has(target)) throw new Error(`amplitude-event schema lacks field ${target}`);
}

/** True when `value` is of JSON type `type` (integers are numbers without a fraction). */
export function isJsonType(value: unknown, type: JsonTypeName): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

/** True when `value` matches one of `types` (no types listed = anything goes). */
export function matchesTypes(value: unknown, types: readonly JsonTypeName[]): boolean {
  if (types.length === 0) return true;
  for (const type of types) if (isJsonType(value, type)) return true;
  return false;
}

/** How one incoming field is taken: the normalized field it becomes and its type check. */
export interface IngestFieldRule {
  /** Normalized (schema) field name. */
  readonly target: string;
  /** True for an Export name renamed to `target` (the HTTP V2 name wins when both are sent). */
  readonly renamed: boolean;
  /** The schema's type check for the value. */
  readonly accepts: (value: unknown) => boolean;
  /** `event[target] = value` as a store of that one name (see {@link namedStore}). */
  readonly assign: (event: Record<string, unknown>, value: unknown) => void;
}

/**
 * A function that stores `value` under the fixed property `name`. Normalized events are built
 * one field at a time; V8 turns an object that gets more than a dozen properties through
 * computed-key stores (`event[key] = value`) into a slow dictionary, and every later read of the
 * event (mappings, JSON) pays for it, while stores of a fixed name keep it a fast object. The
 * source text holds only the JSON-quoted schema name, never event data.
 */
function namedStore(name: string): (event: Record<string, unknown>, value: unknown) => void {
  if (name === '__proto__') {
    return (event, value) => {
      Object.defineProperty(event, name, { value, enumerable: true, writable: true, configurable: true });
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: a constant, quoted name
  return new Function('event', 'value', `event[${JSON.stringify(name)}] = value;`) as (event: Record<string, unknown>, value: unknown) => void;
}

function typeCheck(types: readonly JsonTypeName[]): (value: unknown) => boolean {
  // The common single types get a direct test (this runs for every field of every event).
  if (types.length === 1) {
    switch (types[0]) {
      case 'string':
        return (value) => typeof value === 'string';
      case 'object':
        return (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
      case 'integer':
        return Number.isSafeInteger;
      default:
        break;
    }
  }
  return (value) => matchesTypes(value, types);
}

/**
 * Incoming field name (schema names and Export renames) → how it is taken. A Map, so hostile
 * keys (`__proto__`, `constructor`) find nothing.
 */
const ASSIGN_BY_FIELD = new Map([...EVENT_FIELD_TYPES.keys()].map((name) => [name, namedStore(name)]));

export const INGEST_FIELDS: ReadonlyMap<string, IngestFieldRule> = new Map<string, IngestFieldRule>([
  ...[...EVENT_FIELD_TYPES].map(
    ([name, types]) => [name, { target: name, renamed: false, accepts: typeCheck(types), assign: ASSIGN_BY_FIELD.get(name)! }] as const,
  ),
  ...[...EXPORT_RENAMES].map(
    ([from, to]) =>
      [from, { target: to, renamed: true, accepts: typeCheck(EVENT_FIELD_TYPES.get(to) ?? []), assign: ASSIGN_BY_FIELD.get(to)! }] as const,
  ),
]);

// "2024-11-27 09:33:20.123456": Export's format. A `T` separator, fewer fraction digits and a
// trailing `Z` are accepted too (hand-written webhook samples use them).
const EXPORT_TIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;

/**
 * Milliseconds since the epoch for an Export `event_time` (UTC), or undefined when the text is
 * not such a time (including impossible dates like month 13 or Feb 30). Sub-millisecond digits
 * are truncated.
 */
export function parseExportEventTime(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = EXPORT_TIME_PATTERN.exec(text);
  if (m === null) return undefined;
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  const hour = +m[4];
  const minute = +m[5];
  const second = +m[6];
  const millis = m[7] === undefined ? 0 : +(m[7] + '00').slice(0, 3);
  // Only real times: Date.UTC would roll Feb 30 over to Mar 2 (and read years 0–99 as 1900–1999),
  // which is what the fields are checked against here, without building a Date.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
