/**
 * JSONata 2.x value semantics, ported line by line from jsonata's `utils.js`, `functions.js` and
 * the helpers of `jsonata.js` so the compiled fast path behaves exactly like the evaluator.
 *
 * jsonata marks arrays with string properties (`sequence`, `keepSingleton`, `outerWrapper`,
 * `cons`). We use symbols instead: the behaviour is the same, but results stay plain arrays for
 * JSON, `Object.keys` and deep-equality checks (the brief asks for "sequences as plain arrays").
 * The few places where jsonata itself can observe those string keys (`*` over a sequence, `=`
 * between an array and an object) are emulated by {@link jsonataOwnKeys}.
 *
 * This is a port of dynamically typed code, so values are `any` on purpose: the shapes are
 * whatever JSON (and jsonata's own sequences) can hold.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

/** Marks a jsonata sequence (jsonata: `arr.sequence = true`). */
export const SEQUENCE: unique symbol = Symbol('jsonata.sequence');
/** A sequence that must not be unwrapped when it holds one item (`[]` suffix). */
export const KEEP_SINGLETON: unique symbol = Symbol('jsonata.keepSingleton');
/** The top-level wrapper jsonata puts around an array input. */
export const OUTER_WRAPPER: unique symbol = Symbol('jsonata.outerWrapper');
/** An array built by an array constructor `[...]` (jsonata: non-enumerable `cons`). */
export const CONS: unique symbol = Symbol('jsonata.cons');

/** A jsonata-flagged array. */
export type Flagged = any[] & {
  [SEQUENCE]?: boolean;
  [KEEP_SINGLETON]?: boolean;
  [OUTER_WRAPPER]?: boolean;
  [CONS]?: boolean;
};

const hasOwn = Object.prototype.hasOwnProperty;

/** `createSequence()` with no argument: an empty sequence. */
export function emptySequence(): Flagged {
  const sequence: Flagged = [];
  sequence[SEQUENCE] = true;
  return sequence;
}

/** `createSequence(item)`: a one-item sequence; note that `undefined` is pushed too. */
export function sequenceOf(item: unknown): Flagged {
  const sequence: Flagged = [item];
  sequence[SEQUENCE] = true;
  return sequence;
}

/** utils.isSequence */
export function isSequence(value: any): boolean {
  return Array.isArray(value) && (value as Flagged)[SEQUENCE] === true;
}

/** The fields jsonata puts on its errors, besides `code` (the templates in `MESSAGES` read them). */
export interface JsonataErrorFields {
  position?: number;
  token?: unknown;
  value?: unknown;
  value2?: unknown;
  index?: number;
  type?: string;
  exp?: unknown;
  functionName?: string;
}

const ERROR_FIELDS = ['position', 'token', 'value', 'value2', 'index', 'type', 'exp', 'functionName'] as const;

// The class below has these fields too (declaration merging: types only, set by the constructor).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface JsonataError extends JsonataErrorFields {}

/** An error shaped like jsonata's (`code`, `position`, `token`, `value`, …; `message` is filled in on the way out). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class JsonataError extends Error {
  code: string;
  /** `message` is for $error and $assert, whose message is their own (jsonata's template is `{{{message}}}`). */
  constructor(code: string, fields: JsonataErrorFields & { message?: string } = {}) {
    // A data error: its JavaScript stack says nothing, and capturing one costs microseconds,
    // more than the whole evaluation (a mapping that fails on every bad event pays it each time).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(code);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'JsonataError';
    this.code = code;
    for (const key of ERROR_FIELDS) if (key in fields) (this as JsonataErrorFields)[key] = fields[key] as never;
    if (fields.message !== undefined) this.message = fields.message;
  }
}

