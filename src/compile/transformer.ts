/**
 * Destination definition → Transformer: SPEC §3.1 applied to one normalized event at a time.
 *
 * Everything that depends only on the destination (project set, selection rows, allow-lists,
 * compiled expressions, labels, URL, headers) is computed here once; `transform` does only the
 * per-event work. Drops without a message are shared frozen objects.
 */
import type { AmplitudeEvent } from '../generated/amplitude-event.js';
import type { Destination } from '../generated/destination.js';
import { USER_AGENT } from '../version.js';
import { DEFAULT_BASE_URL, DEFAULT_ENDPOINT, endpointPath } from '../extole/request.js';
import {
  compileExpression,
  type CompiledExpression,
  type CompileExpressionOptions,
  type Guardrails,
  mappingErrorMessage,
} from './expression.js';
import { MappingError } from './errors.js';
import { isJsonObject, isTruthy, setOwn } from './json.js';
import { compileDataMapper, compilePropertyCopier, type PropertyCopier } from './property-copy.js';
import type { DropReason, ExtoleRequest, ExtoleRequestBody, Outcome, Transformer } from './types.js';

/** Extole refuses requests of 2 MB or more (Amplitude's tile documents the same limit). */
export const MAX_BODY_BYTES = 2_000_000;

/** Default `extole.app_type`, sent as `data.extole_app_type`. */
export const DEFAULT_APP_TYPE = 'extole-stream';

/** Default `identity.email` expression. */
export const DEFAULT_EMAIL_EXPRESSION = 'user_id';

export interface CompileDestinationOptions {
  guardrails?: Partial<Guardrails>;
  /** `false` evaluates every expression with jsonata (no fast path); see CompileExpressionOptions. */
  fastPath?: boolean;
}

type AllowList = '*' | readonly string[] | undefined;

/** One `events:` row, ready to match. */
interface SelectionRow {
  /** `type: "*"` */
  readonly all: boolean;
  readonly types: ReadonlySet<string>;
  readonly where: CompiledExpression | undefined;
  /** e.g. `events[1].where`, prefixed to its error messages. */
  readonly label: string;
}

/** One `mapping.data` entry. */
interface DataMapping {
  readonly key: string;
  readonly expression: CompiledExpression;
  readonly label: string;
}

const HEADERS: ExtoleRequest['headers'] = Object.freeze({
  authorization: 'Bearer ***',
  'content-type': 'application/json',
  'user-agent': USER_AGENT,
});

function frozenDrop(reason: DropReason): Outcome {
  return Object.freeze({ outcome: 'drop', reason }) as Outcome;
}
const DROP_PROJECT_NOT_ENABLED = frozenDrop('project_not_enabled');
const DROP_DESTINATION_DISABLED = frozenDrop('destination_disabled');
const DROP_EVENT_NOT_SELECTED = frozenDrop('event_not_selected');
const DROP_NO_IDENTITY = frozenDrop('no_identity');

// UTF-16 code units → UTF-8 bytes is at most ×3, so shorter strings need no byte count.
const SURELY_SMALL_LENGTH = Math.floor((MAX_BODY_BYTES - 1) / 3);

// ISO 8601 date-time as Extole parses it: date, `T`, time, optional fraction and offset.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Compile one destination into a `Transformer` (SPEC §3.1). Absent fields get the schema's
 * defaults here too, so a definition straight from YAML works as well as a loaded one. Every
 * expression is compiled once; a parse error throws a `MappingError` naming the field.
 */
export function compileDestination(
  dest: { name: string; definition: Destination },
  opts: CompileDestinationOptions = {},
): Transformer {
  return new CompiledTransformer(dest.name, dest.definition, opts.guardrails ?? {}, { fastPath: opts.fastPath });
}

class CompiledTransformer implements Transformer {
  readonly name: string;
  readonly sync: boolean;
  readonly transform: (event: AmplitudeEvent, project: string) => Outcome | Promise<Outcome>;

