/**
 * One JSONata expression, compiled once and evaluated per event under guardrails (SPEC §2.3):
 * a stack (evaluation depth) limit, a time limit and a sequence-length limit. A failure or a
 * broken limit is a `MappingError` for that one evaluation, never a hang or a crash.
 */
import type jsonataTypes from 'jsonata';
import { jsonata } from './jsonata-module.js';
import { compileToJsPlain, populateMessage } from './fast/index.js';
import { MappingError } from './errors.js';
import { setOwn } from './json.js';
import { nestedRepetition } from './regex-safety.js';

/** Limits on one evaluation of one expression. */
export interface Guardrails {
  /** Deepest nesting of JSONata evaluation (its stack; recursion counts). jsonata code D1011. */
  maxDepth: number;
  /** Wall-clock budget of one evaluation in milliseconds. jsonata code D1012. */
  timeoutMs: number;
  /** Longest sequence or array an evaluation may build or return. jsonata codes D2014/D2015. */
  maxSequenceLength: number;
}

/**
 * Defaults: generous for mappings (a typical one nests < 20 deep and runs in microseconds),
 * tight enough that runaway recursion or `[1..1e8]` fails in well under a second.
 */
export const DEFAULT_GUARDRAILS: Readonly<Guardrails> = Object.freeze({
  maxDepth: 200,
  timeoutMs: 100,
  maxSequenceLength: 100_000,
});

/** Deepest nesting of a result value; deeper values could not be serialized to JSON safely. */
export const MAX_RESULT_NESTING = 1000;

/** A compiled expression. `evaluate` returns plain JSON values (or undefined for no result). */
export interface CompiledExpression {
  readonly source: string;
  /** True when the fast path compiled it: `evaluate` then returns a value, never a Promise. */
  readonly sync: boolean;
  /** Evaluate on one input; throws (or rejects with) a `MappingError`. */
  evaluate(input: unknown): unknown | Promise<unknown>;
  /**
   * Present when `sync`: `evaluate` without wrapping what it throws. The thrown value is the raw
   * error (jsonata-shaped, with its message not yet filled in, or a MappingError for a result that
   * is not JSON); `mappingErrorMessage(err)` gives the message `evaluate`'s MappingError would
   * have. For hot loops that turn a failure into a drop and never need the error object.
   */
  readonly run?: (input: unknown) => unknown;
}

/** How to compile (not limits): additive knobs, all optional. */
export interface CompileExpressionOptions {
  /**
   * `false` skips the fast path and always uses the jsonata evaluator (asynchronous). For
   * benchmarks and for cross-checking the fast path; default true.
   */
  fastPath?: boolean;
}

/** Defaults completed with the given overrides. */
export function resolveGuardrails(overrides: Partial<Guardrails> = {}): Guardrails {
  return {
    maxDepth: overrides.maxDepth ?? DEFAULT_GUARDRAILS.maxDepth,
    timeoutMs: overrides.timeoutMs ?? DEFAULT_GUARDRAILS.timeoutMs,
    maxSequenceLength: overrides.maxSequenceLength ?? DEFAULT_GUARDRAILS.maxSequenceLength,
  };
}

/**
 * Compile `source` once. It first tries the fast path (`compileToJs` on the AST: synchronous
 * JavaScript, `sync: true`) and falls back to the jsonata evaluator (asynchronous). The jsonata
 * evaluator enforces the guardrails through its own `stack`/`timeout`/`sequence` options, which
 * check depth and elapsed time on every node it enters (the same checks the conformance suite's
 * timebox does with `__evaluate_entry` hooks, without an extra await per node).
 *
 * Throws a `MappingError` when the expression does not parse, uses `$eval` (rejected by
 * SPEC §2.3: it would evaluate text taken from events), or has a regular expression with nested
 * repetition (a running RegExp cannot be interrupted by the time limit; see regex-safety.ts).
 */
export function compileExpression(
  source: string,
  guardrails: Partial<Guardrails> = {},
  options: CompileExpressionOptions = {},
): CompiledExpression {
  const limits = resolveGuardrails(guardrails);
  let expr: jsonataTypes.Expression;
  try {
    expr = jsonata(source, {
      stack: limits.maxDepth,
      timeout: limits.timeoutMs,
      sequence: limits.maxSequenceLength,
    });
  } catch (err) {
    throw toMappingError(err);
  }
  const ast = expr.ast();
  rejectUnsafe(ast);

  let run: ((input: unknown) => unknown) | undefined;
  try {
    // Strings, booleans and no result come back as they are; anything else through toPlainJson.
    run = options.fastPath === false ? undefined : compileToJsPlain(ast, toPlainJsonTop, limits.maxSequenceLength, { timeoutMs: limits.timeoutMs });
  } catch {
    // A fast-path compiler gap must never block a valid expression: jsonata still runs it.
    run = undefined;
  }

  if (run !== undefined) {
    return {
      source,
      sync: true,
      run,
      evaluate(input: unknown): unknown {
        try {
          return run!(input);
        } catch (err) {
          throw toMappingError(err);
        }
      },
    };
  }

  return {
    source,
    sync: false,
    async evaluate(input: unknown): Promise<unknown> {
      let result: unknown;
      try {
        result = await expr.evaluate(input);
      } catch (err) {
        throw toMappingError(err);
      }
      return toPlainJson(result, limits.maxSequenceLength, 0);
    },
  };
}

