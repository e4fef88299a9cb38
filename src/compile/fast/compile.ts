/**
 * JSONata AST → synchronous closures. Each node compiles to `(input, env) => value`, mirroring
 * jsonata's `evaluate(expr, input, environment)` for that node (including predicates, grouping
 * and the singleton/empty sequence unwrapping at the end of `evaluate`).
 *
 * The AST is checked against a whitelist: any node type, flag or function outside the ported
 * subset throws {@link Unsupported}, and `compileToJs` then answers `undefined` so the caller
 * uses the jsonata evaluator (with its guardrails) instead. Lambdas, functions an expression
 * defines and tail calls are compiled in lambdas.ts, which this module calls for those nodes.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import { BUILTINS, HIGHER_ORDER, JSONATA_ENVIRONMENT_NAMES, MAX_ARGUMENTS, mergeSort, REGEX_BUILTINS, regexMatcher } from './functions.js';
import {
  clearFromTailCall,
  compileApplyOntoFunction,
  compileFunctionReference,
  compileLambda,
  compileState,
  compileTailCall,
  compileUserCall,
  isFastLambda,
  markFromTailCall,
} from './lambdas.js';
import { typeBit } from './signature.js';
import {
  annotate,
  append,
  boolize,
  CONS,
  emptySequence,
  flatten,
  type Flagged,
  isArrayOfNumbers,
  isDeepEqual,
  isFunction,
  isNumeric,
  JsonataError,
  jsonataOwnKeys,
  jsonataOwnValue,
  KEEP_SINGLETON,
  keysOf,
  lookup,
  normalizeResult,
  OUTER_WRAPPER,
  SEQUENCE,
  sequenceOf,
  toBoolean,
  toJsonataString,
} from './semantics.js';

/** Per-call state: the root input (`$$`) and the caller's variable bindings. */
export interface Env {
  root: unknown;
  bindings: Record<string, unknown> | undefined;
  /** The evaluation's clock for `$now()`, `$millis()` and `$toMillis`' pictures: read once, at the first of them (jsonata reads it as evaluation starts). */
  timestamp?: number;
  /**
   * The time limit (jsonata's `timeout` guardrail, D1012) for an expression that calls lambdas:
   * when the evaluation started (ms) and how many lambda calls it made (checked every 64).
   */
  timeLimit?: { startedAt: number; limitMs: number; calls: number };
  /**
   * While a lambda runs: the value its tail calls take as a context argument (`-`). That is the
   * input jsonata's `apply` got for the call: none (null) through the closure evaluateFunction
   * wraps a function argument in, the lambda's own input when a built-in got it unwrapped, the
   * call site's input for `$f(…)`.
   */
  tailContext?: unknown;
}

/** A compiled node: jsonata's `evaluate(expr, input, env)` for one expression. */
export type Evaluator = (input: any, env: Env) => any;

/** Thrown while compiling when the AST leaves the proven subset. */
export class Unsupported extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Unsupported';
  }
}

/** Thrown at run time when a caller's binding shadows a built-in with a function (not modelled). */
export class FastPathBindingError extends Error {
  readonly code = 'ES_FAST_PATH_BINDING';
  constructor(name: string) {
    super(`binding $${name} shadows a built-in function with a function value; use the jsonata evaluator`);
    this.name = 'FastPathBindingError';
  }
}

export type Node = Record<string, any>;

export const hasOwn = Object.prototype.hasOwnProperty;

/** Keys every node may carry; anything else (tuple, focus, index, ancestor, seekingParent, …) is refused. */
const COMMON_KEYS = ['type', 'value', 'position', 'keepArray', 'predicate', 'group', 'consarray'];
const KEYS_BY_TYPE: Record<string, string[]> = {
  string: [],
  number: [],
  value: [],
  name: [],
  variable: [],
  wildcard: [],
  descendant: [],
  path: ['steps', 'keepSingletonArray'],
  binary: ['lhs', 'rhs'],
  unary: ['expressions', 'lhs', 'expression'],
  condition: ['condition', 'then', 'else'],
  block: ['expressions'],
  function: ['arguments', 'procedure', 'name'],
  apply: ['lhs', 'rhs'],
  bind: ['lhs', 'rhs'],
};

const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or', 'in']);

export function checkKeys(node: Node, extra: readonly string[] = []): void {
  const allowed = KEYS_BY_TYPE[node.type];
  if (allowed === undefined) throw new Unsupported(`node type ${String(node.type)}`);
  for (const key of Object.keys(node)) {
    if (node[key] === undefined) continue;
    if (!COMMON_KEYS.includes(key) && !allowed.includes(key) && !extra.includes(key)) {
      throw new Unsupported(`${String(node.type)} with ${key}`);
    }
  }
}

