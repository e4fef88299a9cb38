/** Types for bench/mapping-kit.mjs (used by test/bench/handwritten-equivalence.test.ts). */
import type { Transformer } from '../src/compile/types.js';

/** Segment mapping-kit's `transform(mapping, payload)`. */
export function loadMappingKit(): (mapping: unknown, payload: unknown) => Record<string, unknown>;

/** The example destinations on Segment's mapping-kit plus JavaScript, sorted by name. */
export function createMappingKitTransformers(opts: {
  version: string;
  transform?: (mapping: unknown, payload: unknown) => Record<string, unknown>;
}): Transformer[];