  private readonly projects: ReadonlySet<string>;
  private readonly enabled: boolean;
  private readonly rows: readonly SelectionRow[];
  /** Event type → the rows that can select it, in definition order (a type listed by some row). */
  private readonly rowsByType: ReadonlyMap<unknown, readonly SelectionRow[]>;
  /** The rows for any other type: the `type: "*"` ones. */
  private readonly wildcardRows: readonly SelectionRow[];
  private readonly email: CompiledExpression;
  private readonly partnerUserId: CompiledExpression | undefined;
  private readonly requireEmail: boolean;
  private readonly groupAllow: AllowList;
  private readonly userAllow: AllowList;
  private readonly eventAllow: AllowList;
  private readonly asStrings: boolean;
  /** Compiled copies for explicit user/event allow-lists (undefined for `*` or none). */
  private readonly userCopy: PropertyCopier | undefined;
  private readonly eventCopy: PropertyCopier | undefined;
  private readonly eventName: CompiledExpression | undefined;
  private readonly eventTime: CompiledExpression | undefined;
  private readonly data: readonly DataMapping[];
  private readonly appType: string;
  private readonly labels: string | undefined;
  private readonly url: string;
  private readonly path: string;

  constructor(name: string, def: Destination, guardrails: Partial<Guardrails>, compileOptions: CompileExpressionOptions = {}) {
    this.name = name;
    const expressions: CompiledExpression[] = [];
    const compile = (source: string, label: string): CompiledExpression => {
      let compiled: CompiledExpression;
      try {
        compiled = compileExpression(source, guardrails, compileOptions);
      } catch (err) {
        const e = err as MappingError;
        throw new MappingError(`destination ${name}: ${label}: ${e.message}`, {
          jsonataCode: e.jsonataCode,
          position: e.position,
          cause: err,
        });
      }
      expressions.push(compiled);
      return compiled;
    };

    this.projects = new Set(def.projects);
    this.enabled = def.enabled ?? true;
    this.rows = def.events.map((row, i) => ({
      // "*" selects every event, alone or in a list (`type: ["*"]` means what it reads as).
      all: row.type === '*' || (Array.isArray(row.type) && row.type.includes('*')),
      types: new Set(typeof row.type === 'string' ? [row.type] : row.type),
      where: row.where === undefined ? undefined : compile(row.where, `events[${i}].where`),
      label: `events[${i}].where`,
    }));
    const rowsByType = new Map<unknown, SelectionRow[]>();
    for (const row of this.rows) {
      for (const type of row.types) {
        if (!rowsByType.has(type)) rowsByType.set(type, this.rows.filter((r) => r.all || r.types.has(type)));
      }
    }
    this.rowsByType = rowsByType;
    this.wildcardRows = this.rows.filter((r) => r.all);

    const identity = def.identity ?? {};
    this.email = compile(identity.email ?? DEFAULT_EMAIL_EXPRESSION, 'identity.email');
    this.partnerUserId =
      identity.partner_user_id === undefined ? undefined : compile(identity.partner_user_id, 'identity.partner_user_id');
    this.requireEmail = identity.require === 'email';

    const properties = def.properties ?? {};
    this.groupAllow = allowList(properties.group);
    this.userAllow = allowList(properties.user);
    this.eventAllow = allowList(properties.event);
    this.asStrings = properties.as_strings === true;
    this.userCopy = Array.isArray(this.userAllow) ? compilePropertyCopier(this.userAllow, this.asStrings) : undefined;
    this.eventCopy = Array.isArray(this.eventAllow) ? compilePropertyCopier(this.eventAllow, this.asStrings) : undefined;

    const mapping = def.mapping ?? {};
    this.eventName = mapping.event_name === undefined ? undefined : compile(mapping.event_name, 'mapping.event_name');
    this.eventTime = mapping.event_time === undefined ? undefined : compile(mapping.event_time, 'mapping.event_time');
    this.data = Object.keys(mapping.data ?? {}).map((key) => ({
      key,
      expression: compile(mapping.data![key], `mapping.data.${key}`),
      label: `mapping.data.${key}`,
    }));

    this.appType = def.extole.app_type ?? DEFAULT_APP_TYPE;
    this.labels = def.extole.labels !== undefined && def.extole.labels.length > 0 ? def.extole.labels.join(',') : undefined;
    this.path = endpointPath(def.extole.endpoint ?? DEFAULT_ENDPOINT);
    this.url = (def.extole.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, '') + this.path;

    this.sync = expressions.every((e) => e.sync);
    if (!this.enabled) {
      // Steps 1 only: every event is dropped, no expression runs.
      const projects = this.projects;
      this.transform = (_event, project) => (projects.has(project) ? DROP_DESTINATION_DISABLED : DROP_PROJECT_NOT_ENABLED);
    } else if (this.sync) {
      this.transform = this.syncTransform();
    } else {
      this.transform = (event, project) => this.transformAsync(event, project);
    }
  }