export function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Compiles one expression node (jsonata's `evaluate`). */
export function compileNode(node: unknown, opts: { step?: boolean } = {}): Evaluator {
  if (!isNode(node)) throw new Unsupported('malformed node');
  if (node.type === 'lambda' && node.thunk === true && !opts.step) return compileTailCall(node);
  checkKeys(node, opts.step ? ['stages'] : []);
  const core = compileCore(node);
  const filters: Array<(input: any, env: Env) => any> = [];
  if (node.predicate !== undefined) {
    for (const predicate of asArray(node.predicate)) filters.push(compileFilter(predicate));
  }
  const group = node.type !== 'path' && node.group !== undefined ? compileGroupSpec(node.group) : undefined;
  const keepArray = node.keepArray === true;
  if (filters.length === 0 && group === undefined) {
    if (NEVER_SEQUENCE.has(nodeKind(node)) || (NORMALIZED.has(core) && !keepArray && !compileState.exactNormalization)) return core;
    return (input, env) => normalizeResult(core(input, env), keepArray);
  }
  return (input, env) => {
    let result = core(input, env);
    for (const filter of filters) result = filter(result, env);
    if (group !== undefined) result = group(result, env);
    return normalizeResult(result, keepArray);
  };
}

/** Node kinds whose core never yields a jsonata sequence (so the unwrapping step is a no-op). */
const NEVER_SEQUENCE = new Set(['string', 'number', 'value', 'binary', 'unary-', 'unary{', 'unary[']);

/**
 * Cores whose result needs no unwrapping either: they return a value that is not a sequence, or
 * one already unwrapped by `normalizeResult(…, false)`, which is idempotent (a normalized sequence
 * has 2+ items, or 1 and KEEP_SINGLETON, and is returned as is). compileNode still wraps a node
 * with `keepArray` (its flag must be set on a sequence result).
 */
const NORMALIZED = new WeakSet<Evaluator>();

function normalized(evaluate: Evaluator): Evaluator {
  NORMALIZED.add(evaluate);
  return evaluate;
}

/** A literal node without decorations: its value is known at compile time. */
function literalValue(node: unknown): { value: unknown } | undefined {
  if (!isNode(node)) return undefined;
  if (node.type !== 'string' && node.type !== 'number' && node.type !== 'value') return undefined;
  for (const key of Object.keys(node)) {
    if (node[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') return undefined;
  }
  const value = node.value;
  if (node.type === 'string' && typeof value !== 'string') return undefined;
  if (node.type === 'number' && typeof value !== 'number') return undefined;
  if (node.type === 'value' && value !== null && typeof value !== 'boolean') return undefined;
  return { value };
}

function nodeKind(node: Node): string {
  return node.type === 'unary' ? `unary${String(node.value)}` : String(node.type);
}

export function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Unsupported('malformed node list');
  return value;
}

function compileCore(node: Node): Evaluator {
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      if (node.type === 'string' && typeof value !== 'string') throw new Unsupported('malformed string');
      if (node.type === 'number' && typeof value !== 'number') throw new Unsupported('malformed number');
      if (node.type === 'value' && value !== null && typeof value !== 'boolean') throw new Unsupported('malformed value');
      return () => value;
    }
    case 'name': {
      const name = node.value;
      if (typeof name !== 'string') throw new Unsupported('malformed name');
      return (input) => lookup(input, name);
    }
    case 'variable':
      return compileVariable(node);
    case 'path':
      return compilePath(node);
    case 'binary':
      return compileBinary(node);
    case 'unary':
      return compileUnary(node);
    case 'condition':
      return compileCondition(node);
    case 'block':
      return compileBlock(node);
    case 'function':
      return compileFunction(node);
    case 'apply':
      return compileApply(node);
    case 'bind':
      return compileBind(node);
    case 'wildcard':
      return evaluateWildcard;
    case 'descendant':
      return evaluateDescendants;
    default:
      throw new Unsupported(`node type ${String(node.type)}`);
  }
}

function compileVariable(node: Node): Evaluator {
  const name = node.value;
  if (typeof name !== 'string') throw new Unsupported('malformed variable');
  if (name === '') {
    // `$`: the context; the top-level wrapper around an array input is transparent.
    return (input) => (Array.isArray(input) && (input as Flagged)[OUTER_WRAPPER] === true ? input[0] : input);
  }
  if (name === '$') return (_input, env) => env.root;
  if (JSONATA_ENVIRONMENT_NAMES.has(name)) throw new Unsupported(`reference to function $${name}`);
  return (_input, env) => (env.bindings !== undefined && hasOwn.call(env.bindings, name) ? env.bindings[name] : undefined);
}

// ---------------------------------------------------------------------------------------------
// Paths

interface CompiledStep {
  evaluate: Evaluator;
  stages: Array<(input: any, env: Env) => any>;
  consarray: boolean;
  /** A sort step `^(…)`: it takes the whole input sequence at once (jsonata's evaluateSortExpression). */
  sort?: (input: any, env: Env) => any;
}

function compilePath(node: Node): Evaluator {
  const steps = asArray(node.steps);
  if (steps.length === 0) throw new Unsupported('empty path');
  const compiled: CompiledStep[] = steps.map((step) => {
    if (!isNode(step)) throw new Unsupported('malformed step');
    if (step.type === 'parent') throw new Unsupported(`${String(step.type)} step`);
    const stages: Array<(input: any, env: Env) => any> = [];
    if (step.stages !== undefined) {
      for (const stage of asArray(step.stages)) stages.push(compileFilter(stage));
    }
    if (step.type === 'sort') return { evaluate: unreachableStep, stages, consarray: false, sort: compileSortStep(step) };
    return { evaluate: compileNode(step, { step: true }), stages, consarray: step.consarray === true };
  });
  const firstIsVariable = (steps[0] as Node).type === 'variable';
  const keepSingletonArray = node.keepSingletonArray === true;
  const group = node.group !== undefined ? compileGroupSpec(node.group) : undefined;
  const last = compiled.length - 1;

  const generic: Evaluator = (input, env) => {
    let inputSequence: any = Array.isArray(input) && !firstIsVariable ? input : sequenceOf(input);
    let resultSequence: any;
    for (let ii = 0; ii < compiled.length; ii++) {
      const step = compiled[ii];
      if (step.sort !== undefined) {
        resultSequence = step.sort(inputSequence, env);
        for (const stage of step.stages) resultSequence = stage(resultSequence, env);
      } else if (ii === 0 && step.consarray) {
        resultSequence = step.evaluate(inputSequence, env);
      } else {
        resultSequence = evaluateStep(step, inputSequence, env, ii === last);
      }
      // jsonata reads `.length` of whatever came back (a TypeError for null, as in jsonata).
      if (resultSequence === undefined || resultSequence.length === 0) break;
      inputSequence = resultSequence;
    }
    if (keepSingletonArray) {
      if (Array.isArray(resultSequence) && (resultSequence as Flagged)[CONS] === true && (resultSequence as Flagged)[SEQUENCE] !== true) {
        resultSequence = sequenceOf(resultSequence);
      }
      if (resultSequence === null || (typeof resultSequence !== 'object' && typeof resultSequence !== 'function')) {
        // jsonata assigns `resultSequence.keepSingleton = true`, which throws for these in strict mode.
        throw new TypeError(`Cannot create property 'keepSingleton' on ${String(resultSequence)}`);
      }
      // Only a sequence reads the flag back; jsonata also sets it on data arrays, to no effect.
      if (Array.isArray(resultSequence) && (resultSequence as Flagged)[SEQUENCE] === true) {
        (resultSequence as Flagged)[KEEP_SINGLETON] = true;
      }
    }
    if (group !== undefined) resultSequence = group(resultSequence, env);
    return resultSequence;
  };

  // Fast path for the common `a.b.c` over an object: the same walk without sequences. Its
  // result is already unwrapped (the generic walk's result is normalized here), so compileNode
  // adds no wrapper (simple chains never have keepArray).
  const simpleNames = simpleNameChain(node, steps);
  if (simpleNames === undefined) return generic;
  const fallback = (input: any, env: Env): any => normalizeResult(generic(input, env), false);
  // One and two names (most mapping paths): generated code. Otherwise, or where code
  // generation is disabled, the loop below, which reads any number of names the same way.
  const specialized = specializedPathReader(simpleNames, fallback);
  if (specialized !== undefined) return normalized(specialized);
  return normalized((input, env) => {
    let value: any = input;
    for (let ii = 0; ii < simpleNames.length; ii++) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        // Arrays map and flatten; leave those to the generic walk (it is pure, so a rerun is safe).
        return ii === 0 || Array.isArray(value) ? fallback(input, env) : undefined;
      }
      if (!hasOwn.call(value, simpleNames[ii]) || isFunction(value)) return undefined;
      value = value[simpleNames[ii]];
      if (value === undefined) return undefined;
    }
    // A data array found by the last step is returned as is (jsonata's `lastStep` rule);
    // anything flagged as a sequence goes through the generic walk.
    if (Array.isArray(value) && (value as Flagged)[SEQUENCE] === true) return fallback(input, env);
    return value;
  });
}