/** jsonata's message catalogue, for the codes the fast path can raise. */
const MESSAGES: Record<string, string> = {
  T0410: 'Argument {{index}} of function {{token}} does not match function signature',
  T0411: 'Context value is not a compatible type with argument {{index}} of function {{token}}',
  T0412: 'Argument {{index}} of function {{token}} must be an array of {{type}}',
  D1001: 'Number out of range: {{value}}',
  D1002: 'Cannot negate a non-numeric value: {{value}}',
  T1003: 'Key in object structure must evaluate to a string; got: {{value}}',
  T1006: 'Attempted to invoke a non-function',
  D1004: 'Regular expression matches zero length string',
  D1012: 'Evaluation timeout after {{value}} milliseconds. Check for infinite loop',
  D1009: 'Multiple key definitions evaluate to same key: {{value}}',
  D1013: 'Object property names starting with _jsonata_ are reserved for internal use: {{value}}',
  T2001: 'The left side of the {{token}} operator must evaluate to a number',
  T2002: 'The right side of the {{token}} operator must evaluate to a number',
  T2006: 'The right side of the function application operator ~> must be a function',
  T2007: 'Type mismatch when comparing values {{value}} and {{value2}} in order-by clause',
  T2008: 'The expressions within an order-by clause must evaluate to numeric or string values',
  T2009: 'The values {{value}} and {{value2}} either side of operator {{token}} must be of the same data type',
  T2010: 'The expressions either side of operator {{token}} must evaluate to numeric or string values',
  D3001: 'Attempting to invoke string function on Infinity or NaN',
  D3010: 'Second argument of replace function cannot be an empty string',
  D3011: 'Fourth argument of replace function must evaluate to a positive number',
  D3012: 'Attempted to replace a matched string with a non-string value',
  D3020: 'Third argument of split function must evaluate to a positive number',
  D3030: 'Unable to cast value to a number: {{value}}',
  D3040: 'Third argument of match function must evaluate to a positive number',
  D3060: 'The sqrt function cannot be applied to a negative number: {{value}}',
  D3061: 'The power function has resulted in a value that cannot be represented as a JSON number: base={{value}}, exponent={{exp}}',
  D3080: 'The picture string must only contain a maximum of two sub-pictures',
  D3081: "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
  D3082: "The sub-picture must not contain more than one instance of the 'percent' character",
  D3083: "The sub-picture must not contain more than one instance of the 'per-mille' character",
  D3084: "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
  D3085: "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
  D3086: 'The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character',
  D3087: "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
  D3088: "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
  D3089: "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
  D3090: "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'",
  D3091: "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'",
  D3092: "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'",
  D3093: "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'",
  D3050: 'The second argument of reduce function must be a function with at least two arguments',
  D3138: 'The $single() function expected exactly 1 matching result.  Instead it matched more.',
  D3139: 'The $single() function expected exactly 1 matching result.  Instead it matched 0.',
  D3070: 'The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function',
  D3100: 'The radix of the formatBase function must be between 2 and 36.  It was given {{value}}',
  D3110: 'The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {{value}}',
  D3130: 'Formatting or parsing an integer as a sequence starting with {{value}} is not supported by this implementation',
  D3131: 'In a decimal digit pattern, all digits must be from the same decimal group',
  D3132: 'Unknown component specifier {{value}} in date/time picture string',
  D3133: "The 'name' modifier can only be applied to months and days in the date/time picture string, not {{value}}",
  D3134: 'The timezone integer format specifier cannot have more than four digits',
  D3135: "No matching closing bracket ']' in date/time picture string",
  D3136: 'The date/time picture string is missing specifiers required to parse the timestamp',
  D3137: '{{{message}}}',
  D3140: 'Malformed URL passed to ${{{functionName}}}(): {{value}}',
  D3141: '{{{message}}}',
};

/** jsonata's populateMessage: fills `message` from the template, inserts JSON-encoded. */
export function populateMessage(err: unknown): void {
  if (!(err instanceof JsonataError)) return;
  const template = MESSAGES[err.code];
  if (template === undefined) return;
  const fields = err as unknown as Record<string, unknown>;
  // Triple braces insert the value as it is, double braces JSON-encoded (jsonata's order).
  err.message = template
    .replace(/\{\{\{([^}]+)}}}/g, (_m, name: string) => String(fields[name]))
    .replace(/\{\{([^}]+)}}/g, (_m, name: string) => String(JSON.stringify(fields[name])));
}

/** Sets position/token on an error the way jsonata's catch blocks do (`err.position = …`). */
export function annotate(err: unknown, position: number | undefined, token: unknown): void {
  if (err !== null && typeof err === 'object') {
    const e = err as { position?: unknown; token?: unknown };
    e.position = position;
    e.token = token;
  }
}

