/**
 * Copying allow-listed event properties into `data` (SPEC §3.1 step 4), compiled once per list.
 *
 * A loop over the list stores each value under a computed key (`data[key] = value`): every
 * destination's keys go through the same store, which V8 then handles generically. A function
 * generated for one list reads and writes each key by its fixed name instead, as hand-written code
 * would. The generated source contains only the JSON-quoted names from the destination file and
 * fixed code; values are never part of it.
 */
import { setOwn } from './json.js';

/** Copies the allowed keys of `props` (an object) into `data`, in list order. */
export type PropertyCopier = (data: Record<string, unknown>, props: Record<string, unknown>) => void;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The copier for an explicit allow-list: for each key that `props` owns, a value that is not
 * null/undefined is stored; with `asStrings`, numbers and booleans become strings and anything
 * but a string is left out. `__proto__` is stored as an own data property (never a prototype).
 */
export function compilePropertyCopier(keys: readonly string[], asStrings: boolean): PropertyCopier {
  const lines: string[] = [];
  for (const key of keys) {
    const quoted = JSON.stringify(key);
    const store = key === '__proto__' ? `setOwn(data, ${quoted}, v)` : `data[${quoted}] = v`;
    lines.push(`if (hasOwn.call(props, ${quoted})) {`, `  v = props[${quoted}];`);
    if (asStrings) {
      lines.push(
        `  if (typeof v === 'string') ${store};`,
        `  else if (typeof v === 'number' || typeof v === 'boolean') { v = String(v); ${store}; }`,
      );
    } else {
      lines.push(`  if (v !== null && v !== undefined) ${store};`);
    }
    lines.push('}');
  }
  const body = `return function copyProperties(data, props) {\n  let v;\n  ${lines.join('\n  ')}\n};`;
  return new Function('hasOwn', 'setOwn', body)(hasOwn, setOwn) as PropertyCopier;
}

/** One `mapping.data` entry of the sync path: its key, its expression's `run`, and its label for drops. */
export interface DataMapping {
  key: string;
  run: (input: unknown) => unknown;
  label: string;
}

/**
 * Runs a destination's `mapping.data` expressions in order and stores each result that is not
 * null/undefined under its key. Returns the label and error of the first expression that throws
 * (the caller turns it into a `mapping_error` drop), else undefined. Keys stored before the
 * failure stay in `data`, as with the loop it replaces.
 */
export type DataMapper = (data: Record<string, unknown>, event: unknown) => { label: string; err: unknown } | undefined;

/**
 * The `mapping.data` step as a function generated for one destination: each expression is called
 * and its result stored under the key's fixed name, as hand-written code would (see the module
 * comment; the loop's `data[key] = value` is one store site shared by every destination's keys).
 * The source contains only JSON-quoted keys and fixed code; expressions are passed in, never
 * written into it. Undefined where code generation from strings is disabled: the caller loops.
 */
export function compileDataMapper(mappings: readonly DataMapping[]): DataMapper | undefined {
  const lines: string[] = [];
  mappings.forEach((m, i) => {
    const quoted = JSON.stringify(m.key);
    const store = m.key === '__proto__' ? `setOwn(data, ${quoted}, v)` : `data[${quoted}] = v`;
    lines.push(`try { v = runs[${i}](event); } catch (err) { return { label: labels[${i}], err }; }`, `if (v !== undefined && v !== null) ${store};`);
  });
  const body = `return function mapData(data, event) {\n  let v;\n  ${lines.join('\n  ')}\n  return undefined;\n};`;
  try {
    return new Function('runs', 'labels', 'setOwn', body)(
      mappings.map((m) => m.run),
      mappings.map((m) => m.label),
      setOwn,
    ) as DataMapper;
  } catch {
    return undefined;
  }
}
