/**
 * The built-in functions the fast path supports, ported from jsonata's `functions.js` with the
 * same signatures. A regular expression literal reaches `$replace`, `$contains`, `$split` and
 * `$match` as jsonata passes it: a matcher function (`regexMatcher`, jsonata's evaluateRegex).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import {
  append,
  emptySequence,
  isArrayOfNumbers,
  isDeepEqual,
  isFunction,
  isNumeric,
  isSequence,
  JsonataError,
  keysOf,
  lookup,
  round,
  toBoolean,
  toJsonataString,
} from './semantics.js';
import { formatNumber } from './format-number.js';
import { JSONATA_BUILTINS } from './jsonata-builtins.js';
import { type ExactArity, parseSignatureFully, type SignatureValidator } from './signature.js';

/** What a built-in's implementation gets as `this`: the evaluation's Env (its clock, for those that read it). */
export interface BuiltinThis {
  timestamp?: number;
}

/** A supported built-in: jsonata's signature and a synchronous implementation. */
export interface BuiltinFunction {
  validate: SignatureValidator;
  /** Per-parameter type masks for a call with one argument per parameter (see signature.ts). */
  exactArity: ExactArity | undefined;
  /** Called with the evaluation's Env as `this`. */
  implementation: (this: BuiltinThis, ...args: any[]) => unknown;
  /** Never returns a jsonata sequence (so the caller's result needs no unwrapping). */
  plainResult: boolean;
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

/** What a regex matcher returns for a match (jsonata's evaluateRegex closure). */
export interface RegexMatch {
  match: string;
  start: number;
  end: number;
  groups: (string | undefined)[];
  next: () => RegexMatch | undefined;
}

/** A regex literal as jsonata evaluates it: a matcher over a fresh RegExp (its own lastIndex). */
export type RegexMatcher = (str: string, fromIndex?: number) => RegexMatch | undefined;

/**
 * jsonata's evaluateRegex: `regex` is the literal's RegExp (the parser adds the `g` flag);
 * `position` is the literal's, for D1004 (a later match of zero length would never progress).
 */
export function regexMatcher(regex: RegExp, position: number | undefined): RegexMatcher {
  const re = new RegExp(regex);
  const closure: RegexMatcher = (str, fromIndex) => {
    let result: RegexMatch | undefined;
    re.lastIndex = fromIndex || 0;
    const match = re.exec(str);
    if (match !== null) {
      const found: RegexMatch = {
        match: match[0],
        start: match.index,
        end: match.index + match[0].length,
        groups: [],
        next: () => {
          if (re.lastIndex >= str.length) return undefined;
          const next = closure(str, re.lastIndex);
          if (next && next.match === '') throw new JsonataError('D1004', { position, value: regex.source });
          return next;
        },
      };
      for (let i = 1; i < match.length; i++) found.groups.push(match[i]);
      result = found;
    }
    return result;
  };
  return closure;
}

function contains(str: any, token: any): boolean | undefined {
  if (str === undefined || token === undefined) return undefined;
  if (typeof token === 'string') return str.indexOf(token) !== -1;
  return token(str) !== undefined;
}

function match(str: any, regex: any, limit: any): unknown {
  if (str === undefined) return undefined;
  if (limit < 0) throw new JsonataError('D3040', { value: limit, index: 3 });
  const result = emptySequence();
  if (limit === undefined || limit > 0) {
    let count = 0;
    let matches = regex(str);
    while (matches !== undefined && (limit === undefined || count < limit)) {
      // Plain object literals, as jsonata's $match builds them.
      result.push({ match: matches.match, index: matches.start, groups: matches.groups });
      matches = matches.next();
      count++;
    }
  }
  return result;
}

/** jsonata's replacer for a string replacement of a regex match: `$0`, `$n`, `$$`, as it reads them. */
function substituteMatch(replacement: string, regexMatch: RegexMatch): string {
  let substitute = '';
  let position = 0;
  let index = replacement.indexOf('$', position);
  while (index !== -1 && position < replacement.length) {
    substitute += replacement.substring(position, index);
    position = index + 1;
    const dollarVal = replacement.charAt(position);
    if (dollarVal === '$') {
      substitute += '$';
      position++;
    } else if (dollarVal === '0') {
      substitute += regexMatch.match;
      position++;
    } else {
      const maxDigits = regexMatch.groups.length === 0 ? 1 : Math.floor(Math.log(regexMatch.groups.length) * Math.LOG10E) + 1;
      index = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && index > regexMatch.groups.length) index = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      if (!isNaN(index)) {
        if (regexMatch.groups.length > 0) {
          const submatch = regexMatch.groups[index - 1];
          if (submatch !== undefined) substitute += submatch;
        }
        position += index.toString().length;
      } else {
        substitute += '$';
      }
    }
    index = replacement.indexOf('$', position);
  }
  substitute += replacement.substring(position);
  return substitute;
}

