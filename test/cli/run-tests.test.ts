import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { compareOutcome, runDestinationTests } from '../../src/testing/run-tests.js';
import { copyExampleConfig, editFile, REPO_ROOT } from './helpers.js';

const env = { EXTOLE_ACCESS_TOKEN: 'tok-run-tests-secret' };

describe('runDestinationTests on the example config', () => {
  it('passes every case, covering every drop reason and sends', async () => {
    const config = await loadConfig({ cwd: REPO_ROOT, env });
    expect(config.ok).toBe(true);
    const report = await runDestinationTests(config);
    const failures = report.cases.filter((c) => c.status === 'fail');
    expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.destinations).toEqual(['loyalty-challenges', 'referrals', 'vip-surprise']);
    const outcomes = new Set(report.cases.map((c) => (c.actual.outcome === 'drop' ? c.actual.reason : c.actual.outcome)));
    expect([...outcomes].sort()).toEqual(
      ['destination_disabled', 'event_not_selected', 'mapping_error', 'no_identity', 'project_not_enabled', 'send', 'too_large'].sort(),
    );
    // Both event shapes are exercised.
    expect(report.cases.some((c) => c.name.includes('export'))).toBe(true);
  });

  it('locates each case at its line in the destination file', async () => {
    const config = await loadConfig({ cwd: REPO_ROOT, env });
    const report = await runDestinationTests(config, { destination: 'referrals' });
    const first = report.cases[0]!;
    expect(path.basename(first.file)).toBe('referrals.yaml');
    expect(first.project).toBe('web-prod');
    const { readFileSync } = await import('node:fs');
    const line = readFileSync(first.file, 'utf8').split('\n')[first.line - 1]!;
    expect(line).toContain(`- name: ${first.name}`);
  });

  it('rejects an unknown destination with a UsageError', async () => {
    const config = await loadConfig({ cwd: REPO_ROOT, env });
    await expect(runDestinationTests(config, { destination: 'nope' })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('runDestinationTests on broken expectations', () => {
  it('reports body differences by path, message mismatches and outcome mismatches', async () => {
    const dir = copyExampleConfig();
    const file = path.join(dir, 'destinations/referrals.yaml');
    editFile(file, '            revenue: 42\n', '            revenue: 43\n');
    editFile(file, 'message: Unable to cast value to a number', 'message: something else');
    editFile(file, 'expect: { dropped: no_identity }', 'expect: { dropped: event_not_selected }');
    editFile(file, '    expect: { dropped: event_not_selected }\n\n  - name: page views', '    expect: { request: { method: POST } }\n\n  - name: page views');
    const config = await loadConfig({ cwd: dir, env });
    expect(config.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const report = await runDestinationTests(config, { destination: 'referrals' });
    expect(report.ok).toBe(false);
    expect(report.failed).toBe(4);
    const byName = new Map(report.cases.map((c) => [c.name, c]));
    expect(byName.get('a web purchase becomes an Extole conversion')!.differences).toEqual([
      { path: 'body.data.revenue', kind: 'changed', expected: 43, actual: 42 },
    ]);
    const message = byName.get('a garbled item_count fails the event instead of sending a wrong value')!;
    expect(message.differences[0]!.path).toBe('message');
    expect(String(message.differences[0]!.actual)).toContain('Unable to cast value to a number');
    const reason = byName.get('a guest checkout has no identity for Extole')!;
    expect(reason.differences).toEqual([{ path: 'reason', kind: 'changed', expected: 'event_not_selected', actual: 'no_identity' }]);
    const outcome = byName.get('an order paid entirely with a reward is not a conversion')!;
    expect(outcome.differences).toEqual([{ path: 'outcome', kind: 'changed', expected: 'send', actual: 'drop event_not_selected' }]);
  });
});

describe('compareOutcome', () => {
  const send = {
    outcome: 'send' as const,
    request: {
      method: 'POST',
      url: 'https://events.extole.io/v6/async-events',
      path: '/v6/async-events',
      headers: { authorization: 'Bearer ***', 'content-type': 'application/json', 'user-agent': 'extole-stream/1' },
      body: { event_name: 'x', event_time: 't', data: { a: 1 } },
    },
  };

  it('compares only the request keys given, headers by name case-insensitively', () => {
    expect(compareOutcome({ request: { path: '/v6/async-events', headers: { Authorization: 'Bearer ***' } } }, send)).toEqual([]);
    expect(compareOutcome({ request: { url: 'https://api.extole.io/v6/async-events' } }, send)).toEqual([
      { path: 'url', kind: 'changed', expected: 'https://api.extole.io/v6/async-events', actual: send.request.url },
    ]);
    expect(compareOutcome({ request: { headers: { 'x-extra': 'y' } } }, send)).toEqual([
      { path: 'headers.x-extra', kind: 'missing', expected: 'y' },
    ]);
  });

  it('compares the body exactly: an extra data key fails', () => {
    const diffs = compareOutcome({ request: { body: { event_name: 'x', event_time: 't', data: {} } } }, send);
    expect(diffs).toEqual([{ path: 'body.data.a', kind: 'unexpected', actual: 1 }]);
  });

  it('matches drop messages as substrings and turns errors into an outcome difference', () => {
    const drop = { outcome: 'drop' as const, reason: 'mapping_error' as const, message: 'mapping.data.x: D3030: Unable to cast' };
    expect(compareOutcome({ dropped: 'mapping_error', message: 'Unable to cast' }, drop)).toEqual([]);
    expect(compareOutcome({ dropped: 'mapping_error' }, { outcome: 'error', message: 'boom' })).toEqual([
      { path: 'outcome', kind: 'changed', expected: 'drop', actual: 'error: boom' },
    ]);
  });
});