/**
 * A reader for a one- or two-name path, as code generated for these names: `compilePath`'s
 * loop unrolled, with the names as string literals. Closures made from one function literal
 * share V8's type feedback, so once a config has a dozen paths, every `value[name]` in them is a
 * megamorphic keyed load; a generated function has feedback of its own and a named load that
 * stays monomorphic. Measured on the example config, in process: 1.19x → 1.12–1.14x the time of
 * the hand-written destinations. jsonata's \`isFunction\` test of the object read from is written
 * out too (the object is known to be a non-null, non-array object there, so only the two
 * markers remain): inside the shared \`isFunction\`, each marker read was a lookup of a missing
 * property on every kind of object the config's paths meet, and the example's \`referrals\`
 * destination went from 1.07–1.09x to 1.02–1.03x the hand-written time in process. Undefined
 * (the caller uses the loop) for longer chains, or where code generation from strings is
 * disabled (\`--disallow-code-generation-from-strings\`).
 *
 * @internal Exported for tests.
 */
export function specializedPathReader(names: string[], fallback: Evaluator): Evaluator | undefined {
  if (names.length > 2) return undefined;
  // JSON.stringify makes a valid JavaScript string literal of any name (quotes, backslashes,
  // control characters; U+2028/U+2029 are allowed in string literals since ES2019).
  const [k0, k1] = names.map((name) => JSON.stringify(name));
  const body =
    names.length === 1
      ? `return function readPath1(input, env) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return fallback(input, env);
  if (!hasOwn.call(input, ${k0}) || input._jsonata_function === true || input._jsonata_lambda === true) return undefined;
  const value = input[${k0}];
  if (Array.isArray(value) && value[SEQUENCE] === true) return fallback(input, env);
  return value;
};`
      : `return function readPath2(input, env) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return fallback(input, env);
  if (!hasOwn.call(input, ${k0}) || input._jsonata_function === true || input._jsonata_lambda === true) return undefined;
  const mid = input[${k0}];
  if (mid === null || typeof mid !== 'object') return undefined;
  if (Array.isArray(mid)) return fallback(input, env);
  if (!hasOwn.call(mid, ${k1}) || mid._jsonata_function === true || mid._jsonata_lambda === true) return undefined;
  const value = mid[${k1}];
  if (Array.isArray(value) && value[SEQUENCE] === true) return fallback(input, env);
  return value;
};`;
  try {
    return new Function('fallback', 'hasOwn', 'SEQUENCE', body)(fallback, hasOwn, SEQUENCE) as Evaluator;
  } catch {
    return undefined;
  }
}