  // syncTransform and transformAsync are the same steps; they are written out twice because the
  // sync one must not create a Promise or a generator per event (the hot path), and evaluation
  // must stop at the first drop (no expression runs for an event already dropped).

  /**
   * SPEC §3.1 when every expression is synchronous: no Promise anywhere. The function closes over
   * the compiled parts (no `this` lookups, safe to call unbound). Expressions are called through
   * `run` (every sync expression has it): a failure becomes a drop with the message `evaluate`
   * would have thrown, without building the MappingError.
   */
  private syncTransform(): (event: AmplitudeEvent, project: string) => Outcome {
    const projects = this.projects;
    const rowsByType = this.rowsByType;
    const wildcardRows = this.wildcardRows;
    const runEmail = this.email.run!;
    const runPartnerUserId = this.partnerUserId?.run;
    const requireEmail = this.requireEmail;
    const runEventName = this.eventName?.run;
    const runEventTime = this.eventTime?.run;
    const dataMappings = this.data.map((m) => ({ key: m.key, run: m.expression.run!, label: m.label }));
    const mapData = compileDataMapper(dataMappings);
    return (event, project) => {
      if (!projects.has(project)) return DROP_PROJECT_NOT_ENABLED;

      let selected = false;
      const rows = rowsByType.get(event.event_type) ?? wildcardRows;
      for (let i = 0; i < rows.length; i++) {
        const where = rows[i]!.where;
        if (where === undefined) {
          selected = true;
          break;
        }
        let match: unknown;
        try {
          match = where.run!(event);
        } catch (err) {
          return mappingDrop(rows[i]!.label, err);
        }
        if (isTruthy(match)) {
          selected = true;
          break;
        }
      }
      if (!selected) return DROP_EVENT_NOT_SELECTED;

      let email: string | undefined;
      let partnerUserId: string | undefined;
      try {
        email = asEmail(runEmail(event));
      } catch (err) {
        return mappingDrop('identity.email', err);
      }
      if (runPartnerUserId !== undefined) {
        try {
          partnerUserId = asIdentity(runPartnerUserId(event));
        } catch (err) {
          return mappingDrop('identity.partner_user_id', err);
        }
      }
      if (email === undefined && (requireEmail || partnerUserId === undefined)) return DROP_NO_IDENTITY;

      let eventName: unknown;
      let eventTime: unknown;
      if (runEventName !== undefined) {
        try {
          eventName = runEventName(event);
        } catch (err) {
          return mappingDrop('mapping.event_name', err);
        }
      }
      if (runEventTime !== undefined) {
        try {
          eventTime = runEventTime(event);
        } catch (err) {
          return mappingDrop('mapping.event_time', err);
        }
      }
      const data = this.propertyData(event);
      if (mapData !== undefined) {
        const failed = mapData(data, event);
        if (failed !== undefined) return mappingDrop(failed.label, failed.err);
      } else {
        for (let i = 0; i < dataMappings.length; i++) {
          const mapping = dataMappings[i]!;
          let value: unknown;
          try {
            value = mapping.run(event);
          } catch (err) {
            return mappingDrop(mapping.label, err);
          }
          if (value !== undefined && value !== null) setOwn(data, mapping.key, value);
        }
      }
      return this.finish(event, data, email, partnerUserId, eventName, eventTime);
    };
  }