/** jsonata's error objects (`{code, message, position, token}`), thrown as plain objects. */
interface JsonataErrorLike {
  code?: unknown;
  message?: unknown;
  position?: unknown;
}

/**
 * Wrap anything an evaluation threw into a `MappingError`: jsonata's code and message (plus the
 * character position when known), or the message of a JavaScript error (e.g. a stack overflow
 * inside a built-in function on deeply nested data).
 */
export function toMappingError(err: unknown): MappingError {
  if (err instanceof MappingError) return err;
  populateMessage(err); // a fast-path error's message is filled in on demand
  if (typeof err === 'object' && err !== null) {
    const e = err as JsonataErrorLike;
    return new MappingError(mappingErrorMessage(err), {
      jsonataCode: typeof e.code === 'string' ? e.code : undefined,
      position: typeof e.position === 'number' ? e.position : undefined,
      cause: err,
    });
  }
  return new MappingError(mappingErrorMessage(err), { cause: err });
}

/**
 * `toMappingError(err).message` without building the error: jsonata's code, message and
 * position as `CODE: message (at character N)`.
 */
export function mappingErrorMessage(err: unknown): string {
  if (err instanceof MappingError) return err.message;
  populateMessage(err);
  if (typeof err === 'object' && err !== null) {
    const e = err as JsonataErrorLike;
    const code = typeof e.code === 'string' ? e.code : undefined;
    const position = typeof e.position === 'number' ? e.position : undefined;
    const text = typeof e.message === 'string' && e.message.length > 0 ? e.message : 'evaluation failed';
    const where = position === undefined ? '' : ` (at character ${position})`;
    return code === undefined ? text + where : `${code}: ${text}${where}`;
  }
  return `evaluation failed: ${String(err)}`;
}

/**
 * Refuse, anywhere in the AST, `$eval` (called, passed, or bound to another name) and regular
 * expressions that can backtrack exponentially.
 */
function rejectUnsafe(ast: unknown): void {
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null || node instanceof RegExp) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    const n = node as { type?: unknown; value?: unknown; position?: unknown };
    const position = typeof n.position === 'number' ? n.position : undefined;
    if (n.type === 'variable' && n.value === 'eval') {
      throw new MappingError('$eval is not allowed in mappings (it would evaluate text taken from events)', {
        jsonataCode: 'ES_EVAL',
        position,
      });
    }
    if (n.type === 'regex' && n.value instanceof RegExp) {
      const why = nestedRepetition(n.value.source);
      if (why !== undefined) {
        throw new MappingError(`regular expression /${n.value.source}/ is not allowed: ${why}`, {
          jsonataCode: 'ES_REGEX',
          position,
        });
      }
    }
    for (const key in n) {
      if (Object.hasOwn(n, key)) stack.push((n as Record<string, unknown>)[key]);
    }
  }
}

/**
 * A result as plain JSON: arrays copied without jsonata's `sequence`/`keepSingleton` flags,
 * objects copied with own keys only (`__proto__` kept as data), undefined members of objects left
 * out and of arrays made null (as JSON.stringify does). Functions, oversized arrays and results
 * nested deeper than MAX_RESULT_NESTING are errors.
 */
function toPlainJsonTop(value: unknown, maxLength: number): unknown {
  return toPlainJson(value, maxLength, 0);
}

function toPlainJson(value: unknown, maxLength: number, depth: number): unknown {
  switch (typeof value) {
    case 'undefined':
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new MappingError(`the expression gave ${value}, which JSON cannot hold`);
      return value;
    case 'function':
      throw new MappingError('the expression gave a function, not a value');
    case 'object':
      break;
    default:
      throw new MappingError(`the expression gave a ${typeof value}, not a JSON value`);
  }
  if (value === null) return null;
  if (depth >= MAX_RESULT_NESTING) {
    throw new MappingError(`the result is nested more than ${MAX_RESULT_NESTING} levels deep`);
  }
  if (Array.isArray(value)) {
    if (value.length > maxLength) {
      throw new MappingError(`the result has ${value.length} items; the limit is ${maxLength}`);
    }
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = toPlainJson(value[i], maxLength, depth + 1);
      out[i] = item === undefined ? null : item;
    }
    return out;
  }
  const obj = value as Record<string, unknown>;
  if (obj._jsonata_function === true || obj._jsonata_lambda === true) {
    throw new MappingError('the expression gave a function, not a value');
  }
  const out: Record<string, unknown> = {};
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const item = toPlainJson(obj[key], maxLength, depth + 1);
    if (item !== undefined) setOwn(out, key, item);
  }
  return out;
}