/** The names of a plain `a.b.c` path (no predicates, flags or grouping), else undefined. */
function simpleNameChain(node: Node, steps: unknown[]): string[] | undefined {
  if (node.keepSingletonArray === true || node.group !== undefined || node.keepArray === true) return undefined;
  const names: string[] = [];
  for (const step of steps) {
    const s = step as Node;
    if (s.type !== 'name' || typeof s.value !== 'string') return undefined;
    for (const key of Object.keys(s)) {
      if (s[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') return undefined;
    }
    names.push(s.value);
  }
  return names;
}

const unreachableStep: Evaluator = () => {
  throw new Error('a sort step is evaluated whole');
};

/**
 * A sort step `^(<a, >b)` (jsonata's evaluateSortExpression, without tuple streams, which are
 * refused): the input sequence merge-sorted by the terms in turn, each evaluated on both items;
 * a missing value sorts last, a value other than a string or number is T2008, a string against
 * a number T2007.
 */
function compileSortStep(node: Node): (input: any, env: Env) => any {
  for (const key of Object.keys(node)) {
    if (node[key] === undefined) continue;
    if (key !== 'type' && key !== 'position' && key !== 'terms' && key !== 'stages') throw new Unsupported(`sort step with ${key}`);
  }
  const position = node.position;
  const terms = asArray(node.terms).map((term) => {
    if (!isNode(term)) throw new Unsupported('malformed sort term');
    for (const key of Object.keys(term)) {
      if (term[key] !== undefined && key !== 'descending' && key !== 'expression') throw new Unsupported(`sort term with ${key}`);
    }
    return { descending: term.descending === true, expression: compileNode(term.expression) };
  });
  if (terms.length === 0) throw new Unsupported('sort step without terms');
  return (input, env) => {
    const comparator = (a: unknown, b: unknown): boolean => {
      let comp = 0;
      for (let index = 0; comp === 0 && index < terms.length; index++) {
        const term = terms[index]!;
        const aa = term.expression(a, env);
        const bb = term.expression(b, env);
        const atype = typeof aa;
        const btype = typeof bb;
        // undefined sorts last
        if (atype === 'undefined') {
          comp = btype === 'undefined' ? 0 : 1;
          continue;
        }
        if (btype === 'undefined') {
          comp = -1;
          continue;
        }
        if (!(atype === 'string' || atype === 'number') || !(btype === 'string' || btype === 'number')) {
          throw new JsonataError('T2008', { position, value: !(atype === 'string' || atype === 'number') ? aa : bb });
        }
        if (atype !== btype) throw new JsonataError('T2007', { position, value: aa, value2: bb });
        if (aa === bb) continue;
        comp = aa < bb ? -1 : 1;
        if (term.descending) comp = -comp;
      }
      // only swap a and b when comp is 1
      return comp === 1;
    };
    return mergeSort(input, comparator);
  };
}

/** jsonata's evaluateStep: map the step over the input sequence and flatten one level. */
function evaluateStep(step: CompiledStep, input: any, env: Env, lastStep: boolean): any {
  const result: any[] = emptySequence();
  for (let ii = 0; ii < input.length; ii++) {
    let res = step.evaluate(input[ii], env);
    for (const stage of step.stages) res = stage(res, env);
    if (res !== undefined) result.push(res);
  }
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && (result[0] as Flagged)[SEQUENCE] !== true) {
    return result[0];
  }
  const resultSequence: any[] = emptySequence();
  for (const res of result) {
    if (!Array.isArray(res) || (res as Flagged)[CONS] === true) {
      resultSequence.push(res);
    } else {
      res.forEach((val) => resultSequence.push(val));
    }
  }
  return resultSequence;
}

// ---------------------------------------------------------------------------------------------
// Predicates

function compileFilter(spec: unknown): (input: any, env: Env) => any {
  if (!isNode(spec) || spec.type !== 'filter') throw new Unsupported('stage other than a filter');
  for (const key of Object.keys(spec)) {
    if (spec[key] !== undefined && key !== 'type' && key !== 'expr' && key !== 'position') {
      throw new Unsupported(`filter with ${key}`);
    }
  }
  const predicate = spec.expr;
  if (!isNode(predicate)) throw new Unsupported('malformed filter');
  if (predicate.type === 'number') {
    checkKeys(predicate);
    if (predicate.predicate !== undefined || predicate.group !== undefined || typeof predicate.value !== 'number') {
      throw new Unsupported('decorated index');
    }
    const value = predicate.value;
    return (input) => {
      let results: any = emptySequence();
      const items: any = Array.isArray(input) ? input : sequenceOf(input);
      let index = Math.floor(value);
      if (index < 0) index = items.length + index;
      const item = items[index];
      if (item !== undefined) {
        if (Array.isArray(item)) results = item;
        else results.push(item);
      }
      return results;
    };
  }
  const evaluate = compileNode(predicate);
  return (input, env) => {
    const results: any[] = emptySequence();
    const items: any = Array.isArray(input) ? input : sequenceOf(input);
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      let res = evaluate(item, env);
      if (isNumeric(res)) res = [res];
      if (isArrayOfNumbers(res)) {
        for (const ires of res) {
          let ii = Math.floor(ires);
          if (ii < 0) ii = items.length + ii;
          if (ii === index) results.push(item);
        }
      } else if (toBoolean(res)) {
        results.push(item);
      }
    }
    return results;
  };
}

// ---------------------------------------------------------------------------------------------
// Operators

function compileBinary(node: Node): Evaluator {
  const op = node.value;
  if (typeof op !== 'string' || !BINARY_OPERATORS.has(op)) throw new Unsupported(`operator ${String(op)}`);
  const lhs = compileNode(node.lhs);
  const rhs = compileNode(node.rhs);
  const position = node.position;

  if (op === 'and' || op === 'or') {
    const isAnd = op === 'and';
    return (input, env) => {
      const left = lhs(input, env);
      try {
        const lBool = boolize(left);
        if (isAnd) return lBool && boolize(rhs(input, env));
        return lBool || boolize(rhs(input, env));
      } catch (err) {
        annotate(err, position, op);
        throw err;
      }
    };
  }

  // `x = "literal"` and friends: isDeepEqual against a scalar is `===` (an object or array never
  // equals a scalar, NaN never equals anything), and the literal side is never undefined.
  if (op === '=' || op === '!=') {
    const rightLiteral = literalValue(node.rhs);
    const leftLiteral = rightLiteral === undefined ? literalValue(node.lhs) : undefined;
    const literal = rightLiteral ?? leftLiteral;
    if (literal !== undefined) {
      const constant = literal.value;
      const other = rightLiteral !== undefined ? lhs : rhs;
      if (op === '=') return (input, env) => other(input, env) === constant;
      return (input, env) => {
        const value = other(input, env);
        return value === undefined ? false : value !== constant;
      };
    }
  }
  if (op === '&') {
    return (input, env) => {
      const left = lhs(input, env);
      const right = rhs(input, env);
      // Strings are their own $string; everything else goes through toJsonataString.
      if (typeof left === 'string' && typeof right === 'string') return left + right;
      try {
        const lstr = left === undefined ? '' : (toJsonataString(left) as string);
        const rstr = right === undefined ? '' : (toJsonataString(right) as string);
        return lstr.concat(rstr);
      } catch (err) {
        annotate(err, position, op);
        throw err;
      }
    };
  }

  const apply = binaryOperation(op);
  return (input, env) => {
    const left = lhs(input, env);
    const right = rhs(input, env);
    try {
      return apply(left, right);
    } catch (err) {
      annotate(err, position, op);
      throw err;
    }
  };
}

function binaryOperation(op: string): (lhs: any, rhs: any) => any {
  switch (op) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return (lhs, rhs) => evaluateNumeric(lhs, rhs, op);
    case '=':
      return (lhs, rhs) => (lhs === undefined || rhs === undefined ? false : isDeepEqual(lhs, rhs));
    case '!=':
      return (lhs, rhs) => (lhs === undefined || rhs === undefined ? false : !isDeepEqual(lhs, rhs));
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (lhs, rhs) => evaluateComparison(lhs, rhs, op);
    case '&':
      return (lhs, rhs) => {
        const lstr = lhs === undefined ? '' : (toJsonataString(lhs) as string);
        const rstr = rhs === undefined ? '' : (toJsonataString(rhs) as string);
        return lstr.concat(rstr);
      };
    case 'in':
      return (lhs, rhs) => {
        if (lhs === undefined || rhs === undefined) return false;
        const list: any[] = Array.isArray(rhs) ? rhs : [rhs];
        for (let i = 0; i < list.length; i++) {
          if (list[i] === lhs) return true;
        }
        return false;
      };
    default:
      throw new Unsupported(`operator ${op}`);
  }
}

