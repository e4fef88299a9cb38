import { describe, expect, it } from 'vitest';
import { formatTestReport, xmlAttr, xmlText } from '../../src/testing/reporters.js';
import type { TestCaseResult, TestReport } from '../../src/testing/run-tests.js';
import { parseXml } from './helpers.js';

const cwd = '/work/project';

function result(over: Partial<TestCaseResult>): TestCaseResult {
  return {
    destination: 'referrals',
    name: 'a purchase converts',
    file: '/work/project/destinations/referrals.yaml',
    line: 12,
    col: 5,
    project: 'web-prod',
    status: 'pass',
    expected: { dropped: 'no_identity' },
    actual: { outcome: 'drop', reason: 'no_identity' },
    differences: [],
    ...over,
  };
}

const nasty = 'quotes " and \' & <tags> ]]> \u0001 bell';
const report: TestReport = {
  cases: [
    result({}),
    result({
      name: `fails: ${nasty}`,
      status: 'fail',
      line: 30,
      expected: { request: { body: { data: { revenue: 43 } } } },
      differences: [{ path: 'body.data.revenue', kind: 'changed', expected: 43, actual: `42 ${nasty}` }],
    }),
    result({
      destination: 'loyalty',
      file: '/work/project/destinations/loyalty.yaml',
      name: 'cannot run',
      status: 'fail',
      actual: { outcome: 'error', message: 'destination does not compile' },
      differences: [{ path: 'outcome', kind: 'changed', expected: 'drop', actual: 'error: destination does not compile' }],
    }),
  ],
  passed: 1,
  failed: 2,
  destinations: ['loyalty', 'referrals', 'empty'],
  ok: false,
};

describe('text reporter', () => {
  it('shows ✓ and ✗ per case, the location and the diff of failures, and a summary', () => {
    const text = formatTestReport(report, 'text', { cwd });
    expect(text).toContain('  ✓ a purchase converts\n');
    expect(text).toContain(`  ✗ fails: ${nasty}  destinations/referrals.yaml:30:5\n`);
    expect(text).toContain('      body.data.revenue\n        - expected 43\n        + actual   ');
    expect(text).toContain('empty\n  (no tests)');
    expect(text.trimEnd().split('\n').at(-1)).toBe('1 passed, 2 failed (3 tests in 3 destinations)');
  });
});

describe('json reporter', () => {
  it('is one JSON document with relative file paths', () => {
    const parsed = JSON.parse(formatTestReport(report, 'json', { cwd })) as {
      ok: boolean;
      passed: number;
      failed: number;
      cases: { file: string; status: string; differences: unknown[] }[];
    };
    expect(parsed.ok).toBe(false);
    expect(parsed.failed).toBe(2);
    expect(parsed.cases[0]!.file).toBe('destinations/referrals.yaml');
    expect(parsed.cases[1]!.differences).toHaveLength(1);
  });
});

describe('junit reporter', () => {
  it('parses back as XML with suites per destination, failures, errors and escaped text', () => {
    const xml = formatTestReport(report, 'junit', { cwd });
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '3', failures: '1', errors: '1' });
    const suites = root.children;
    expect(suites.map((s) => s.attrs.name)).toEqual(['loyalty', 'referrals', 'empty']);
    const referrals = suites[1]!;
    expect(referrals.attrs).toMatchObject({ tests: '2', failures: '1', errors: '0', file: 'destinations/referrals.yaml' });
    const failing = referrals.children[1]!;
    // Attribute values come back exactly, except the control character XML cannot carry.
    expect(failing.attrs.name).toBe(`fails: ${nasty.replace('\u0001', '\uFFFD')}`);
    expect(failing.attrs.line).toBe('30');
    const failure = failing.children[0]!;
    expect(failure.name).toBe('failure');
    expect(failure.attrs.message).toContain('body.data.revenue: expected 43');
    expect(failure.text).toContain('destinations/referrals.yaml:30:5');
    expect(failure.text).toContain('- expected 43');
    expect(suites[0]!.children[0]!.children[0]!.name).toBe('error');
    expect(suites[2]!.children).toEqual([]);
  });

  it('escapes XML special characters', () => {
    expect(xmlText('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
    expect(xmlAttr('"x"\n\'y\'')).toBe('&quot;x&quot;&#10;&apos;y&apos;');
    expect(xmlText('\uD800 lone')).toBe('\uFFFD lone');
    expect(xmlText('😀')).toBe('😀');
  });
});