/** utils.isNumeric: a non-NaN number; ±Infinity throws D1001. */
export function isNumeric(n: any): boolean {
  let isNum = false;
  if (typeof n === 'number') {
    isNum = !Number.isNaN(n);
    if (isNum && !Number.isFinite(n)) {
      throw new JsonataError('D1001', { value: n });
    }
  }
  return isNum;
}

/** utils.isArrayOfNumbers */
export function isArrayOfNumbers(arg: any): boolean {
  if (!Array.isArray(arg)) return false;
  return arg.filter((item) => !isNumeric(item)).length === 0;
}

/** utils.isFunction (data objects carrying jsonata's internal markers count, as in jsonata). */
export function isFunction(arg: any): boolean {
  return (arg && (arg._jsonata_function === true || arg._jsonata_lambda === true)) || typeof arg === 'function';
}

/** utils.keys */
export function keysOf(arg: any): string[] {
  return typeof arg === 'object' && arg !== null ? Object.keys(arg) : [];
}

/**
 * `Object.keys` as jsonata would see it: jsonata's flags are enumerable string properties on
 * its arrays (`sequence`, `keepSingleton`), ours are symbols, so add them back where jsonata
 * enumerates an array's own keys.
 */
export function jsonataOwnKeys(arg: any): string[] {
  const keys = keysOf(arg);
  if (Array.isArray(arg)) {
    const flagged = arg as Flagged;
    if (flagged[SEQUENCE] === true) keys.push('sequence');
    if (flagged[OUTER_WRAPPER] === true) keys.push('outerWrapper');
    if (flagged[KEEP_SINGLETON] === true) keys.push('keepSingleton');
  }
  return keys;
}

/** Reads a key listed by {@link jsonataOwnKeys}. */
export function jsonataOwnValue(arg: any, key: string): any {
  if (Array.isArray(arg) && !hasOwn.call(arg, key)) {
    if (key === 'sequence' || key === 'outerWrapper' || key === 'keepSingleton') return true;
  }
  return arg[key];
}

function ownPropertyNamesLikeJsonata(arg: any): string[] {
  const names = Object.getOwnPropertyNames(arg);
  if (Array.isArray(arg)) {
    const flagged = arg as Flagged;
    if (flagged[SEQUENCE] === true) names.push('sequence');
    if (flagged[OUTER_WRAPPER] === true) names.push('outerWrapper');
    if (flagged[KEEP_SINGLETON] === true) names.push('keepSingleton');
    if (flagged[CONS] === true) names.push('cons');
  }
  return names;
}

/** utils.isDeepEqual */
export function isDeepEqual(lhs: any, rhs: any): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let ii = 0; ii < lhs.length; ii++) {
        if (!isDeepEqual(lhs[ii], rhs[ii])) return false;
      }
      return true;
    }
    let lkeys = ownPropertyNamesLikeJsonata(lhs);
    let rkeys = ownPropertyNamesLikeJsonata(rhs);
    if (lkeys.length !== rkeys.length) return false;
    lkeys = lkeys.sort();
    rkeys = rkeys.sort();
    for (let ii = 0; ii < lkeys.length; ii++) {
      if (lkeys[ii] !== rkeys[ii]) return false;
    }
    for (let ii = 0; ii < lkeys.length; ii++) {
      const key = lkeys[ii];
      if (!isDeepEqual(jsonataOwnValue(lhs, key), jsonataOwnValue(rhs, key))) return false;
    }
    return true;
  }
  return false;
}

