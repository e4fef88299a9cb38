/**
 * Fast path: JSONata AST → synchronous JavaScript closure for a proven-equal subset.
 * Returns undefined for anything outside the subset (the caller falls back to jsonata).
 * (Stub until the fast-path compiler lands.)
 */
export type CompiledJs = (input: unknown, bindings?: Record<string, unknown>) => unknown;

/** Compile a parsed JSONata AST; undefined = not in the subset, use the jsonata evaluator. */
export function compileToJs(_ast: unknown): CompiledJs | undefined {
  return undefined;
}