function evaluateNumeric(lhs: any, rhs: any, op: string): number | undefined {
  if (lhs !== undefined && !isNumeric(lhs)) throw new JsonataError('T2001', { value: lhs });
  if (rhs !== undefined && !isNumeric(rhs)) throw new JsonataError('T2002', { value: rhs });
  if (lhs === undefined || rhs === undefined) return undefined;
  switch (op) {
    case '+':
      return lhs + rhs;
    case '-':
      return lhs - rhs;
    case '*':
      return lhs * rhs;
    case '/':
      return lhs / rhs;
    default:
      return lhs % rhs;
  }
}

function evaluateComparison(lhs: any, rhs: any, op: string): boolean | undefined {
  const ltype = typeof lhs;
  const rtype = typeof rhs;
  const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
  const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
  if (!lcomparable || !rcomparable) {
    throw new JsonataError('T2010', { value: !(ltype === 'string' || ltype === 'number') ? lhs : rhs });
  }
  if (ltype === 'undefined' || rtype === 'undefined') return undefined;
  if (ltype !== rtype) throw new JsonataError('T2009', { value: lhs, value2: rhs });
  switch (op) {
    case '<':
      return lhs < rhs;
    case '<=':
      return lhs <= rhs;
    case '>':
      return lhs > rhs;
    default:
      return lhs >= rhs;
  }
}

function compileUnary(node: Node): Evaluator {
  switch (node.value) {
    case '-': {
      const expression = compileNode(node.expression);
      const position = node.position;
      return (input, env) => {
        const result = expression(input, env);
        if (result === undefined) return undefined;
        if (isNumeric(result)) return -result;
        throw new JsonataError('D1002', { position, token: '-', value: result });
      };
    }
    case '[': {
      const items = asArray(node.expressions).map((item) => ({
        evaluate: compileNode(item),
        // jsonata keeps a nested array constructor whole (`item.value === '['`), else appends.
        nested: isNode(item) && item.value === '[',
      }));
      const consarray = node.consarray === true;
      return (input, env) => {
        // jsonata evaluates the items concurrently (Promise.all); without side effects only
        // the choice between two failing items could differ, see the module notes.
        let result: any[] = [];
        for (const item of items) {
          const value = item.evaluate(input, env);
          if (value !== undefined) {
            if (item.nested) result.push(value);
            else result = append(result, value);
          }
        }
        if (consarray) (result as Flagged)[CONS] = true;
        return result;
      };
    }
    case '{': {
      const constant = constantObject(node.lhs);
      if (constant !== undefined) return () => constant;
      const group = compileGroupSpec({ lhs: node.lhs, position: node.position });
      return (input, env) => group(input, env);
    }
    default:
      throw new Unsupported(`unary ${String(node.value)}`);
  }
}

function compileCondition(node: Node): Evaluator {
  const condition = compileNode(node.condition);
  const then = compileNode(node.then);
  const otherwise = node.else !== undefined ? compileNode(node.else) : undefined;
  // then/else are compileNode results (already unwrapped), so the condition needs no wrapper.
  return normalized((input, env) => {
    const test = condition(input, env);
    if (test === true || (test !== false && toBoolean(test))) return then(input, env);
    if (otherwise !== undefined) return otherwise(input, env);
    return undefined;
  });
}

function compileBlock(node: Node): Evaluator {
  const expressions = asArray(node.expressions).map((expression) => compileNode(expression));
  if (containsBind(node)) {
    // jsonata's evaluateBlock: a frame of its own, so that a `:=` inside stays inside. Nothing
    // can change an enclosing frame while the block runs (a `:=` binds in the innermost frame),
    // so a copy of the enclosing variables is as good as a link to them.
    return normalized((input, env) => {
      const outer = env.bindings;
      env.bindings = newFrame(outer);
      try {
        let result: any;
        for (const expression of expressions) result = expression(input, env);
        return result;
      } finally {
        env.bindings = outer;
      }
    });
  }
  // Each expression is a compileNode result (already unwrapped); so is the block's.
  if (expressions.length === 1) return normalized(expressions[0]);
  return normalized((input, env) => {
    let result: any;
    for (const expression of expressions) result = expression(input, env);
    return result;
  });
}

/** A variable frame: the enclosing frame's variables, own properties of a null-prototype object. */
export function newFrame(outer: Record<string, unknown> | undefined): Record<string, unknown> {
  const frame: Record<string, unknown> = Object.create(null);
  if (outer !== undefined) for (const key of Object.keys(outer)) frame[key] = outer[key];
  return frame;
}

/**
 * `$name := rhs` (jsonata's evaluateBindExpression): the value goes into the innermost frame (the
 * enclosing block's, or the evaluation's own copy of the caller's bindings) and is the result.
 * `$$` is refused: jsonata keeps the root in the same frames, and rebinding it is not modelled.
 */
