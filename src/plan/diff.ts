/**
 * Comparing two outcomes of one event: did the decision change, and which request fields moved.
 */
import type { DropReason, ExtoleRequest } from '../compile/types.js';

/** An outcome as a plan shows it: the transformer's, without the cached body JSON. */
export type PlanOutcome =
  | { outcome: 'send'; request: ExtoleRequest }
  | { outcome: 'drop'; reason: DropReason; message?: string };

/** Structural equality of JSON values; object key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

/**
 * True when the decision differs: send ↔ drop, another drop reason, or another request
 * (method, url, path, body). A different `mapping_error` message alone is not a change.
 * `null` (the destination does not exist on that side) sends nothing, like a drop.
 */
export function outcomeChanged(before: PlanOutcome | null, after: PlanOutcome | null): boolean {
  if (before === null || after === null) {
    const present = before ?? after;
    return present !== null && present.outcome === 'send';
  }
  if (before.outcome !== after.outcome) return true;
  if (before.outcome === 'drop' && after.outcome === 'drop') return before.reason !== after.reason;
  const b = (before as { request: ExtoleRequest }).request;
  const a = (after as { request: ExtoleRequest }).request;
  return b.method !== a.method || b.url !== a.url || b.path !== a.path || !deepEqual(b.body, a.body);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function joinPath(prefix: string, key: string | number): string {
  if (typeof key === 'number') return `${prefix}[${key}]`;
  if (IDENTIFIER.test(key)) return prefix === '' ? key : `${prefix}.${key}`;
  return `${prefix}[${JSON.stringify(key)}]`;
}

/**
 * Flatten a JSON value to `path → leaf` (objects by key, arrays by index); empty objects and
 * arrays are leaves. Paths read like `data.revenue`, `data.tags[0]`, `data["a.b"]`.
 */
export function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((v, i) => flatten(v, joinPath(prefix, i), out));
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) flatten(v, joinPath(prefix, k), out);
  } else {
    out.set(prefix, value);
  }
  return out;
}

/** One field of a request that differs between before and after. */
export interface FieldChange {
  path: string;
  kind: 'changed' | 'added' | 'removed';
  before?: unknown;
  after?: unknown;
}

/**
 * The fields of the request worth reviewing: the URL (it carries the endpoint) and the body
 * with its top level unwrapped, so paths read `event_name`, `data.revenue`.
 */
export function requestFields(request: ExtoleRequest): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (request.method !== 'POST') fields.set('method', request.method);
  fields.set('url', request.url);
  flatten(request.body, '', fields);
  return fields;
}

/** Field-by-field differences of two requests, in the after request's field order, removals last. */
export function requestFieldChanges(before: ExtoleRequest, after: ExtoleRequest): FieldChange[] {
  const b = requestFields(before);
  const a = requestFields(after);
  const changes: FieldChange[] = [];
  for (const [p, value] of a) {
    if (!b.has(p)) changes.push({ path: p, kind: 'added', after: value });
    else if (!deepEqual(b.get(p), value)) changes.push({ path: p, kind: 'changed', before: b.get(p), after: value });
  }
  for (const [p, value] of b) if (!a.has(p)) changes.push({ path: p, kind: 'removed', before: value });
  return changes;
}