function replace(str: any, pattern: any, replacement: any, limit: any): string | undefined {
  if (str === undefined) return undefined;
  if (pattern === '') throw new JsonataError('D3010', { value: pattern, index: 2 });
  if (limit < 0) throw new JsonataError('D3011', { value: limit, index: 4 });
  if (typeof pattern === 'function') return replaceMatches(str, pattern, replacement, limit);
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

/** `$replace` with a regex pattern (jsonata's replace, matcher branch). */
function replaceMatches(str: string, pattern: RegexMatcher, replacement: any, limit: any): string {
  const replacer: (m: RegexMatch) => unknown =
    typeof replacement === 'string'
      ? (m) => substituteMatch(replacement, m)
      : (m) => {
          // A regex as the replacement is called as a function, as jsonata does; nothing (a
          // missing field) fails as jsonata's `replacer.apply` does.
          if (typeof replacement !== 'function') throw new TypeError("Cannot read properties of undefined (reading 'apply')");
          return replacement(m);
        };
  if (limit !== undefined && !(limit > 0)) return str;
  let matches = pattern(str);
  if (matches === undefined) return str;
  let result = '';
  let position = 0;
  let count = 0;
  while (matches !== undefined && (limit === undefined || count < limit)) {
    result += str.substring(position, matches.start);
    const replacedWith = replacer(matches);
    if (typeof replacedWith !== 'string') throw new JsonataError('D3012', { value: replacedWith });
    result += replacedWith;
    position = matches.start + matches.match.length;
    count++;
    matches = matches.next();
  }
  return result + str.substring(position);
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

function substringBefore(str: any, chars: any): string | undefined {
  if (str === undefined) return undefined;
  const pos = str.indexOf(chars);
  return pos > -1 ? str.substr(0, pos) : str;
}

function substringAfter(str: any, chars: any): string | undefined {
  if (str === undefined) return undefined;
  const pos = str.indexOf(chars);
  return pos > -1 ? str.substr(pos + chars.length) : str;
}

function pad(str: any, width: any, char: any): string | undefined {
  if (str === undefined) return undefined;
  if (char === undefined || char.length === 0) char = ' ';
  let result: string;
  width = Math.trunc(width);
  const padLength = Math.abs(width) - stringToArray(str).length;
  if (padLength > 0) {
    let padding = new Array(padLength + 1).join(char);
    if (char.length > 1) padding = substring(padding, 0, padLength) as string;
    result = width > 0 ? str + padding : padding + str;
  } else {
    result = str;
  }
  return result;
}

function split(str: any, separator: any, limit: any): string[] | undefined {
  if (str === undefined) return undefined;
  if (limit < 0) throw new JsonataError('D3020', { value: limit, index: 3 });
  let result: string[] = [];
  if (limit === undefined || limit > 0) {
    if (typeof separator === 'string') {
      result = str.split(separator, limit);
    } else {
      if (typeof separator !== 'function') throw new TypeError('matcher is not a function');
      let count = 0;
      let matches = separator(str);
      if (matches !== undefined) {
        let start = 0;
        while (matches !== undefined && (limit === undefined || count < limit)) {
          result.push(str.substring(start, matches.start));
          start = matches.end;
          matches = matches.next();
          count++;
        }
        if (limit === undefined || count < limit) result.push(str.substring(start));
      } else {
        result.push(str);
      }
    }
  }
  return result;
}

function sum(args: any): number | undefined {
  if (args === undefined) return undefined;
  let total = 0;
  args.forEach((num: number) => {
    total += num;
  });
  return total;
}

function average(args: any): number | undefined {
  if (args === undefined || args.length === 0) return undefined;
  let total = 0;
  args.forEach((num: number) => {
    total += num;
  });
  return total / args.length;
}

function keys(arg: any): any {
  let result: any = emptySequence();
  if (Array.isArray(arg)) {
    const merged = Object.create(null) as Record<string, boolean>;
    for (let ii = 0; ii < arg.length; ii++) {
      for (const key of keys(arg[ii])) merged[key] = true;
    }
    result = keys(merged);
  } else if (arg !== null && typeof arg === 'object' && !isFunction(arg)) {
    for (const key of keysOf(arg)) result.push(key);
  }
  return result;
}

/** jsonata's `$spread`: an object becomes a sequence of one-key objects; arrays spread each item. */
function spread(arg: any): any {
  let result: any = emptySequence();
  if (Array.isArray(arg)) {
    for (let ii = 0; ii < arg.length; ii++) result = append(result, spread(arg[ii]));
  } else if (arg !== null && typeof arg === 'object' && !isFunction(arg)) {
    for (const key of keysOf(arg)) {
      const obj = Object.create(null) as Record<string, unknown>;
      obj[key] = arg[key];
      result.push(obj);
    }
  } else {
    result = arg;
  }
  return result;
}

/** jsonata's `$zip`: tuples of the arrays' items, as many as the shortest array has. */
function zip(...args: any[]): any[] {
  const result: any[] = [];
  const length = Math.min(...args.map((arg) => (Array.isArray(arg) ? arg.length : 0)));
  for (let i = 0; i < length; i++) result.push(args.map((arg) => arg[i]));
  return result;
}

function reverse(arr: any): any {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  const length = arr.length;
  const result = new Array(length);
  for (let i = 0; i < length; i++) result[length - i - 1] = arr[i];
  return result;
}

function typeOf(value: any): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  if (isNumeric(value)) return 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return 'array';
  if (isFunction(value)) return 'function';
  return 'object';
}

function distinct(arr: any): any {
  if (arr === undefined) return undefined;
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const results: any[] = isSequence(arr) ? emptySequence() : [];
  for (let ii = 0; ii < arr.length; ii++) {
    const value = arr[ii];
    let includes = false;
    for (let jj = 0; jj < results.length; jj++) {
      if (isDeepEqual(value, results[jj])) {
        includes = true;
        break;
      }
    }
    if (!includes) results.push(value);
  }
  return results;
}

/** jsonata's `iso8601regex`: what `$toMillis` accepts without a picture. */
const ISO8601 = new RegExp('^\\d{4}(-[01]\\d)?(-[0-3]\\d)?(T[0-2]\\d:[0-5]\\d:[0-5]\\d)?(\\.\\d+)?([+-][0-2]\\d:?[0-5]\\d|Z)?$');

/** `$toMillis(timestamp)` without a picture: jsonata's own code. */
function toMillis(timestamp: any): number | undefined {
  if (timestamp === undefined) return undefined;
  if (!ISO8601.test(timestamp)) throw new JsonataError('D3110', { value: timestamp });
  return Date.parse(timestamp);
}

/**
 * `$toMillis(timestamp, picture?)`: the port above without a picture, jsonata's own parser with
 * one. A picture may leave out the most significant parts (`[H]:[m]`): jsonata takes them from
 * the evaluation's time stamp, here the one `$now()` reads (`this`, the evaluation's Env).
 */
function toMillisWithPicture(this: BuiltinThis, timestamp: any, picture: any): number | undefined {
  if (picture === undefined) return toMillis(timestamp);
  const environment = { timestamp: new Date((this.timestamp ??= Date.now())) };
  return JSONATA_BUILTINS.toMillis!.call({ environment }, timestamp, picture) as number | undefined;
}

/** An integer as jsonata's picture `0…01` of `width` digits writes it (the sign, then zeros). */
function padInteger(value: number, width: number): string {
  return value < 0 ? '-' + String(-value).padStart(width, '0') : String(value).padStart(width, '0');
}

/**
 * `$fromMillis(millis)` without a picture or time zone (refused at compile time): what jsonata's
 * formatDateTime writes with its ISO 8601 picture `[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]`
 * in UTC. That is `toISOString()` for the years 0 to 9999; outside them jsonata keeps the year's
 * last four digits (10000 → "0000", -271821 → "-1821"), and an invalid date reads "0NaN-NaN-…".
 */
function fromMillis(millis: any): string | undefined {
  if (millis === undefined) return undefined;
  const date = new Date(millis + 0);
  const year = date.getUTCFullYear();
  if (year >= 0 && year <= 9999) return date.toISOString();
  return (
    `${padInteger(year % 10000, 4)}-${padInteger(date.getUTCMonth() + 1, 2)}-${padInteger(date.getUTCDate(), 2)}` +
    `T${padInteger(date.getUTCHours(), 2)}:${padInteger(date.getUTCMinutes(), 2)}:${padInteger(date.getUTCSeconds(), 2)}` +
    `.${padInteger(date.getUTCMilliseconds(), 3)}Z`
  );
}

function power(arg: any, exp: any): number | undefined {
  if (arg === undefined) return undefined;
  const result = Math.pow(arg, exp);
  if (!isFinite(result)) throw new JsonataError('D3061', { index: 1, value: arg, exp });
  return result;
}

function sqrt(arg: any): number | undefined {
  if (arg === undefined) return undefined;
  if (arg < 0) throw new JsonataError('D3060', { index: 1, value: arg });
  return Math.sqrt(arg);
}

function formatBase(value: any, radix: any): string | undefined {
  if (value === undefined) return undefined;
  value = round(value, undefined);
  radix = radix === undefined ? 10 : round(radix, undefined);
  if (radix < 2 || radix > 36) throw new JsonataError('D3100', { value: radix });
  return value.toString(radix);
}

function error(message: any): never {
  throw new JsonataError('D3137', { message: message || '$error() function evaluated' });
}

function assert(condition: any, message: any): undefined {
  if (!condition) throw new JsonataError('D3141', { message: message || '$assert() statement failed' });
  return undefined;
}

/** jsonata's base64 functions as they run in Node.js: through Buffer, one byte per character. */
function base64encode(str: any): string | undefined {
  return str === undefined ? undefined : Buffer.from(str, 'binary').toString('base64');
}

function base64decode(str: any): string | undefined {
  return str === undefined ? undefined : Buffer.from(str, 'base64').toString('binary');
}

/** jsonata's URL functions: the JavaScript global, with a malformed sequence as D3140. */
function urlFunction(functionName: string, transform: (str: string) => string): (str: any) => string | undefined {
  return (str) => {
    if (str === undefined) return undefined;
    try {
      return transform(str);
    } catch {
      throw new JsonataError('D3140', { value: str, functionName });
    }
  };
}

/**
 * A lambda as the fast path compiles it (written in a higher-order built-in's call, or bound with
 * `$f := function…`; see lambdas.ts): `invoke` binds the parameters in a frame of their own and evaluates the
 * body in the lambda's context. `arity` is its number of parameters (jsonata's getFunctionArity),
 * which decides how many arguments the built-in passes. `_jsonata_lambda` makes it a function to
 * signature checks, as jsonata's own lambdas are.
 */
export interface FastLambda {
  readonly _jsonata_lambda: true;
  readonly arity: number;
  /** The input the lambda was made in: its body's context (jsonata's `proc.input`). */
  readonly input: unknown;
  /**
   * Given as it is (by a tail call, whose arguments jsonata does not wrap in a closure), not as a
   * JavaScript function: `$sort`, which calls its comparator directly, then fails.
   */
  readonly unwrapped?: boolean;
  /**
   * What the last call by name set on the procedure (jsonata's evaluateFunction and trampoline
   * label the shared lambda object), read when an error leaves its body.
   */
  position?: number;
  token?: string;
  /** `context`: what tail calls in the body take as a context argument (see the compiler's Env.tailContext). */
  invoke(args: unknown[], context?: unknown): unknown;
}

/** jsonata's hofFuncArgs: the value always, the index and the whole array only if the function takes them. */
function hofFuncArgs(func: FastLambda, arg1: unknown, arg2: unknown, arg3: unknown): unknown[] {
  const args = [arg1];
  if (func.arity >= 2) args.push(arg2);
  if (func.arity >= 3) args.push(arg3);
  return args;
}

function map(arr: any, func: FastLambda): unknown {
  if (arr === undefined) return undefined;
  const result = emptySequence();
  for (let i = 0; i < arr.length; i++) {
    const res = func.invoke(hofFuncArgs(func, arr[i], i, arr));
    if (res !== undefined) result.push(res);
  }
  return result;
}

function filter(arr: any, func: FastLambda): unknown {
  if (arr === undefined) return undefined;
  const result = emptySequence();
  for (let i = 0; i < arr.length; i++) {
    const entry = arr[i];
    if (toBoolean(func.invoke(hofFuncArgs(func, entry, i, arr)))) result.push(entry);
  }
  return result;
}

function single(arr: any, func: FastLambda | undefined): unknown {
  if (arr === undefined) return undefined;
  let hasFoundMatch = false;
  let result: unknown;
  for (let i = 0; i < arr.length; i++) {
    const entry = arr[i];
    const positiveResult = func === undefined ? true : toBoolean(func.invoke(hofFuncArgs(func, entry, i, arr)));
    if (positiveResult) {
      if (hasFoundMatch) throw new JsonataError('D3138', { index: i });
      result = entry;
      hasFoundMatch = true;
    }
  }
  if (!hasFoundMatch) throw new JsonataError('D3139');
  return result;
}

/** jsonata's foldLeft (`$reduce`). */
function foldLeft(sequence: any, func: FastLambda, init: unknown): unknown {
  if (sequence === undefined) return undefined;
  if (func.arity < 2) throw new JsonataError('D3050', { index: 1 });
  let result: unknown;
  let index: number;
  if (init === undefined && sequence.length > 0) {
    result = sequence[0];
    index = 1;
  } else {
    result = init;
    index = 0;
  }
  while (index < sequence.length) {
    const args = [result, sequence[index]];
    if (func.arity >= 3) args.push(index);
    if (func.arity >= 4) args.push(sequence);
    result = func.invoke(args);
    index++;
  }
  return result;
}

function sift(arg: any, func: FastLambda): unknown {
  let result: Record<string, unknown> | undefined = Object.create(null) as Record<string, unknown>;
  for (const item of keysOf(arg)) {
    const entry = arg[item];
    if (toBoolean(func.invoke(hofFuncArgs(func, entry, item, arg)))) result[item] = entry;
  }
  // empty objects become undefined
  if (keysOf(result).length === 0) result = undefined;
  return result;
}

function each(obj: any, func: FastLambda): unknown {
  const result = emptySequence();
  for (const key of keysOf(obj)) {
    const val = func.invoke(hofFuncArgs(func, obj[key], key, obj));
    if (val !== undefined) result.push(val);
  }
  return result;
}

/**
 * jsonata's `$sort`: a merge sort that moves the right item first whenever the comparator's
 * answer is truthy (JavaScript truthiness, as jsonata's `if (await comp(…))`); without a
 * comparator, numbers or strings only (D3070), compared with `>`. The merge is a loop here, not
 * jsonata's recursion (which its awaits keep off the stack), making the same comparisons in the
 * same order.
 */
function sort(arr: any, comparator: FastLambda | undefined): unknown {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  if (comparator === undefined) {
    if (!isArrayOfNumbers(arr) && !isArrayOfStrings(arr)) throw new JsonataError('D3070', { index: 1 });
    return mergeSort(arr, (a: any, b: any) => a > b);
  }
  if (comparator.unwrapped === true) {
    // jsonata's sort calls `comp(a, b)`; a lambda given unwrapped is an object there.
    return mergeSort(arr, () => {
      throw new TypeError('comp is not a function');
    });
  }
  return mergeSort(arr, (a, b) => comparator.invoke([a, b]));
}

/**
 * jsonata's `$sort` with a comparator already chosen (also how a sort step `^(…)` sorts): the
 * input itself when it has at most one item, else a new array (not a sequence).
 */
export function mergeSort(arr: any, comp: (a: unknown, b: unknown) => unknown): unknown {
  const merge = (left: unknown[], right: unknown[]): unknown[] => {
    const result: unknown[] = [];
    let l = 0;
    let r = 0;
    while (l < left.length && r < right.length) {
      if (comp(left[l], right[r])) result.push(right[r++]);
      else result.push(left[l++]);
    }
    while (l < left.length) result.push(left[l++]);
    while (r < right.length) result.push(right[r++]);
    return result;
  };
  const msort = (array: unknown[]): unknown[] => {
    if (array.length <= 1) return array;
    const middle = Math.floor(array.length / 2);
    const left = msort(array.slice(0, middle));
    const right = msort(array.slice(middle));
    return merge(left, right);
  };
  return msort(arr);
}

function isArrayOfStrings(arg: any): boolean {
  return Array.isArray(arg) && arg.filter((item) => typeof item !== 'string').length === 0;
}

/**
 * Higher-order built-ins: which argument (after a `~>` context) takes the function, and how many
 * arguments a call may have. Only a lambda written in the call, or a function the expression
 * defines, is accepted there (a built-in named as a value, or a function from the caller's
 * bindings, is not modelled), so the implementations above only ever receive a
 * {@link FastLambda} (or, from a defined function not bound yet, undefined, which the signature
 * check refuses).
 */
export const HIGHER_ORDER: ReadonlyMap<string, { lambdaIndex: number; minArgs: number; maxArgs: number }> = new Map([
  ['map', { lambdaIndex: 1, minArgs: 2, maxArgs: 2 }],
  ['filter', { lambdaIndex: 1, minArgs: 2, maxArgs: 2 }],
  ['single', { lambdaIndex: 1, minArgs: 1, maxArgs: 2 }],
  ['sort', { lambdaIndex: 1, minArgs: 1, maxArgs: 2 }],
  ['reduce', { lambdaIndex: 1, minArgs: 2, maxArgs: 3 }],
  ['sift', { lambdaIndex: 1, minArgs: 2, maxArgs: 2 }],
  ['each', { lambdaIndex: 1, minArgs: 2, maxArgs: 2 }],
]);

/** Built-ins that may return a jsonata sequence (from their input, built with emptySequence, or a lambda's raw result). */
const MAY_RETURN_SEQUENCE = new Set(['keys', 'lookup', 'append', 'reverse', 'distinct', 'match', 'spread', ...HIGHER_ORDER.keys()]);

/** Built-ins that take a regex literal (as a matcher function) where jsonata's signature has `f`. */
export const REGEX_BUILTINS: ReadonlySet<string> = new Set(['replace', 'contains', 'split', 'match']);

/**
 * Built-ins supported only up to this many arguments: `$toMillis` with a picture and
 * `$fromMillis` with a picture or a time zone when jsonata's own implementations could not be
 * read (see jsonata-builtins.ts).
 */
export const MAX_ARGUMENTS: ReadonlyMap<string, number> = new Map([
  ...(JSONATA_BUILTINS.toMillis === undefined ? [['toMillis', 1] as const] : []),
  ...(JSONATA_BUILTINS.fromMillis === undefined ? [['fromMillis', 1] as const] : []),
]);

/**
 * `$fromMillis(millis, picture?, timezone?)`: the port above without a picture or time zone,
 * jsonata's own formatDateTime with them.
 */
function fromMillisWithPicture(millis: any, picture: any, timezone: any): string | undefined {
  if (picture === undefined && timezone === undefined) return fromMillis(millis);
  return JSONATA_BUILTINS.fromMillis!(millis, picture, timezone) as string | undefined;
}

function define(signature: string, implementation: (this: BuiltinThis, ...args: any[]) => unknown): BuiltinFunction {
  const { validate, exactArity } = parseSignatureFully(signature);
  return { validate, exactArity, implementation, plainResult: true };
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
  ['substringBefore', define('<s-s:s>', substringBefore)],
  ['substringAfter', define('<s-s:s>', substringAfter)],
  ['pad', define('<s-ns?:s>', pad)],
  ['split', define('<s-(sf)n?:a<s>>', split)],
  ['match', define('<s-f<s:o>n?:a<o>>', match)],
  ['toMillis', define('<s-s?:n>', toMillisWithPicture)],
  ['fromMillis', define('<n-s?s?:s>', fromMillisWithPicture)],
  ['power', define('<n-n:n>', power)],
  ['sqrt', define('<n-:n>', sqrt)],
  ['formatBase', define('<n-n?:s>', formatBase)],
  ['formatNumber', define('<n-so?:s>', formatNumber)],
  ['error', define('<s?:x>', error)],
  ['assert', define('<bs?:x>', assert)],
  ['base64encode', define('<s-:s>', base64encode)],
  ['base64decode', define('<s-:s>', base64decode)],
  ['encodeUrlComponent', define('<s-:s>', urlFunction('encodeUrlComponent', encodeURIComponent))],
  ['encodeUrl', define('<s-:s>', urlFunction('encodeUrl', encodeURI))],
  ['decodeUrlComponent', define('<s-:s>', urlFunction('decodeUrlComponent', decodeURIComponent))],
  ['decodeUrl', define('<s-:s>', urlFunction('decodeUrl', decodeURI))],
  ['sum', define('<a<n>:n>', sum)],
  ['max', define('<a<n>:n>', (args: any) => (args === undefined || args.length === 0 ? undefined : Math.max(...args)))],
  ['min', define('<a<n>:n>', (args: any) => (args === undefined || args.length === 0 ? undefined : Math.min(...args)))],
  ['average', define('<a<n>:n>', average)],
  ['abs', define('<n-:n>', (arg: any) => (arg === undefined ? undefined : Math.abs(arg)))],
  ['floor', define('<n-:n>', (arg: any) => (arg === undefined ? undefined : Math.floor(arg)))],
  ['ceil', define('<n-:n>', (arg: any) => (arg === undefined ? undefined : Math.ceil(arg)))],
  ['round', define('<n-n?:n>', round)],
  ['keys', define('<x-:a<s>>', keys)],
  ['lookup', define('<x-s:x>', (input: any, key: any) => lookup(input, key))],
  ['append', define('<xx:a>', append)],
  ['spread', define('<x-:a<o>>', spread)],
  ['zip', define('<a+>', zip)],
  ['reverse', define('<a:a>', reverse)],
  ['type', define('<x:s>', typeOf)],
  ['distinct', define('<x:x>', distinct)],
  ['map', define('<af>', map)],
  ['filter', define('<af>', filter)],
  ['single', define('<af?>', single)],
  ['reduce', define('<afj?:j>', foldLeft)],
  ['sift', define('<o-f?:o>', sift)],
  ['each', define('<o-f:a>', each)],
  ['sort', define('<af?:a>', sort)],
  ...(JSONATA_BUILTINS.formatInteger === undefined ? [] : [['formatInteger', define('<n-s:s>', JSONATA_BUILTINS.formatInteger)] as const]),
  ...(JSONATA_BUILTINS.parseInteger === undefined ? [] : [['parseInteger', define('<s-s:n>', JSONATA_BUILTINS.parseInteger)] as const]),
]);
for (const [name, builtin] of BUILTINS) (builtin as BuiltinFunction).plainResult = !MAY_RETURN_SEQUENCE.has(name);

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