function compileBind(node: Node): Evaluator {
  const lhs = node.lhs;
  if (!isNode(lhs) || lhs.type !== 'variable' || typeof lhs.value !== 'string') throw new Unsupported('malformed bind');
  for (const key of Object.keys(lhs)) {
    if (lhs[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') throw new Unsupported(`bind to a variable with ${key}`);
  }
  const name = lhs.value;
  if (name === '$') throw new Unsupported('binding $$');
  // A lambda bound here was checked by checkUserFunctions (it is only ever called).
  const rhs = isNode(node.rhs) && node.rhs.type === 'lambda' && node.rhs.thunk !== true && compileState.userFunctions.has(name) ? compileLambda(node.rhs) : compileNode(node.rhs);
  return normalized((input, env) => {
    const value = rhs(input, env);
    (env.bindings ??= Object.create(null) as Record<string, unknown>)[name] = value;
    return value;
  });
}

/** True when `node` or any node under it passes `test` (a walk over the whole AST, at compile time). */
export function someNode(node: unknown, test: (node: Node) => boolean): boolean {
  if (Array.isArray(node)) return node.some((item) => someNode(item, test));
  if (!isNode(node)) return false;
  if (test(node)) return true;
  for (const key of Object.keys(node)) {
    const value = node[key];
    if (value !== null && typeof value === 'object' && someNode(value, test)) return true;
  }
  return false;
}

/** Built-ins that may read the evaluation's clock: `$toMillis` does when a picture leaves out the date. */
const CLOCK_READERS = new Set(['now', 'millis', 'toMillis']);

/** True when `node` or anything under it may read the clock (`$now()`, `$millis()`, `$toMillis`): its evaluations then reset `env.timestamp`. */
export function readsClock(node: unknown): boolean {
  return someNode(node, (n) => n.type === 'function' && isNode(n.procedure) && CLOCK_READERS.has(n.procedure.value as string));
}

/** True when `node` or anything under it is a lambda (its evaluations then keep the time limit). */
export function callsLambdas(node: unknown): boolean {
  return someNode(node, (n) => n.type === 'lambda');
}

/** True when `node` or anything under it is a `:=`. */
function containsBind(node: unknown): boolean {
  return someNode(node, (n) => n.type === 'bind');
}

/**
 * Checks where the `:=`s of an expression are, before it is compiled; true when it has any (its
 * evaluations then start from a copy of the caller's bindings, which a `:=` may add to). jsonata
 * evaluates an object constructor's values concurrently (one promise per group), so the order
 * of `:=`s in them, or of a `:=` in one and a read in another, is not the written order: a `:=`
 * there is refused unless a block of its own (inside the constructor) holds it.
 */
export function checkBinds(node: unknown, inConstructor = false): boolean {
  if (Array.isArray(node)) {
    let found = false;
    for (const item of node) if (checkBinds(item, inConstructor)) found = true;
    return found;
  }
  if (!isNode(node)) return false;
  if (node.type === 'bind' && inConstructor) throw new Unsupported(':= inside an object constructor');
  let found = node.type === 'bind';
  const inside = node.type === 'block' ? false : inConstructor || (node.type === 'unary' && node.value === '{');
  for (const key of Object.keys(node)) {
    const value = node[key];
    if (value === null || typeof value !== 'object') continue;
    if (checkBinds(value, key === 'group' ? true : inside)) found = true;
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Object constructors and grouping (jsonata's evaluateGroupExpression, non-tuple input)

interface GroupEntry {
  data: any;
  exprIndex: number;
  /** data is an array this grouping created, so further items may be pushed into it. */
  owned: boolean;
}

function compileGroupSpec(spec: unknown): (input: any, env: Env) => any {
  if (!isNode(spec)) throw new Unsupported('malformed group');
  for (const key of Object.keys(spec)) {
    if (spec[key] !== undefined && key !== 'lhs' && key !== 'position') throw new Unsupported(`group with ${key}`);
  }
  const pairs = asArray(spec.lhs).map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Unsupported('malformed pair');
    return { key: compileNode(pair[0]), value: compileNode(pair[1]) };
  });
  const position = spec.position;
  return (input, env) => {
    const result = Object.create(null) as Record<string, unknown>;
    // jsonata keeps the groups in a null-prototype object; a Map holds the same entries and is
    // much cheaper to walk. Only the order in which values are evaluated can differ (integer-like
    // keys first in jsonata), which is observable only as which of two failing values is
    // reported — and jsonata evaluates them concurrently anyway. The result object is built with
    // a null prototype, so its key order is jsonata's.
    const groups = new Map<string, GroupEntry>();
    let items: any = Array.isArray(input) ? input : sequenceOf(input);
    // jsonata pushes `undefined` into an empty input so a literal object is still produced.
    if (items.length === 0) items = [undefined];
    for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
      const item = items[itemIndex];
      for (let pairIndex = 0; pairIndex < pairs.length; pairIndex++) {
        const key = pairs[pairIndex].key(item, env);
        if (typeof key !== 'string' && key !== undefined) throw new JsonataError('T1003', { position, value: key });
        if (key === undefined) continue;
        if (key === '_jsonata_lambda' || key === '_jsonata_function') {
          throw new JsonataError('D1013', { position, value: key });
        }
        const entry = groups.get(key);
        if (entry !== undefined) {
          if (entry.exprIndex !== pairIndex) throw new JsonataError('D1009', { position, value: key });
          appendToGroup(entry, item);
        } else {
          groups.set(key, { data: item, exprIndex: pairIndex, owned: false });
        }
      }
    }
    for (const [key, entry] of groups) {
      const value = pairs[entry.exprIndex].value(entry.data, env);
      if (value !== undefined) result[key] = value;
    }
    return result;
  };
}

/**
 * `{"k": literal, …}` with distinct literal string keys: the same object whatever the input (each
 * item of the input gives the same keys from the same pairs, grouped, then the literal values),
 * built once and frozen so that nothing can change it. Undefined for anything else.
 */
function constantObject(lhs: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(lhs)) return undefined;
  const result = Object.create(null) as Record<string, unknown>;
  for (const pair of lhs) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const key = literalValue(pair[0]);
    const value = literalValue(pair[1]);
    if (key === undefined || value === undefined || typeof key.value !== 'string') return undefined;
    // Duplicate keys (D1009) and reserved names (D1013) are errors at run time: leave them to the general code.
    if (hasOwn.call(result, key.value) || key.value === '_jsonata_lambda' || key.value === '_jsonata_function') return undefined;
    result[key.value] = value.value;
  }
  return Object.freeze(result);
}

/** `entry.data = fn.append(entry.data, item)` without re-copying the array on every item. */
function appendToGroup(entry: GroupEntry, item: any): void {
  if (entry.data === undefined) {
    entry.data = item;
    return;
  }
  if (item === undefined) return;
  if (!entry.owned) {
    entry.data = Array.isArray(entry.data) ? entry.data.slice() : [entry.data];
    entry.owned = true;
  }
  if (Array.isArray(item)) {
    for (const value of item) entry.data.push(value);
  } else {
    entry.data.push(item);
  }
}

// ---------------------------------------------------------------------------------------------
// Wildcards

function evaluateWildcard(input: any): any {
  let results: any = emptySequence();
  let context = input;
  if (Array.isArray(context) && (context as Flagged)[OUTER_WRAPPER] === true && context.length > 0) context = context[0];
  if (context !== null && typeof context === 'object' && !isFunction(context)) {
    for (const key of jsonataOwnKeys(context)) {
      let value = jsonataOwnValue(context, key);
      if (Array.isArray(value)) {
        value = flatten(value);
        results = append(results, value);
      } else {
        results.push(value);
      }
    }
  }
  return results;
}

function evaluateDescendants(input: any): any {
  if (input === undefined) return undefined;
  const resultSequence = emptySequence();
  recurseDescendants(input, resultSequence);
  return resultSequence.length === 1 ? resultSequence[0] : resultSequence;
}

