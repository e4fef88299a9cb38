/**
 * The built-in functions the fast path supports, ported from jsonata's `functions.js` with the
 * same signatures. Only string patterns are supported for `$replace` / `$contains`; a regex
 * argument is rejected at compile time (the expression then falls back to jsonata).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { isFunction, isNumeric, JsonataError, keysOf, toBoolean, toJsonataString } from './semantics.js';
import { parseSignature, type SignatureValidator } from './signature.js';

/** A supported built-in: jsonata's signature and a synchronous implementation. */
export interface BuiltinFunction {
  validate: SignatureValidator;
  implementation: (...args: any[]) => unknown;
}

function stringToArray(str: string): string[] {
  const arr: string[] = [];
  for (const char of str) arr.push(char);
  return arr;
}

function substring(str: any, start: any, length: any): string | undefined {
  if (str === undefined) return undefined;
  const strArray = stringToArray(str);
  const strLength = strArray.length;
  if (strLength + start < 0) start = 0;
  if (length !== undefined) {
    if (length <= 0) return '';
    const end = start >= 0 ? start + length : strLength + start + length;
    return strArray.slice(start, end).join('');
  }
  return strArray.slice(start).join('');
}

function trim(str: any): string | undefined {
  if (str === undefined) return undefined;
  let result: string = str.replace(/[ \t\n\r]+/gm, ' ');
  if (result.charAt(0) === ' ') result = result.substring(1);
  if (result.charAt(result.length - 1) === ' ') result = result.substring(0, result.length - 1);
  return result;
}

function contains(str: any, token: any): boolean | undefined {
  if (str === undefined || token === undefined) return undefined;
  if (typeof token === 'string') return str.indexOf(token) !== -1;
  // jsonata would call `token` as a matcher function; data cannot hold one.
  throw new TypeError('matcher is not a function');
}

function replace(str: any, pattern: any, replacement: any, limit: any): string | undefined {
  if (str === undefined) return undefined;
  if (pattern === '') throw new JsonataError('D3010', { value: pattern, index: 2 });
  if (limit < 0) throw new JsonataError('D3011', { value: limit, index: 4 });
  if (typeof pattern !== 'string') {
    // jsonata calls `pattern.apply(...)` here (a regex matcher); for a missing pattern that is a TypeError.
    throw new TypeError("Cannot read properties of undefined (reading 'apply')");
  }
  let result = '';
  let position = 0;
  if (limit === undefined || limit > 0) {
    let count = 0;
    let index = str.indexOf(pattern, position);
    while (index !== -1 && (limit === undefined || count < limit)) {
      result += str.substring(position, index);
      // jsonata appends the replacement as given (a missing one becomes "undefined").
      result += replacement;
      position = index + pattern.length;
      count++;
      index = str.indexOf(pattern, position);
    }
    result += str.substring(position);
  } else {
    result = str;
  }
  return result;
}

function join(strs: any, separator: any): string | undefined {
  if (strs === undefined) return undefined;
  return strs.join(separator === undefined ? '' : separator);
}

function toNumber(arg: any): number | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'number') return arg;
  if (
    typeof arg === 'string' &&
    /^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/.test(arg) &&
    !Number.isNaN(parseFloat(arg)) &&
    Number.isFinite(Number(arg))
  ) {
    return parseFloat(arg);
  }
  if (typeof arg === 'string' && /^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/.test(arg)) {
    return Number(arg);
  }
  if (arg === true) return 1;
  if (arg === false) return 0;
  throw new JsonataError('D3030', { value: arg, index: 1 });
}

function merge(arg: any): unknown {
  if (arg === undefined) return undefined;
  const result = Object.create(null) as Record<string, unknown>;
  arg.forEach((obj: any) => {
    for (const prop of keysOf(obj)) result[prop] = obj[prop];
  });
  return result;
}

function define(signature: string, implementation: (...args: any[]) => unknown): BuiltinFunction {
  return { validate: parseSignature(signature), implementation };
}

/** Supported built-ins by name (without `$`), with jsonata's registered signatures. */
export const BUILTINS: ReadonlyMap<string, BuiltinFunction> = new Map<string, BuiltinFunction>([
  ['string', define('<x-b?:s>', (arg: any, prettify: any) => toJsonataString(arg, prettify === undefined ? false : prettify))],
  ['substring', define('<s-nn?:s>', substring)],
  ['lowercase', define('<s-:s>', (str: any) => (str === undefined ? undefined : str.toLowerCase()))],
  ['uppercase', define('<s-:s>', (str: any) => (str === undefined ? undefined : str.toUpperCase()))],
  ['length', define('<s-:n>', (str: any) => (str === undefined ? undefined : stringToArray(str).length))],
  ['trim', define('<s-:s>', trim)],
  ['contains', define('<s-(sf):b>', contains)],
  ['replace', define('<s-(sf)(sf)n?:s>', replace)],
  ['join', define('<a<s>s?:s>', join)],
  ['number', define('<(nsb)-:n>', toNumber)],
  ['boolean', define('<x-:b>', (arg: any) => toBoolean(arg))],
  ['not', define('<x-:b>', (arg: any) => (arg === undefined ? undefined : !toBoolean(arg)))],
  ['exists', define('<x:b>', (arg: any) => arg !== undefined)],
  ['count', define('<a:n>', (args: any) => (args === undefined ? 0 : args.length))],
  ['merge', define('<a<o>:o>', merge)],
]);

/**
 * Every name jsonata binds in its environment (built-ins plus `$now` / `$millis`). A bare
 * `$name` reference to one of these evaluates to a function object, which the fast path does
 * not model, so such references are rejected at compile time.
 */
export const JSONATA_ENVIRONMENT_NAMES: ReadonlySet<string> = new Set([
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter',
  'lowercase', 'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join',
  'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round',
  'abs', 'sqrt', 'power', 'random', 'boolean', 'not', 'map', 'zip', 'filter', 'single', 'reduce', 'sift',
  'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse', 'each', 'error', 'assert', 'type',
  'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl',
  'decodeUrlComponent', 'decodeUrl', 'eval', 'toMillis', 'fromMillis', 'clone', 'now', 'millis',
]);

/** Re-exported for the compiler: whether a runtime value is function-like to jsonata. */
export { isFunction, isNumeric };
