/**
 * A small structural diff for test output: which paths of two JSON values differ, and how.
 * No dependency: `extole-stream test` only compares JSON (objects, arrays, scalars).
 */
import { isDeepStrictEqual } from 'node:util';

/** One difference between an expected and an actual JSON value. */
export interface Difference {
  /** Where, e.g. `body.data.revenue`, `body.data.items[0].sku`, `body.data["coupon code"]`. */
  path: string;
  /** `changed`: both present and different; `missing`: expected but absent; `unexpected`: present but not expected. */
  kind: 'changed' | 'missing' | 'unexpected';
  expected?: unknown;
  actual?: unknown;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Append one object key to a path the way a reader would write it. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (IDENTIFIER.test(key)) return base === '' ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every difference between `expected` and `actual`, walking objects key by key (expected keys
 * in their order, then unexpected ones) and arrays index by index. Values of different kinds
 * (e.g. a number and a string "42") are one `changed` difference at that path.
 */
export function diffValues(expected: unknown, actual: unknown, path = ''): Difference[] {
  const out: Difference[] = [];
  walk(expected, actual, path, out);
  return out;
}

function walk(expected: unknown, actual: unknown, path: string, out: Difference[]): void {
  if (isDeepStrictEqual(expected, actual)) return;
  if (isPlainObject(expected) && isPlainObject(actual)) {
    for (const key of Object.keys(expected)) {
      const p = joinPath(path, key);
      if (!Object.hasOwn(actual, key)) out.push({ path: p, kind: 'missing', expected: expected[key] });
      else walk(expected[key], actual[key], p, out);
    }
    for (const key of Object.keys(actual)) {
      if (!Object.hasOwn(expected, key)) out.push({ path: joinPath(path, key), kind: 'unexpected', actual: actual[key] });
    }
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const p = joinPath(path, i);
      if (i >= actual.length) out.push({ path: p, kind: 'missing', expected: expected[i] });
      else if (i >= expected.length) out.push({ path: p, kind: 'unexpected', actual: actual[i] });
      else walk(expected[i], actual[i], p, out);
    }
    return;
  }
  out.push({ path: path === '' ? '(value)' : path, kind: 'changed', expected, actual });
}

/** A value as one line of JSON, shortened when huge (a too_large body must not flood the terminal). */
export function showValue(value: unknown, max = 200): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/**
 * Differences as readable lines:
 * ```
 * body.data.revenue
 *   - expected 42
 *   + actual   "42"
 * ```
 */
export function formatDifferences(diffs: readonly Difference[], indent = ''): string[] {
  const lines: string[] = [];
  for (const d of diffs) {
    lines.push(`${indent}${d.path}${d.kind === 'changed' ? '' : ` (${d.kind})`}`);
    if (d.kind !== 'unexpected') lines.push(`${indent}  - expected ${showValue(d.expected)}`);
    if (d.kind !== 'missing') lines.push(`${indent}  + actual   ${showValue(d.actual)}`);
  }
  return lines;
}
