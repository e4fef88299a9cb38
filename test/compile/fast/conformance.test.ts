/**
 * The JSONata conformance suite (../shared/reference/jsonata-test-suite) run through the fast
 * path: every case whose expression `compileToJs` accepts must give the suite's expected result
 * or error code.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileToJs } from '../../../src/compile/fast/index.js';
import { clone, outcomeOf, plain } from './helpers.js';

const suiteDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/reference/jsonata-test-suite');
const suitePresent = existsSync(path.join(suiteDir, 'groups'));
const inCi = process.env.CI === 'true';

/** Cases that must keep compiling: a floor, so that the subset cannot silently shrink. */
const MIN_COMPILED = 1350;

interface SuiteCase {
  expr?: string;
  'expr-file'?: string;
  data?: unknown;
  dataset?: string | null;
  bindings?: Record<string, unknown>;
  result?: unknown;
  undefinedResult?: boolean;
  code?: string;
  /** The other way the suite writes an expected error: its code and, for some, its message. */
  error?: { code?: string; message?: string };
  timelimit?: number;
  depth?: number;
}

interface Mismatch {
  file: string;
  expr: string;
  expected: unknown;
  actual: unknown;
}

function loadCases(): Array<{ file: string; testCase: SuiteCase; expr: string }> {
  const cases: Array<{ file: string; testCase: SuiteCase; expr: string }> = [];
  const groupsDir = path.join(suiteDir, 'groups');
  for (const group of readdirSync(groupsDir).sort()) {
    const groupDir = path.join(groupsDir, group);
    for (const file of readdirSync(groupDir).sort()) {
      // caseNNN.json holds one case (or an array); a few groups also hold arrays of cases in
      // files named for a topic (formatDateTime.json, parseInteger.json, …), in the same format.
      if (!file.endsWith('.json')) continue;
      // A case file holds one case, or an array of cases sharing the file.
      const parsed = JSON.parse(readFileSync(path.join(groupDir, file), 'utf8')) as SuiteCase | SuiteCase[];
      const list = Array.isArray(parsed) ? parsed : [parsed];
      list.forEach((testCase, index) => {
        const expr = testCase.expr ?? readFileSync(path.join(groupDir, testCase['expr-file'] as string), 'utf8');
        cases.push({ file: list.length > 1 ? `${group}/${file}#${index}` : `${group}/${file}`, testCase, expr });
      });
    }
  }
  return cases;
}

const datasetCache = new Map<string, unknown>();
function dataset(name: string): unknown {
  if (!datasetCache.has(name)) {
    datasetCache.set(name, JSON.parse(readFileSync(path.join(suiteDir, 'datasets', `${name}.json`), 'utf8')));
  }
  return datasetCache.get(name);
}

describe('fast path: JSONata conformance suite', () => {
  // Outside CI the suite may be absent (a user's clone has no ../shared): skip with the reason.
  it.skipIf(suitePresent || inCi)(`skipped: JSONata test suite not found at ${suiteDir}`, () => {});

  it.skipIf(!suitePresent && !inCi)('agrees with every suite case it compiles', () => {
    expect(suitePresent, `JSONata test suite not found at ${suiteDir}`).toBe(true);
    const cases = loadCases();
    let compiled = 0;
    let parsed = 0;
    const mismatches: Mismatch[] = [];
    for (const { file, testCase, expr } of cases) {
      let ast: unknown;
      try {
        ast = jsonata(expr).ast();
      } catch {
        continue; // a syntax error: nothing to compile
      }
      parsed++;
      const fast = compileToJs(ast);
      if (fast === undefined) continue;
      compiled++;
      const input = 'data' in testCase ? clone(testCase.data) : testCase.dataset ? clone(dataset(testCase.dataset)) : undefined;
      const outcome = outcomeOf(() => fast(input, testCase.bindings ?? {}));
      if (testCase.code !== undefined) {
        if (outcome.ok || outcome.code !== testCase.code) {
          mismatches.push({ file, expr, expected: { code: testCase.code }, actual: outcome.ok ? outcome.value : { code: outcome.code } });
        }
      } else if (testCase.error !== undefined) {
        const { code, message } = testCase.error;
        const actualMessage = outcome.ok ? undefined : (outcome.error as { message?: unknown }).message;
        if (outcome.ok || outcome.code !== code || (message !== undefined && actualMessage !== message)) {
          mismatches.push({ file, expr, expected: testCase.error, actual: outcome.ok ? outcome.value : { code: outcome.code, message: actualMessage } });
        }
      } else if (testCase.undefinedResult === true) {
        if (!outcome.ok || outcome.value !== undefined) {
          mismatches.push({ file, expr, expected: undefined, actual: outcome.ok ? outcome.value : { code: outcome.code, error: String(outcome.error) } });
        }
      } else {
        const expected = plain(testCase.result);
        let same = outcome.ok;
        if (same) {
          try {
            expect(outcome.ok && outcome.value).toEqual(expected);
          } catch {
            same = false;
          }
        }
        if (!same) {
          mismatches.push({ file, expr, expected, actual: outcome.ok ? outcome.value : { code: (outcome as { code?: string }).code, error: String((outcome as { error?: unknown }).error) } });
        }
      }
    }
    console.log(`[fast-path conformance] compiled ${compiled} of ${cases.length} suite cases (${parsed} parse); ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
    expect(compiled).toBeGreaterThanOrEqual(MIN_COMPILED);
  });
});