function recurseDescendants(input: any, results: any[]): void {
  if (!Array.isArray(input)) results.push(input);
  if (Array.isArray(input)) {
    input.forEach((member) => recurseDescendants(member, results));
  } else if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of keysOf(input)) recurseDescendants(input[key], results);
  }
}

// ---------------------------------------------------------------------------------------------
// Function calls

/**
 * `lhs ~> $f(args…)`: the call with lhs's value as its first argument (jsonata's
 * evaluateApplyExpression calls evaluateFunction with `{ context: lhs }`). Only a call of a
 * supported built-in on the right: a function value there (`~> $uppercase`, a lambda, a chain of
 * functions) is outside the subset. jsonata evaluates that call node directly, skipping the
 * predicates, grouping and array flags `evaluate` would apply to it, so a right side carrying any
 * of them is refused rather than modelled.
 */
function compileApply(node: Node): Evaluator {
  const rhs = node.rhs;
  if (isNode(rhs) && rhs.type === 'variable' && typeof rhs.value === 'string' && compileState.userFunctions.has(rhs.value)) return compileApplyOntoFunction(node, rhs);
  if (!isNode(rhs) || rhs.type !== 'function') throw new Unsupported('~> onto something other than a call');
  for (const key of Object.keys(rhs)) {
    if (rhs[key] !== undefined && !['type', 'value', 'position', 'arguments', 'procedure'].includes(key)) {
      throw new Unsupported(`~> onto a call with ${key}`);
    }
  }
  return compileFunction(rhs, compileNode(node.lhs));
}

/**
 * How a call is made. `tail`: the call is a lambda body's tail call, which jsonata's parser turns
 * into a thunk that `apply` runs after the body returns: its result is not unwrapped, an error
 * takes the procedure's position, and a context argument (`-`) comes from the lambda's caller
 * (see compileTailCall).
 */
export interface CallMode {
  tail?: { procedurePosition: number | undefined };
}

/**
 * A call of a built-in, or of a function the expression defines (`$f := function…`); with
 * `context` (the left side of `~>`), that value comes first.
 */