/** fn.lookup: field access that maps over arrays and flattens one level per array. */
export function lookup(input: any, key: string): any {
  if (Array.isArray(input)) {
    const result = emptySequence();
    for (let ii = 0; ii < input.length; ii++) {
      const res = lookup(input[ii], key);
      if (res !== undefined) {
        if (Array.isArray(res)) {
          res.forEach((val) => result.push(val));
        } else {
          result.push(res);
        }
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && hasOwn.call(input, key) && !isFunction(input)) {
    return input[key];
  }
  return undefined;
}

/** fn.append (without the guardrail on sequence length, which the fast path does not have). */
export function append(arg1: any, arg2: any): any {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  const a1: any[] = Array.isArray(arg1) ? arg1 : sequenceOf(arg1);
  const a2: any[] = Array.isArray(arg2) ? arg2 : [arg2];
  return a1.concat(a2);
}

/** fn.boolean: JSONata's effective boolean value (undefined stays undefined). */
export function toBoolean(arg: any): boolean | undefined {
  if (arg === undefined) return undefined;
  let result = false;
  if (Array.isArray(arg)) {
    if (arg.length === 1) {
      result = toBoolean(arg[0]) as boolean;
    } else if (arg.length > 1) {
      const trues = arg.filter((val) => toBoolean(val));
      result = trues.length > 0;
    }
  } else if (typeof arg === 'string') {
    if (arg.length > 0) result = true;
  } else if (isNumeric(arg)) {
    if (arg !== 0) result = true;
  } else if (arg !== null && typeof arg === 'object' && !isFunction(arg)) {
    if (keysOf(arg).length > 0) result = true;
  } else if (typeof arg === 'boolean' && arg === true) {
    result = true;
  }
  return result;
}

/** boolize in jsonata.js: boolean cast for `and` / `or`, undefined → false. */
export function boolize(value: any): boolean {
  const booled = toBoolean(value);
  return booled === undefined ? false : booled;
}

function stringifyReplacer(_key: string, val: any): any {
  if (val !== undefined && val !== null && isNumeric(val)) {
    return val.toPrecision && !Number.isInteger(val) ? Number(val.toPrecision(15)) : val;
  }
  return val && isFunction(val) ? '' : val;
}

/** fn.string: `$string` and the operands of `&`. Numbers keep 15 significant digits. */
export function toJsonataString(arg: any, prettify = false): string | undefined {
  if (arg === undefined) return undefined;
  if (typeof arg === 'string') return arg;
  if (isFunction(arg)) return '';
  if (typeof arg === 'number' && !Number.isFinite(arg)) {
    throw new JsonataError('D3001', { value: arg });
  }
  if (!prettify) {
    // Same text as the JSON.stringify call below, without the replacer machinery.
    if (typeof arg === 'number') return String(Number.isInteger(arg) ? arg : Number(arg.toPrecision(15)));
    if (typeof arg === 'boolean' || arg === null) return String(arg);
  }
  const space = prettify ? 2 : 0;
  let value = arg;
  if (Array.isArray(value) && (value as Flagged)[OUTER_WRAPPER] === true) value = value[0];
  return JSON.stringify(value, stringifyReplacer, space);
}

/** The flatten helper used by the wildcard operator. */
export function flatten(arg: any, flattened: any[] = []): any[] {
  if (Array.isArray(arg)) {
    arg.forEach((item) => flatten(item, flattened));
  } else {
    flattened.push(arg);
  }
  return flattened;
}

/** Tail of jsonata's `evaluate`: unwrap empty and singleton sequences. */
export function normalizeResult(result: any, keepArray: boolean): any {
  if (Array.isArray(result) && (result as Flagged)[SEQUENCE] === true) {
    if (keepArray) (result as Flagged)[KEEP_SINGLETON] = true;
    if (result.length === 0) return undefined;
    if (result.length === 1) return (result as Flagged)[KEEP_SINGLETON] === true ? result : result[0];
  }
  return result;
}

/** jsonata's `$round`: half to even, at `precision` decimal places (shared with `$formatNumber`). */
export function round(arg: any, precision: any): number | undefined {
  if (arg === undefined) return undefined;
  let value: string[];
  if (precision) {
    value = arg.toString().split('e');
    arg = +(value[0] + 'e' + (value[1] ? +value[1] + precision : precision));
  }
  let result = Math.round(arg);
  const diff = result - arg;
  if (Math.abs(diff) === 0.5 && Math.abs(result % 2) === 1) result = result - 1;
  if (precision) {
    value = result.toString().split('e');
    result = +(value[0] + 'e' + (value[1] ? +value[1] - precision : -precision));
  }
  if (Object.is(result, -0)) result = 0;
  return result;
}
