/** Types for bench/handwritten.mjs (used by test/bench/handwritten-equivalence.test.ts). */
import type { Transformer } from '../src/compile/types.js';

/** The example destinations written by hand, sorted by name; every `transform` is synchronous. */
export function createHandwrittenTransformers(opts: { version: string }): Transformer[];