  /** The same steps as `syncTransform`'s function, awaiting the jsonata-evaluated expressions. */
  private async transformAsync(event: AmplitudeEvent, project: string): Promise<Outcome> {
    const gate = this.gate(project);
    if (gate !== undefined) return gate;

    let selected = false;
    for (const row of this.rowsByType.get(event.event_type) ?? this.wildcardRows) {
      if (row.where === undefined) {
        selected = true;
        break;
      }
      let match: unknown;
      try {
        match = await row.where.evaluate(event);
      } catch (err) {
        return mappingDrop(row.label, err);
      }
      if (isTruthy(match)) {
        selected = true;
        break;
      }
    }
    if (!selected) return DROP_EVENT_NOT_SELECTED;

    let email: string | undefined;
    let partnerUserId: string | undefined;
    try {
      email = asEmail(await this.email.evaluate(event));
    } catch (err) {
      return mappingDrop('identity.email', err);
    }
    if (this.partnerUserId !== undefined) {
      try {
        partnerUserId = asIdentity(await this.partnerUserId.evaluate(event));
      } catch (err) {
        return mappingDrop('identity.partner_user_id', err);
      }
    }
    if (email === undefined && (this.requireEmail || partnerUserId === undefined)) return DROP_NO_IDENTITY;

    let eventName: unknown;
    let eventTime: unknown;
    if (this.eventName !== undefined) {
      try {
        eventName = await this.eventName.evaluate(event);
      } catch (err) {
        return mappingDrop('mapping.event_name', err);
      }
    }
    if (this.eventTime !== undefined) {
      try {
        eventTime = await this.eventTime.evaluate(event);
      } catch (err) {
        return mappingDrop('mapping.event_time', err);
      }
    }
    const data = this.propertyData(event);
    for (const mapping of this.data) {
      let value: unknown;
      try {
        value = await mapping.expression.evaluate(event);
      } catch (err) {
        return mappingDrop(mapping.label, err);
      }
      if (value !== undefined && value !== null) setOwn(data, mapping.key, value);
    }
    return this.finish(event, data, email, partnerUserId, eventName, eventTime);
  }

  /** Step 1: the project must be listed, then the destination enabled. */
  private gate(project: string): Outcome | undefined {
    if (!this.projects.has(project)) return DROP_PROJECT_NOT_ENABLED;
    if (!this.enabled) return DROP_DESTINATION_DISABLED;
    return undefined;
  }