export function compileFunction(node: Node, context?: Evaluator, mode: CallMode = {}): Evaluator {
  const procedure = node.procedure;
  if (!isNode(procedure) || procedure.type !== 'variable' || typeof procedure.value !== 'string') {
    throw new Unsupported('call of a computed function');
  }
  for (const key of Object.keys(procedure)) {
    if (procedure[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') {
      throw new Unsupported(`function reference with ${key}`);
    }
  }
  if (node.value !== '(') throw new Unsupported('partial application');
  const name = procedure.value;
  if (compileState.userFunctions.has(name)) return compileUserCall(node, name, context, mode);
  if (name === 'now' || name === 'millis') return compileClock(name, node, context);
  const builtin = BUILTINS.get(name);
  if (builtin === undefined) throw new Unsupported(`function $${name}`);
  const argNodes = asArray(node.arguments);
  const higherOrder = HIGHER_ORDER.get(name);
  const lambdaIndex = higherOrder === undefined ? -1 : higherOrder.lambdaIndex - (context === undefined ? 0 : 1);
  const args = argNodes.map((arg, index) => {
    // A regex literal is a function value to jsonata: only these built-ins take one here.
    if (isNode(arg) && arg.type === 'regex') return compileRegexArgument(arg, name);
    if (index === lambdaIndex) {
      // evaluateFunction hands a function argument to the built-in wrapped in a closure that
      // applies it without a context; a tail call's arguments go unwrapped (see compileLambda).
      const fixedContext = mode.tail === undefined ? 'null' : 'lambda-input';
      if (isNode(arg) && arg.type === 'variable' && typeof arg.value === 'string' && compileState.userFunctions.has(arg.value)) return compileFunctionReference(arg, fixedContext);
      if (!isNode(arg) || arg.type !== 'lambda' || arg.thunk === true) throw new Unsupported(`$${name} with a function that is not a lambda written in the call`);
      return compileLambda(arg, fixedContext);
    }
    return compileNode(arg);
  });
  if (context !== undefined) args.unshift(context);
  if (higherOrder !== undefined && (args.length < higherOrder.minArgs || args.length > higherOrder.maxArgs)) {
    throw new Unsupported(`$${name} with ${args.length} arguments`);
  }
  const maxArguments = MAX_ARGUMENTS.get(name);
  if (maxArguments !== undefined && args.length > maxArguments) throw new Unsupported(`$${name} with ${args.length} arguments`);
  const position = node.position;
  const { validate, implementation, exactArity, plainResult } = builtin;
  const tail = mode.tail;
  const cell = builtinCell(name);

  // jsonata's applyInner, then evaluateFunction: the position on the built-in's shared function
  // object (see builtinCell; normally this call's), else the call's; the name as token. A tail
  // call is applied by the trampoline instead: applyInner only, the name only where the error
  // has no token yet, and the error is marked as leaving a trampoline (see lambdas.ts, fromTailCall).
  const annotateCall =
    tail === undefined
      ? (err: unknown): void => {
          if (err !== null && typeof err === 'object') {
            const e = err as { position?: unknown; token?: unknown };
            e.position = cell.position || e.position;
            if (!e.position) e.position = position;
            if (!e.token) e.token = name;
            clearFromTailCall(err);
          }
        }
      : (err: unknown): void => {
          if (err !== null && typeof err === 'object') {
            const e = err as { position?: unknown; token?: unknown };
            if (e.token === undefined) e.token = name;
            e.position = cell.position || e.position;
            markFromTailCall(err);
          }
        };
  /** The general call: validate (and coerce) the evaluated arguments as jsonata does. */
  const callValidated = (evaluated: any[], input: any, env: Env): any => {
    if (tail === undefined) cell.position = position;
    try {
      // A tail call's context argument is the input of the lambda's `apply` (see Env.tailContext).
      return implementation.apply(env, validate(evaluated, tail === undefined ? input : env.tailContext));
    } catch (err) {
      annotateCall(err);
      throw err;
    }
  };

  // One argument per leading parameter (the rest optional), each of an accepted type: validation
  // would hand the arguments back unchanged (padded with undefined), so the implementation is
  // called directly (no signature string, no spread, no array).
  const direct =
    exactArity !== undefined && args.length >= exactArity.minArgs && args.length <= exactArity.masks.length && args.length <= 3
      ? exactArity.masks
      : undefined;
  let call: Evaluator;
  if (direct !== undefined && args.length === 1) {
    const [arg0] = args;
    const [mask0] = direct;
    call = (input, env) => {
      if (tail !== undefined) cell.position = tail.procedurePosition;
      if (env.bindings !== undefined && hasOwn.call(env.bindings, name)) {
        return callShadowed(env.bindings[name], name, args, input, env, position);
      }
      const a0 = arg0(input, env);
      if ((typeBit(a0) & mask0) === 0) return callValidated([a0], input, env);
      if (tail === undefined) cell.position = position;
      try {
        return implementation.call(env, a0);
      } catch (err) {
        annotateCall(err);
        throw err;
      }
    };
  } else if (direct !== undefined && args.length === 2) {
    const [arg0, arg1] = args;
    const [mask0, mask1] = direct;
    call = (input, env) => {
      if (tail !== undefined) cell.position = tail.procedurePosition;
      if (env.bindings !== undefined && hasOwn.call(env.bindings, name)) {
        return callShadowed(env.bindings[name], name, args, input, env, position);
      }
      const a0 = arg0(input, env);
      const a1 = arg1(input, env);
      if ((typeBit(a0) & mask0) === 0 || (typeBit(a1) & mask1) === 0) return callValidated([a0, a1], input, env);
      if (tail === undefined) cell.position = position;
      try {
        return implementation.call(env, a0, a1);
      } catch (err) {
        annotateCall(err);
        throw err;
      }
    };
  } else if (direct !== undefined && args.length === 3) {
    const [arg0, arg1, arg2] = args;
    const [mask0, mask1, mask2] = direct;
    call = (input, env) => {
      if (tail !== undefined) cell.position = tail.procedurePosition;
      if (env.bindings !== undefined && hasOwn.call(env.bindings, name)) {
        return callShadowed(env.bindings[name], name, args, input, env, position);
      }
      const a0 = arg0(input, env);
      const a1 = arg1(input, env);
      const a2 = arg2(input, env);
      if ((typeBit(a0) & mask0) === 0 || (typeBit(a1) & mask1) === 0 || (typeBit(a2) & mask2) === 0) {
        return callValidated([a0, a1, a2], input, env);
      }
      if (tail === undefined) cell.position = position;
      try {
        return implementation.call(env, a0, a1, a2);
      } catch (err) {
        annotateCall(err);
        throw err;
      }
    };
  } else {
    // `$map(array, lambda)` and the like (`<af…>`): an array (or nothing) and the lambda pass
    // validation unchanged; anything else (a single value to wrap in an array, an object for
    // `$reduce`'s `j`) is validated.
    const arrayAndLambda = higherOrder !== undefined && name !== 'sift' && name !== 'each';
    call = (input, env) => {
      if (tail !== undefined) cell.position = tail.procedurePosition;
      if (env.bindings !== undefined && hasOwn.call(env.bindings, name)) {
        return callShadowed(env.bindings[name], name, args, input, env, position);
      }
      const evaluated = new Array(args.length);
      for (let i = 0; i < args.length; i++) evaluated[i] = args[i](input, env);
      const a0 = evaluated[0];
      if (arrayAndLambda && (a0 === undefined || Array.isArray(a0)) && (args.length === 1 || (args.length === 2 && isFastLambda(evaluated[1])))) {
        if (tail === undefined) cell.position = position;
        try {
          return implementation.call(env, a0, evaluated[1]);
        } catch (err) {
          annotateCall(err);
          throw err;
        }
      }
      return callValidated(evaluated, input, env);
    };
  }
  if (tail !== undefined) {
    // The trampoline evaluates a tail call's arguments too: an error there leaves it as well.
    const inner = call;
    call = (input, env) => {
      try {
        return inner(input, env);
      } catch (err) {
        markFromTailCall(err);
        throw err;
      }
    };
  }
  // A tail call's result is what the lambda returns, as it is (apply does not unwrap it).
  return plainResult || tail !== undefined ? normalized(call) : call;
}

/**
 * jsonata's built-in function objects are shared by every call (and every expression): each
 * call sets the object's `position` (evaluateFunction to the call's, just before applying it; a
 * tail call's trampoline to the procedure's, before evaluating the arguments), and applyInner
 * annotates errors from it as it is at that moment. One cell per built-in name stands for it.
 */
const builtinCells = new Map<string, { position: number | undefined }>();

function builtinCell(name: string): { position: number | undefined } {
  let cell = builtinCells.get(name);
  if (cell === undefined) builtinCells.set(name, (cell = { position: undefined }));
  return cell;
}

/**
 * `$now()` and `$millis()`, without arguments (a picture or time zone for `$now` is refused): the
 * same instant for every call within one evaluation, as jsonata's evaluation time stamp.
 */
function compileClock(name: 'now' | 'millis', node: Node, context: Evaluator | undefined): Evaluator {
  if (context !== undefined || asArray(node.arguments).length > 0) throw new Unsupported(`$${name} with arguments`);
  const position = node.position;
  return normalized((input, env) => {
    if (env.bindings !== undefined && hasOwn.call(env.bindings, name)) return callShadowed(env.bindings[name], name, [], input, env, position);
    const millis = (env.timestamp ??= Date.now());
    return name === 'millis' ? millis : new Date(millis).toISOString();
  });
}

/** A regex literal as an argument of `$replace`, `$contains`, `$split` or `$match`: a fresh matcher per evaluation. */
function compileRegexArgument(node: Node, name: string): Evaluator {
  if (!REGEX_BUILTINS.has(name)) throw new Unsupported(`$${name} with a regular expression`);
  for (const key of Object.keys(node)) {
    if (node[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') throw new Unsupported(`regex with ${key}`);
  }
  const regex = node.value;
  if (!(regex instanceof RegExp)) throw new Unsupported('malformed regex');
  const position = node.position;
  return () => regexMatcher(regex, position);
}

/** A binding that replaces a built-in: data values are not callable (T1006), as in jsonata. */
function callShadowed(proc: unknown, name: string, args: Evaluator[], input: any, env: Env, position: number | undefined): never {
  if (isFunction(proc)) throw new FastPathBindingError(name);
  for (const arg of args) arg(input, env);
  throw new JsonataError('T1006', { position, token: name });
}

/** Marks the symbols as used for readers of this module: sequences are `SEQUENCE`-flagged arrays. */
export const FLAGS = { SEQUENCE, KEEP_SINGLETON, OUTER_WRAPPER, CONS } as const;
