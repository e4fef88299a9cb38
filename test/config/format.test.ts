/** formatDiagnostics: text, json and GitHub annotations, paths relative to cwd. */
import { describe, expect, it } from 'vitest';
import { formatDiagnostics } from '../../src/config/index.js';
import type { Diagnostic } from '../../src/config/index.js';

const DIAGS: Diagnostic[] = [
  { file: '/repo/destinations/a.yaml', line: 3, col: 17, severity: 'error', message: "unknown key 'evnts' (did you mean 'events'?)", rule: 'unknown-key' },
  { file: '/repo/extole.config.yaml', line: 10, col: 5, severity: 'warning', message: "'server.admin_token': environment variable X is not set", rule: 'secret-unset' },
  { file: '/repo/destinations/b.yaml', line: 1, col: 1, severity: 'error', message: 'odd, 100% broken:\nsecond line', rule: 'schema' },
];

describe('formatDiagnostics', () => {
  it('text: file:line:col severity message (rule), relative paths, then a summary', () => {
    expect(formatDiagnostics(DIAGS, 'text', { cwd: '/repo' })).toBe([
      "destinations/a.yaml:3:17 error unknown key 'evnts' (did you mean 'events'?) (unknown-key)",
      "extole.config.yaml:10:5 warning 'server.admin_token': environment variable X is not set (secret-unset)",
      'destinations/b.yaml:1:1 error odd, 100% broken: second line (schema)',
      '2 errors, 1 warning',
      '',
    ].join('\n'));
    expect(formatDiagnostics(DIAGS, 'text', { cwd: '/repo/destinations' }).split('\n')[1]).toMatch(/^\.\.\/extole\.config\.yaml:10:5 /);
    expect(formatDiagnostics([], 'text', { cwd: '/repo' })).toBe('0 errors, 0 warnings\n');
  });

  it('json: ok, counts and the diagnostics with relative files', () => {
    const parsed = JSON.parse(formatDiagnostics(DIAGS, 'json', { cwd: '/repo' }));
    expect(parsed).toEqual({
      ok: false, errors: 2, warnings: 1,
      diagnostics: [
        { file: 'destinations/a.yaml', line: 3, col: 17, severity: 'error', message: "unknown key 'evnts' (did you mean 'events'?)", rule: 'unknown-key' },
        { file: 'extole.config.yaml', line: 10, col: 5, severity: 'warning', message: "'server.admin_token': environment variable X is not set", rule: 'secret-unset' },
        { file: 'destinations/b.yaml', line: 1, col: 1, severity: 'error', message: 'odd, 100% broken:\nsecond line', rule: 'schema' },
      ],
    });
    expect(JSON.parse(formatDiagnostics([DIAGS[1]!], 'json', { cwd: '/repo' }))).toMatchObject({ ok: true, errors: 0, warnings: 1 });
  });

  it('github: workflow annotations with escaped properties and data', () => {
    expect(formatDiagnostics(DIAGS, 'github', { cwd: '/repo' })).toBe([
      "::error file=destinations/a.yaml,line=3,col=17,title=extole-stream (unknown-key)::unknown key 'evnts' (did you mean 'events'?)",
      "::warning file=extole.config.yaml,line=10,col=5,title=extole-stream (secret-unset)::'server.admin_token': environment variable X is not set",
      '::error file=destinations/b.yaml,line=1,col=1,title=extole-stream (schema)::odd, 100%25 broken:%0Asecond line',
      '',
    ].join('\n'));
    expect(formatDiagnostics([{ ...DIAGS[0]!, file: '/repo/a,b:c.yaml' }], 'github', { cwd: '/repo' })).toContain('file=a%2Cb%3Ac.yaml,');
  });
});
