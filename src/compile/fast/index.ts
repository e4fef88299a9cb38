/**
 * Fast path: JSONata AST → synchronous JavaScript closure for a proven-equal subset of
 * JSONata 2.x (paths, literals, operators, conditionals, constructors, filters, blocks with `:=`,
 * `~>` onto a built-in call, sort steps, lambdas given to higher-order built-ins, functions the
 * expression defines and calls (lambdas.ts), and a set of string/number/boolean/time-stamp
 * built-ins, regular expressions included where they take one). Returns undefined for anything outside the subset,
 * and the caller falls back to the jsonata evaluator (which has guardrails).
 *
 * Results equal jsonata's: sequences come back as arrays, "no result" as `undefined`, objects
 * built by the expression have a null prototype (as jsonata's do). Errors are
 * {@link JsonataError}s carrying jsonata's `code`, `message`, `position` and `token`.
 */
import { callsLambdas, checkBinds, type Env, FastPathBindingError, newFrame, readsClock } from './compile.js';
import { compileExpressionTree } from './lambdas.js';
import { isSequence, JsonataError, OUTER_WRAPPER, populateMessage, sequenceOf, type Flagged } from './semantics.js';

export { JsonataError, FastPathBindingError, populateMessage };

/** A compiled expression: evaluate against an input document with optional `$name` bindings. */
export type CompiledJs = (input: unknown, bindings?: Record<string, unknown>) => unknown;

/** The compiled root and what each evaluation must reset; undefined = not in the subset (or not proven). */
function prepare(ast: unknown): { root: ReturnType<typeof compileExpressionTree>; binds: boolean; clock: boolean; lambdas: boolean } | undefined {
  try {
    const binds = checkBinds(ast);
    const lambdas = callsLambdas(ast);
    return { root: compileExpressionTree(ast, lambdas), binds, clock: readsClock(ast), lambdas };
  } catch {
    // Unsupported, or anything unexpected while compiling: let jsonata evaluate it.
    return undefined;
  }
}

/** One env per compiled expression, refilled per call: evaluation is synchronous and calls no user code, so calls never overlap. */
function newEnv(): Env {
  return { root: undefined, bindings: undefined, timestamp: undefined, timeLimit: undefined, tailContext: undefined };
}

/**
 * Time limit per evaluation, in ms, for expressions that call lambdas (jsonata's `timeout`
 * guardrail, error D1012): nested `$map`/`$filter` calls can loop over an event's arrays
 * millions of times. 0 or undefined: none. The rest of the subset runs in time linear in its
 * input and needs none.
 */
export interface FastPathLimits {
  timeoutMs?: number;
}

/** Starts the evaluation's time limit, when the expression has lambdas and a limit is set. */
function startTimeLimit(env: Env, lambdas: boolean, limits: FastPathLimits): void {
  if (!lambdas || limits.timeoutMs === undefined || limits.timeoutMs <= 0) return;
  const limit = (env.timeLimit ??= { startedAt: 0, limitMs: limits.timeoutMs, calls: 0 });
  limit.startedAt = Date.now();
  limit.calls = 0;
}

/**
 * Compile a parsed JSONata AST (`jsonata(src).ast()`); undefined = not in the subset, use the
 * jsonata evaluator. The AST is only read, never modified.
 */
export function compileToJs(ast: unknown, limits: FastPathLimits = {}): CompiledJs | undefined {
  const compiled = prepare(ast);
  if (compiled === undefined) return undefined;
  const { root, binds, clock, lambdas } = compiled;
  const env = newEnv();
  return (input, bindings) => {
    env.root = input;
    if (clock) env.timestamp = undefined;
    startTimeLimit(env, lambdas, limits);
    // A `:=` binds into the evaluation's frame (jsonata's exec_env), never into the caller's object.
    env.bindings = binds ? newFrame(bindings) : bindings;
    let context: unknown = input;
    if (Array.isArray(input) && !isSequence(input)) {
      // jsonata wraps an array input so that it is treated as one value.
      const wrapper: Flagged = sequenceOf(input);
      wrapper[OUTER_WRAPPER] = true;
      context = wrapper;
    }
    try {
      return root(context, env);
    } catch (err) {
      populateMessage(err);
      throw err;
    }
  };
}

/**
 * {@link compileToJs} for hot loops that pass one input and no bindings: one closure per call
 * instead of two. Results that are strings, booleans or undefined are returned as they are;
 * anything else goes through `toPlain(result, maxLength)`. Errors are thrown as they are raised:
 * a {@link JsonataError}'s `message` is filled in only by `populateMessage(err)`, which the caller
 * must apply before reading it (compileToJs does it on the way out).
 */
export function compileToJsPlain(
  ast: unknown,
  toPlain: (value: unknown, maxLength: number) => unknown,
  maxLength: number,
  limits: FastPathLimits = {},
): ((input: unknown) => unknown) | undefined {
  const compiled = prepare(ast);
  if (compiled === undefined) return undefined;
  const { root, binds, clock, lambdas } = compiled;
  const env = newEnv();
  return (input) => {
    env.root = input;
    if (clock) env.timestamp = undefined;
    startTimeLimit(env, lambdas, limits);
    if (binds) env.bindings = newFrame(undefined);
    let result: unknown;
    if (Array.isArray(input) && !isSequence(input)) {
      const wrapper: Flagged = sequenceOf(input);
      wrapper[OUTER_WRAPPER] = true;
      result = root(wrapper, env);
    } else {
      result = root(input, env);
    }
    if (typeof result === 'string' || typeof result === 'boolean' || result === undefined) return result;
    return toPlain(result, maxLength);
  };
}