  /** Step 4, first part: group, user, then event properties through their allow-lists. */
  private propertyData(event: AmplitudeEvent): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    if (this.groupAllow !== undefined) {
      const groups = event.group_properties;
      if (isJsonObject(groups)) {
        if (this.groupAllow === '*') {
          for (const groupType in groups) {
            if (Object.hasOwn(groups, groupType)) copyAll(data, groups[groupType], this.asStrings);
          }
        } else {
          for (const groupType of this.groupAllow) {
            if (Object.hasOwn(groups, groupType)) copyAll(data, groups[groupType], this.asStrings);
          }
        }
      }
    }
    if (this.userAllow !== undefined) {
      const props = event.user_properties;
      if (this.userCopy !== undefined) {
        if (isJsonObject(props)) this.userCopy(data, props);
      } else copyAllowed(data, props, this.userAllow, this.asStrings);
    }
    if (this.eventAllow !== undefined) {
      const props = event.event_properties;
      if (this.eventCopy !== undefined) {
        if (isJsonObject(props)) this.eventCopy(data, props);
      } else copyAllowed(data, props, this.eventAllow, this.asStrings);
    }
    return data;
  }

  /** Step 4, rest of data, then the body, step 6 (size) and the request. */
  private finish(
    event: AmplitudeEvent,
    data: Record<string, unknown>,
    email: string | undefined,
    partnerUserId: string | undefined,
    eventNameValue: unknown,
    eventTimeValue: unknown,
  ): Outcome {
    let eventName: string;
    let eventTime: string;
    try {
      eventName = asEventName(this.eventName === undefined ? event.event_type : eventNameValue);
    } catch (err) {
      return mappingDrop(this.eventName === undefined ? 'event_type' : 'mapping.event_name', err);
    }
    try {
      eventTime = asEventTime(eventTimeValue, event.time);
    } catch (err) {
      return mappingDrop(this.eventTime === undefined ? 'time' : 'mapping.event_time', err);
    }
    data.extole_app_type = this.appType;
    if (this.labels !== undefined) data.labels = this.labels;
    if (email !== undefined) data.email = email;
    if (partnerUserId !== undefined) data.partner_user_id = partnerUserId;

    const body: ExtoleRequestBody = { event_name: eventName, event_time: eventTime, data };
    let bodyJson: string;
    try {
      // JSON.stringify(body), byte for byte, about a fifth faster: the keys are fixed and
      // event_time is an ISO date-time (digits and `-:.TZ+`, checked by asEventTime or made by
      // isoTime), which JSON writes as it is.
      bodyJson = `{"event_name":${JSON.stringify(eventName)},"event_time":"${eventTime}","data":${JSON.stringify(data)}}`;
    } catch (err) {
      // Only data nested thousands of levels deep gets here (V8 refuses to serialize it).
      return mappingDrop('body', new MappingError(`the request body cannot be serialized: ${(err as Error).message}`));
    }
    if (bodyJson.length > SURELY_SMALL_LENGTH) {
      const bytes = Buffer.byteLength(bodyJson, 'utf8');
      if (bytes >= MAX_BODY_BYTES) {
        return {
          outcome: 'drop',
          reason: 'too_large',
          message: `the request body is ${bytes} bytes; Extole accepts less than ${MAX_BODY_BYTES}`,
        };
      }
    }
    return {
      outcome: 'send',
      request: { method: 'POST', url: this.url, path: this.path, headers: HEADERS, body },
      bodyJson,
    };
  }
}

/** `"*"` stays; an empty list or none becomes undefined (nothing to copy). */
function allowList(list: '*' | string[] | undefined): AllowList {
  if (list === '*') return '*';
  if (list === undefined || list.length === 0) return undefined;
  return Object.freeze([...list]);
}

function copyAllowed(data: Record<string, unknown>, props: unknown, allow: '*' | readonly string[], asStrings: boolean): void {
  if (!isJsonObject(props)) return;
  if (allow === '*') {
    copyAll(data, props, asStrings);
    return;
  }
  for (let i = 0; i < allow.length; i++) {
    const key = allow[i]!;
    if (Object.hasOwn(props, key)) copyValue(data, key, props[key], asStrings);
  }
}

function copyAll(data: Record<string, unknown>, props: unknown, asStrings: boolean): void {
  if (!isJsonObject(props)) return;
  const keys = Object.keys(props); // own enumerable keys, in for-in order
  for (let i = 0; i < keys.length; i++) copyValue(data, keys[i]!, props[keys[i]!], asStrings);
}

/** Null and missing values are left out; `as_strings` sends scalars as strings and leaves out the rest. */
function copyValue(data: Record<string, unknown>, key: string, value: unknown, asStrings: boolean): void {
  if (value === null || value === undefined) return;
  if (asStrings) {
    const type = typeof value;
    if (type === 'number' || type === 'boolean') value = String(value);
    else if (type !== 'string') return;
  }
  if (key === '__proto__') setOwn(data, key, value);
  else data[key] = value;
}

