/**
 * The JSON Schemas shipped in `schemas/` (the source of truth for config shape, defaults and the
 * `x-secret` / `x-jsonata` markers). Read from disk beside the package, so `src/` (tests) and
 * `dist/` (the built CLI) both find them at `../../schemas/`.
 */
import { readFileSync } from 'node:fs';

/** A JSON Schema document (plain JSON). */
export type JsonSchema = Record<string, unknown>;

const cache = new Map<string, JsonSchema>();

/** URL of the folder holding the shipped schemas. */
export const SCHEMA_DIR = new URL('../../schemas/', import.meta.url);

/** Reads (once) `schemas/<name>.schema.json`, e.g. `loadSchema('destination')`. */
export function loadSchema(name: 'extole-config' | 'destination' | 'amplitude-event'): JsonSchema {
  let schema = cache.get(name);
  if (!schema) {
    schema = JSON.parse(readFileSync(new URL(`${name}.schema.json`, SCHEMA_DIR), 'utf8')) as JsonSchema;
    cache.set(name, schema);
  }
  return schema;
}
