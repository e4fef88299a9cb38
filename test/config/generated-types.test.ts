/**
 * src/generated/*.ts (types and the config validators) must be what `npm run gen:types` makes
 * from schemas/*.schema.json today: a schema edit without regenerating fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- plain .mjs script without type declarations
import { generateTypes, TARGETS } from '../../scripts/gen-types.mjs';

describe('generated types', () => {
  it('are up to date with the schemas (run `npm run gen:types` if this fails)', async () => {
    const files = (await generateTypes()) as { file: string; content: string }[];
    // One file per schema with types, plus the config validators (ajv standalone code).
    expect(files).toHaveLength((TARGETS as unknown[]).length + 1);
    for (const { file, content } of files) {
      expect(content).toContain('Do not edit by hand');
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        // a missing file is stale too
      }
      expect(current, `${file} is stale: run npm run gen:types`).toBe(content);
    }
  });
});