/** Identity rules: strings and numbers (as strings) count; empty strings and anything else are left out. */
function asIdentity(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** An identity that has exactly one `@` with text on both sides. */
function asEmail(value: unknown): string | undefined {
  const text = asIdentity(value);
  if (text === undefined) return undefined;
  const at = text.indexOf('@');
  return at > 0 && at < text.length - 1 && text.indexOf('@', at + 1) === -1 ? text : undefined;
}

/** `mapping.event_name` must give a non-empty string (numbers and booleans are turned into one). */
function asEventName(value: unknown): string {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new MappingError(`event_name must be a non-empty string, got ${describe(value)}`);
}

/**
 * `mapping.event_time` may give an ISO 8601 date-time string or milliseconds since the epoch; no
 * result (or no mapping) means the ISO-8601 UTC form of the event's `time` (now when it has none).
 */
function asEventTime(value: unknown, time: number | undefined): string {
  if (value === undefined || value === null) return isoTime(time ?? Date.now());
  if (typeof value === 'string') {
    if (ISO_DATE_TIME.test(value)) return value;
    throw new MappingError(`event_time must be an ISO 8601 date-time, got ${JSON.stringify(value.slice(0, 64))}`);
  }
  if (typeof value === 'number') return isoTime(value);
  throw new MappingError(`event_time must be an ISO 8601 string or milliseconds, got ${describe(value)}`);
}

const DAY_MS = 86_400_000;
/** Date's range: ±100,000,000 days around the epoch (ECMAScript TimeClip). */
const MAX_TIME_MS = 8.64e15;
// Date#toISOString costs about as much as serializing a small body, so the date is computed here
// (days → civil date, Howard Hinnant's algorithm) and the last day's "YYYY-MM-DDT" is kept:
// events mostly arrive in time order.
let cachedDayStart = Number.NaN;
let cachedDayPrefix = '';

/** `new Date(ms).toISOString()` (a MappingError where it throws), without a Date. */
export function isoTime(ms: number): string {
  if (!(Math.abs(ms) <= MAX_TIME_MS)) throw new MappingError(`time ${ms} is not a valid timestamp`);
  if (!Number.isInteger(ms)) ms = Math.trunc(ms) + 0; // as Date does (+ 0 turns -0 into 0)
  const inDay = ((ms % DAY_MS) + DAY_MS) % DAY_MS;
  const dayStart = ms - inDay;
  if (dayStart !== cachedDayStart) {
    const prefix = datePrefix(dayStart / DAY_MS);
    if (prefix === undefined) return new Date(ms).toISOString(); // years outside 0000–9999 ("+010000-…")
    cachedDayStart = dayStart;
    cachedDayPrefix = prefix;
  }
  const hours = Math.floor(inDay / 3_600_000);
  const minutes = Math.floor(inDay / 60_000) % 60;
  const seconds = Math.floor(inDay / 1000) % 60;
  const millis = inDay % 1000;
  return (
    cachedDayPrefix +
    (hours < 10 ? '0' : '') + hours + ':' +
    (minutes < 10 ? '0' : '') + minutes + ':' +
    (seconds < 10 ? '0' : '') + seconds + '.' +
    (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z'
  );
}

/** "YYYY-MM-DDT" of a day counted from 1970-01-01, or undefined outside years 0000–9999. */
function datePrefix(days: number): string | undefined {
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153); // 0 = March
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return undefined;
  return (
    (year < 10 ? '000' : year < 100 ? '00' : year < 1000 ? '0' : '') + year + '-' +
    (month < 10 ? '0' : '') + month + '-' +
    (day < 10 ? '0' : '') + day + 'T'
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'no value';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

function mappingDrop(label: string, err: unknown): Outcome {
  return { outcome: 'drop', reason: 'mapping_error', message: `${label}: ${mappingErrorMessage(err)}` };
}
