/**
 * Test reports as text (people), JSON (scripts) and JUnit XML (CI test tabs).
 */
import { formatDifferences, showValue } from './diff.js';
import { displayPath, type TestCaseResult, type TestReport } from './run-tests.js';

export type TestReporter = 'text' | 'json' | 'junit';
export const TEST_REPORTERS: readonly TestReporter[] = ['text', 'json', 'junit'];

export interface ReportOptions {
  /** File paths print relative to this folder. */
  cwd: string;
}

/** Render a report; the result ends with a newline. */
export function formatTestReport(report: TestReport, reporter: TestReporter, opts: ReportOptions): string {
  switch (reporter) {
    case 'json':
      return formatJson(report, opts);
    case 'junit':
      return formatJunit(report, opts);
    default:
      return formatText(report, opts);
  }
}

function location(c: TestCaseResult, cwd: string): string {
  return `${displayPath(c.file, cwd)}:${c.line}:${c.col}`;
}

/** Lines explaining a failed case: the differences, field by field. */
export function failureDetail(c: TestCaseResult): string[] {
  const lines = formatDifferences(c.differences);
  if (c.actual.outcome === 'drop' && c.actual.message !== undefined && !c.differences.some((d) => d.path === 'message')) {
    lines.push(`drop message: ${c.actual.message}`);
  }
  return lines;
}

function formatText(report: TestReport, opts: ReportOptions): string {
  const out: string[] = [];
  const byDestination = new Map<string, TestCaseResult[]>();
  for (const name of report.destinations) byDestination.set(name, []);
  for (const c of report.cases) byDestination.get(c.destination)?.push(c);
  for (const [name, cases] of byDestination) {
    const file = cases[0] ? ` (${displayPath(cases[0].file, opts.cwd)})` : '';
    out.push(`${name}${file}`);
    if (cases.length === 0) out.push('  (no tests)');
    for (const c of cases) {
      if (c.status === 'pass') {
        out.push(`  ✓ ${c.name}`);
        continue;
      }
      out.push(`  ✗ ${c.name}  ${location(c, opts.cwd)}`);
      for (const line of failureDetail(c)) out.push(`      ${line}`);
    }
    out.push('');
  }
  const n = report.destinations.length;
  out.push(
    `${report.passed} passed, ${report.failed} failed (${report.cases.length} tests in ${n} destination${n === 1 ? '' : 's'})`,
  );
  return `${out.join('\n')}\n`;
}

function formatJson(report: TestReport, opts: ReportOptions): string {
  const cases = report.cases.map((c) => ({ ...c, file: displayPath(c.file, opts.cwd) }));
  return `${JSON.stringify({ ok: report.ok, passed: report.passed, failed: report.failed, destinations: report.destinations, cases }, null, 2)}\n`;
}

// XML 1.0 allows tab, LF, CR and most of Unicode; everything else (other control characters,
// lone surrogates, U+FFFE/U+FFFF) cannot appear even escaped, so it is replaced.
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escape text for an XML element body. */
export function xmlText(text: string): string {
  return text.replace(XML_INVALID, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape text for a double-quoted XML attribute (newlines kept as character references). */
export function xmlAttr(text: string): string {
  return xmlText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

function formatJunit(report: TestReport, opts: ReportOptions): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const errors = report.cases.filter((c) => c.actual.outcome === 'error').length;
  out.push(
    `<testsuites name="extole-stream" tests="${report.cases.length}" failures="${report.failed - errors}" errors="${errors}">`,
  );
  for (const name of report.destinations) {
    const cases = report.cases.filter((c) => c.destination === name);
    const suiteErrors = cases.filter((c) => c.actual.outcome === 'error').length;
    const suiteFailures = cases.filter((c) => c.status === 'fail').length - suiteErrors;
    const file = cases[0] ? ` file="${xmlAttr(displayPath(cases[0].file, opts.cwd))}"` : '';
    out.push(
      `  <testsuite name="${xmlAttr(name)}" tests="${cases.length}" failures="${suiteFailures}" errors="${suiteErrors}" skipped="0"${file}>`,
    );
    for (const c of cases) {
      const attrs = `classname="${xmlAttr(name)}" name="${xmlAttr(c.name)}" file="${xmlAttr(displayPath(c.file, opts.cwd))}" line="${c.line}"`;
      if (c.status === 'pass') {
        out.push(`    <testcase ${attrs}/>`);
        continue;
      }
      const tag = c.actual.outcome === 'error' ? 'error' : 'failure';
      const first = c.differences[0];
      const message = first
        ? `${first.path}: expected ${showValue(first.expected, 80)}, got ${showValue(first.actual, 80)}`
        : 'failed';
      const body = [`${location(c, opts.cwd)}`, ...failureDetail(c)].join('\n');
      out.push(`    <testcase ${attrs}>`);
      out.push(`      <${tag} message="${xmlAttr(message)}" type="${tag === 'error' ? 'error' : 'mismatch'}">${xmlText(body)}</${tag}>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
