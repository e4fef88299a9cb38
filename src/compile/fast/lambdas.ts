/**
 * Functions on the fast path: lambdas given to higher-order built-ins, functions an expression
 * defines with `:=` and calls, and the tail calls in their bodies, with jsonata's semantics for
 * each (see docs/performance.md, "Session 13"). Part of the compiler in compile.ts, which calls
 * in here for lambda nodes, calls of defined functions and tail calls.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import {
  asArray,
  callsLambdas,
  type CallMode,
  checkKeys,
  compileFunction,
  compileNode,
  type Env,
  type Evaluator,
  FastPathBindingError,
  hasOwn,
  isNode,
  newFrame,
  type Node,
  someNode,
  Unsupported,
} from './compile.js';
import { type FastLambda, HIGHER_ORDER, JSONATA_ENVIRONMENT_NAMES } from './functions.js';
import { JsonataError } from './semantics.js';

/** Lambda calls between two looks at the clock (nested ones can make millions per evaluation). */
const CALLS_PER_TIME_CHECK = 64;

/**
 * What the compiler keeps while it compiles one expression (set by compileExpressionTree).
 * - `userFunctions`: the names the expression binds to a lambda (`$f := function($x) { … }`),
 *   found by checkUserFunctions; a call `$f(…)` of one of them is a call of that lambda.
 * - `inLambdaBody`: a lambda body is being compiled (where the parser's thunks may appear).
 * - `exactNormalization`: the expression calls lambdas, so every node unwraps its result, as
 *   each of jsonata's `evaluate` calls does. A tail call's result is not unwrapped, and a
 *   higher-order built-in collects lambda results as they come, so a sequence may hold a
 *   one-item sequence, which one unwrapping per level of the tree takes apart level by level
 *   (compile.ts's NORMALIZED shortcut assumes a second unwrapping changes nothing).
 */
export const compileState: { userFunctions: ReadonlySet<string>; inLambdaBody: boolean; exactNormalization: boolean } = {
  userFunctions: new Set(),
  inLambdaBody: false,
  exactNormalization: false,
};

/**
 * Errors on their way out of a trampoline: raised by a tail call (or in a function it called).
 * jsonata's `apply` runs tail calls after the caller's applyInner returned, so the calls they
 * leave skip the applyInner annotation of the call that started the chain and get only
 * evaluateFunction's (a position and token only where there is none yet). A call of a built-in
 * runs everything it calls inside its own applyInner, so it annotates such errors fully.
 */
const fromTailCall = new WeakSet<object>();

export function markFromTailCall(err: unknown): void {
  if (err !== null && typeof err === 'object') fromTailCall.add(err);
}

/** The error has met an annotation that ends its way out of a trampoline (see fromTailCall). */
export function clearFromTailCall(err: unknown): void {
  if (err !== null && typeof err === 'object') fromTailCall.delete(err);
}

/**
 * A lambda literal (jsonata's evaluateLambda and applyProcedure): each evaluation makes a
 * {@link FastLambda} holding the input and the variables of the moment; each call binds the
 * parameters (all of them, a missing argument as undefined) in a frame of their own over those
 * variables and evaluates the body there, in that input. A lambda with a signature is refused.
 *
 * `fixedContext` is for a lambda written as a higher-order built-in's argument, which the built-in
 * calls: what its tail calls get as context argument (see Env.tailContext). A lambda bound to a
 * variable is called as `$f(…)`, which passes the call site's input.
 */
