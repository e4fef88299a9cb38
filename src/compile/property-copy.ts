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