export function compileLambda(node: Node, fixedContext?: 'null' | 'lambda-input'): Evaluator {
  for (const key of Object.keys(node)) {
    if (node[key] === undefined) continue;
    if (key !== 'type' && key !== 'arguments' && key !== 'body' && key !== 'position') throw new Unsupported(`lambda with ${key}`);
  }
  const params = asArray(node.arguments).map((param) => {
    if (!isNode(param) || param.type !== 'variable' || typeof param.value !== 'string') throw new Unsupported('malformed lambda parameter');
    for (const key of Object.keys(param)) {
      if (param[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') throw new Unsupported(`lambda parameter with ${key}`);
    }
    if (param.value === '' || param.value === '$') throw new Unsupported('lambda parameter $ or $$');
    return param.value as string;
  });
  checkTailChain(node.body);
  const outer = compileState.inLambdaBody;
  compileState.inLambdaBody = true;
  let body: Evaluator;
  try {
    body = compileNode(node.body);
  } finally {
    compileState.inLambdaBody = outer;
  }
  const arity = params.length;
  return (input, env) => {
    const captured = env.bindings;
    const defaultContext = fixedContext === 'lambda-input' ? input : null;
    const lambda: FastLambda = {
      _jsonata_lambda: true,
      arity,
      input,
      unwrapped: fixedContext === 'lambda-input',
      invoke(args, context = defaultContext) {
        const limit = env.timeLimit;
        if (limit !== undefined && ++limit.calls % CALLS_PER_TIME_CHECK === 0 && Date.now() - limit.startedAt > limit.limitMs) {
          throw new JsonataError('D1012', { value: limit.limitMs });
        }
        const caller = env.bindings;
        const callerContext = env.tailContext;
        const frame = newFrame(captured);
        for (let i = 0; i < arity; i++) frame[params[i]!] = args[i];
        env.bindings = frame;
        env.tailContext = context;
        try {
          const result = body(input, env);
          // A tail call's result came up through the body's conditions and blocks boxed, as
          // jsonata's thunk does, so that none of them unwrapped it (see TailCallResult).
          return result instanceof TailCallResult ? result.value : result;
        } catch (err) {
          // applyInner around the body: the procedure's own token and position, which the last
          // call by name left on it (every way of applying a lambda goes through it). Not for
          // what a tail call raised: the trampoline ran that after applyInner returned.
          if (err !== null && typeof err === 'object' && !fromTailCall.has(err)) {
            const e = err as { position?: unknown; token?: unknown };
            if (e.token === undefined && lambda.token !== undefined) e.token = lambda.token;
            e.position = lambda.position || e.position;
          }
          throw err;
        } finally {
          env.bindings = caller;
          env.tailContext = callerContext;
        }
      },
    };
    return lambda;
  };
}

/**
 * `$f` as the function argument of a higher-order built-in, where `$f` is a function the
 * expression defines: the lambda, applied as that argument is (see compileLambda's
 * `fixedContext`); undefined while `$f` is not bound yet, as jsonata passes it.
 */
export function compileFunctionReference(node: Node, fixedContext: 'null' | 'lambda-input'): Evaluator {
  for (const key of Object.keys(node)) {
    if (node[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') throw new Unsupported(`function reference with ${key}`);
  }
  const name = node.value as string;
  return (_input, env) => {
    const proc = env.bindings !== undefined && hasOwn.call(env.bindings, name) ? env.bindings[name] : undefined;
    if (proc === undefined) return undefined;
    if (!isFastLambda(proc)) throw new FastPathBindingError(name);
    const context = fixedContext === 'null' ? null : proc.input;
    const applied: FastLambda = {
      _jsonata_lambda: true,
      arity: proc.arity,
      input: proc.input,
      unwrapped: fixedContext === 'lambda-input',
      invoke: (args) => proc.invoke(args, context),
    };
    return applied;
  };
}

/** A value made by {@link compileLambda}. */
export function isFastLambda(value: unknown): value is FastLambda {
  return value !== null && typeof value === 'object' && (value as { _jsonata_lambda?: unknown })._jsonata_lambda === true && typeof (value as FastLambda).invoke === 'function';
}

/**
 * `$f(…)` of a lambda the expression bound to `$f` (jsonata's evaluateFunction, then apply and
 * applyProcedure). Arguments are evaluated after the variable is read, as jsonata does; a value
 * that is not a function is T1006. In a tail position (the parser's thunk, run by apply's
 * trampoline) the callee keeps the caller's tail context and an error takes the procedure's
 * position; otherwise the call site's input and position. A function value of the caller's
 * bindings is not modelled (FastPathBindingError).
 */
export function compileUserCall(node: Node, name: string, context: Evaluator | undefined, mode: CallMode): Evaluator {
  const args = asArray(node.arguments).map((arg) => compileNode(arg));
  if (context !== undefined) args.unshift(context);
  const position = node.position;
  const tail = mode.tail;
  return (input, env) => {
    const proc = env.bindings !== undefined && hasOwn.call(env.bindings, name) ? env.bindings[name] : undefined;
    if (tail !== undefined) {
      // The trampoline labels the procedure before it evaluates the arguments; a missing one is
      // a TypeError there (jsonata sets a property on it).
      if (proc === undefined) {
        const err = new TypeError("Cannot set properties of undefined (setting 'token')");
        markFromTailCall(err);
        throw err;
      }
      if (isFastLambda(proc)) {
        proc.position = tail.procedurePosition;
        proc.token = name;
      }
    }
    const evaluated = new Array(args.length);
    try {
      for (let i = 0; i < args.length; i++) evaluated[i] = args[i]!(input, env);
    } catch (err) {
      // The trampoline evaluates a tail call's arguments: an error there leaves it unannotated.
      if (tail !== undefined) markFromTailCall(err);
      throw err;
    }
    if (!isFastLambda(proc)) {
      // Not bound yet (a later `:=`): evaluateFunction's T1006. Other values come from the
      // caller's bindings, which are not modelled.
      if (proc !== undefined) throw new FastPathBindingError(name);
      throw new JsonataError('T1006', { position, token: name });
    }
    if (tail === undefined) {
      // evaluateFunction labels the procedure just before applying it.
      proc.position = position;
      proc.token = name;
    }
    try {
      // Unwrapped by compileNode like any call's (exactNormalization is on wherever a function
      // is defined); a tail call's is what the lambda returns, as it is.
      return proc.invoke(evaluated, tail === undefined ? input : env.tailContext);
    } catch (err) {
      // The callee's applyInner has annotated what its body raised (see compileLambda).
      if (err !== null && typeof err === 'object') {
        if (tail === undefined) {
          // evaluateFunction's annotation.
          const e = err as { position?: unknown; token?: unknown };
          if (!e.position) e.position = position;
          if (!e.token) e.token = name;
          fromTailCall.delete(err);
        } else {
          fromTailCall.add(err);
        }
      }
      throw err;
    }
  };
}


/**
 * Checks how an expression uses function values before it is compiled, and answers the names it
 * binds to lambdas. The fast path models lambdas that cannot escape or recurse, so that results,
 * errors and guardrails stay jsonata's:
 * - a lambda is written as a higher-order built-in's function argument (compileFunction), or as
 *   `$f := function…` that is not the last expression of its block (its value would be the
 *   block's result);
 * - `$f` is only called (`$f(…)`, `x ~> $f(…)`, `x ~> $f`) or given as a higher-order built-in's
 *   function (`$map(items, $f)`), never otherwise read as a value or passed on;
 * - a name bound to a lambda is bound to nothing else, is not a built-in's name, and no chain of
 *   calls between such names comes back to where it started (recursion: jsonata's depth limit
 *   counts evaluation steps, which is not modelled).
 */
export function checkUserFunctions(ast: unknown): ReadonlySet<string> {
  const lambdaBound = new Map<string, Node[]>();
  const otherBound = new Set<string>();
  someNode(ast, (n) => {
    if (n.type === 'bind' && isNode(n.lhs) && typeof n.lhs.value === 'string') {
      if (isNode(n.rhs) && n.rhs.type === 'lambda') {
        const list = lambdaBound.get(n.lhs.value) ?? [];
        list.push(n.rhs);
        lambdaBound.set(n.lhs.value, list);
      } else otherBound.add(n.lhs.value);
    }
    return false;
  });
  if (lambdaBound.size === 0) return new Set();
  for (const name of lambdaBound.keys()) {
    if (otherBound.has(name)) throw new Unsupported(`$${name} bound to a function and to a value`);
    if (JSONATA_ENVIRONMENT_NAMES.has(name) || name === '' || name === '$') throw new Unsupported(`$${name} bound to a function`);
  }
  checkFunctionUses(ast, lambdaBound, false);
  // Calls between bound names: no cycles.
  const calls = new Map<string, Set<string>>();
  for (const [name, lambdas] of lambdaBound) {
    const called = new Set<string>();
    for (const lambda of lambdas) {
      someNode(lambda.body, (n) => {
        if (n.type === 'variable' && typeof n.value === 'string' && lambdaBound.has(n.value)) called.add(n.value);
        return false;
      });
    }
    calls.set(name, called);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Unsupported(`$${name} may call itself`);
    state.set(name, 'visiting');
    for (const next of calls.get(name) ?? []) visit(next);
    state.set(name, 'done');
  };
  for (const name of lambdaBound.keys()) visit(name);
  return new Set(lambdaBound.keys());
}

/** The position rules of {@link checkUserFunctions}: where a bound name and a lambda bind may appear. */
function checkFunctionUses(node: unknown, lambdaBound: ReadonlyMap<string, Node[]>, resultUsed: boolean): void {
  if (Array.isArray(node)) {
    for (const item of node) checkFunctionUses(item, lambdaBound, true);
    return;
  }
  if (!isNode(node)) return;
  if (node.type === 'variable' && typeof node.value === 'string' && lambdaBound.has(node.value)) {
    throw new Unsupported(`function $${node.value} read as a value`);
  }
  if (node.type === 'bind' && isNode(node.rhs) && node.rhs.type === 'lambda') {
    if (resultUsed) throw new Unsupported('a bound function as a result');
    checkFunctionUses(node.rhs.body, lambdaBound, true);
    return;
  }
  if (node.type === 'apply' && isNode(node.rhs) && node.rhs.type === 'variable' && lambdaBound.has(node.rhs.value)) {
    // `x ~> $f`: applies `$f`.
    checkFunctionUses(node.lhs, lambdaBound, true);
    return;
  }
  if (node.type === 'apply' && isNode(node.rhs) && node.rhs.type === 'function') {
    // `x ~> $f(…)`: the left side is the call's first argument.
    checkFunctionUses(node.lhs, lambdaBound, true);
    checkCallUses(node.rhs, lambdaBound, 1);
    for (const key of Object.keys(node)) if (key !== 'lhs' && key !== 'rhs') checkFunctionUses(node[key], lambdaBound, true);
    return;
  }
  if (node.type === 'function' && isNode(node.procedure) && node.procedure.type === 'variable') {
    checkCallUses(node, lambdaBound, 0);
    return;
  }
  if (node.type === 'block' && Array.isArray(node.expressions)) {
    const last = node.expressions.length - 1;
    node.expressions.forEach((expression: unknown, index: number) => checkFunctionUses(expression, lambdaBound, index === last));
    for (const key of Object.keys(node)) if (key !== 'expressions') checkFunctionUses(node[key], lambdaBound, true);
    return;
  }
  for (const key of Object.keys(node)) {
    const value = node[key];
    if (value !== null && typeof value === 'object') checkFunctionUses(value, lambdaBound, true);
  }
}

/**
 * A call, for {@link checkFunctionUses}: the call target and a higher-order built-in's function
 * argument are the places a bound name may appear. `shift` is 1 for the right side of `~>`.
 */
function checkCallUses(node: Node, lambdaBound: ReadonlyMap<string, Node[]>, shift: number): void {
  const name = isNode(node.procedure) ? node.procedure.value : undefined;
  const higherOrder = typeof name === 'string' && !lambdaBound.has(name) ? HIGHER_ORDER.get(name) : undefined;
  const functionIndex = higherOrder === undefined ? -1 : higherOrder.lambdaIndex - shift;
  const args: unknown[] = Array.isArray(node.arguments) ? node.arguments : [];
  args.forEach((arg, index) => {
    const reference = index === functionIndex && isNode(arg) && arg.type === 'variable' && typeof arg.value === 'string' && lambdaBound.has(arg.value);
    if (!reference) checkFunctionUses(arg, lambdaBound, true);
  });
  for (const key of Object.keys(node)) {
    if (key !== 'procedure' && key !== 'arguments') checkFunctionUses(node[key], lambdaBound, true);
  }
}

/**
 * Compiles a whole expression: {@link checkUserFunctions} first, then {@link compileNode} with
 * the names it found. `lambdas`: whether the expression has any (callsLambdas), when the caller
 * already knows.
 */
export function compileExpressionTree(ast: unknown, lambdas = callsLambdas(ast)): Evaluator {
  const names = checkUserFunctions(ast);
  const outer = { ...compileState };
  compileState.userFunctions = names;
  compileState.exactNormalization = lambdas;
  try {
    return compileNode(ast);
  } finally {
    Object.assign(compileState, outer);
  }
}

/**
 * The nodes between a lambda body and its tail calls (jsonata's tailCallOptimize goes through
 * conditions and the last expression of blocks): a thunk passes through their evaluation as a
 * value, so one with a predicate, grouping or keepArray on the way would filter or wrap the
 * thunk itself. Not modelled: refused.
 */
function checkTailChain(node: unknown): void {
  if (!isNode(node)) return;
  const decorated = node.predicate !== undefined || node.group !== undefined || node.keepArray === true || node.stages !== undefined;
  if (node.type === 'condition') {
    if (decorated && hasTailThunk(node)) throw new Unsupported('tail call under a decorated condition');
    checkTailChain(node.then);
    checkTailChain(node.else);
  } else if (node.type === 'block' && Array.isArray(node.expressions) && node.expressions.length > 0) {
    if (decorated && hasTailThunk(node)) throw new Unsupported('tail call under a decorated block');
    checkTailChain(node.expressions[node.expressions.length - 1]);
  }
}

function isThunk(node: unknown): boolean {
  return isNode(node) && node.type === 'lambda' && node.thunk === true;
}

/** True when a thunk sits at a tail position under `node` (through conditions and blocks). */
function hasTailThunk(node: unknown): boolean {
  if (!isNode(node)) return false;
  if (isThunk(node)) return true;
  if (node.type === 'condition') return hasTailThunk(node.then) || hasTailThunk(node.else);
  if (node.type === 'block' && Array.isArray(node.expressions) && node.expressions.length > 0) return hasTailThunk(node.expressions[node.expressions.length - 1]);
  return false;
}

/**
 * A tail call in a lambda body: jsonata's parser wraps it in a thunk lambda, which the body
 * returns and `apply` then runs (its trampoline). Only a call of a supported built-in, in a
 * lambda body this compiler accepted, is compiled; see CallMode for what differs from a call.
 */
export function compileTailCall(node: Node): Evaluator {
  if (!compileState.inLambdaBody) throw new Unsupported('a thunk outside a lambda body');
  for (const key of Object.keys(node)) {
    if (node[key] === undefined) continue;
    if (key !== 'type' && key !== 'thunk' && key !== 'arguments' && key !== 'body' && key !== 'position') throw new Unsupported(`thunk with ${key}`);
  }
  if (asArray(node.arguments).length !== 0) throw new Unsupported('thunk with parameters');
  const call = node.body;
  if (!isNode(call) || call.type !== 'function') throw new Unsupported('thunk of something other than a call');
  checkKeys(call);
  if (call.predicate !== undefined || call.group !== undefined || call.keepArray === true) throw new Unsupported('decorated tail call');
  const procedure = call.procedure;
  if (!isNode(procedure) || procedure.type !== 'variable') throw new Unsupported('tail call of a computed function');
  if (procedure.value === 'now' || procedure.value === 'millis') throw new Unsupported('tail call of the clock');
  const evaluate = compileFunction(call, undefined, { tail: { procedurePosition: procedure.position } });
  return (input, env) => new TailCallResult(evaluate(input, env));
}

/**
 * What a tail call evaluates to inside a lambda body: its result, boxed. jsonata's body returns
 * the thunk itself through the conditions and blocks around it, whose unwrapping of sequences
 * does nothing to it, and `apply` runs the call afterwards; a box passes those nodes the same
 * way, and the lambda's `invoke` opens it.
 */
class TailCallResult {
  constructor(readonly value: unknown) {}
}

/**
 * `x ~> $f` where `$f` is a function the expression defines (jsonata's evaluateApplyExpression):
 * `$f` applied to `x` without a context input, annotated by `$f`'s applyInner only; T2006 while
 * `$f` is not bound yet. (`$f ~> $g`, composing functions, is refused: a bound name is never
 * read as a value.)
 */
export function compileApplyOntoFunction(node: Node, rhs: Node): Evaluator {
  for (const key of Object.keys(rhs)) {
    if (rhs[key] !== undefined && key !== 'type' && key !== 'value' && key !== 'position') throw new Unsupported(`~> onto a function with ${key}`);
  }
  const lhs = compileNode(node.lhs);
  const name = rhs.value as string;
  const position = node.position;
  return (input, env) => {
    const value = lhs(input, env);
    const proc = env.bindings !== undefined && hasOwn.call(env.bindings, name) ? env.bindings[name] : undefined;
    if (!isFastLambda(proc)) {
      if (proc !== undefined) throw new FastPathBindingError(name);
      throw new JsonataError('T2006', { position, value: proc });
    }
    try {
      return proc.invoke([value], null);
    } catch (err) {
      // Nothing between here and the callee's applyInner annotates it.
      if (err !== null && typeof err === 'object') fromTailCall.delete(err);
      throw err;
    }
  };
}

