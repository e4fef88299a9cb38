/**
 * The built CLI (`node dist/bin/extole-stream.js`), run as a user would: exit codes, outputs,
 * both event shapes, stdin and files, and no secret value anywhere in any output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { copyExampleConfig, editFile, parseXml, REPO_ROOT } from '../cli/helpers.js';
import { BUILT_CLI as BIN, buildIfStale } from '../support/cli.js';

const SECRET = 'tok_live_8f3a9c2e5b7d4a1f';
const SECRET_ENV = {
  EXTOLE_ACCESS_TOKEN: SECRET,
  AMPLITUDE_API_KEY_WEB: 'amp_web_5d2c8e1f9a7b3c4d',
  AMPLITUDE_API_KEY_IOS: 'amp_ios_1a2b3c4d5e6f7a8b',
  EXTOLE_STREAM_ADMIN_TOKEN: 'admin_7e6d5c4b3a291807',
};

beforeAll(() => {
  // `npm test` builds first; when run alone, build if dist is missing or older than src.
  buildIfStale(BIN);
}, 120_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every output seen, to prove no secret value was ever printed. */
const outputs: string[] = [];

function cli(args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    input: opts.input ?? '',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // Secrets are set unless a test says otherwise, so every output below is checked for leaks.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...(opts.env ?? SECRET_ENV) },
  });
  outputs.push(r.stdout, r.stderr);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lineOf(file: string, text: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
}

const samples = {
  web: readFileSync(path.join(REPO_ROOT, 'samples/http-v2.jsonl'), 'utf8'),
  ios: readFileSync(path.join(REPO_ROOT, 'samples/export.jsonl'), 'utf8'),
};
const count = (text: string) => text.trim().split('\n').length;

describe('validate', () => {
  it('accepts the example config (exit 0) and warns about unset secrets', () => {
    const r = cli(['validate'], { env: {} });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('extole.config.yaml:');
    expect(r.stdout).toMatch(/warning .*EXTOLE_ACCESS_TOKEN/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('✓ extole.config.yaml is valid: 2 projects, 3 destinations, 18 tests');
  });

  it('is clean with the secrets set, with --config before or after the command', () => {
    const dir = copyExampleConfig();
    const config = path.join(dir, 'extole.config.yaml');
    for (const args of [['validate', '--config', config], ['--config', config, 'validate']]) {
      const r = cli(args, { cwd: tmpdir() });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('0 errors, 0 warnings');
    }
  });

  it('fails (exit 1) on a broken copy with file:line:col diagnostics in text, json and github formats', () => {
    const dir = copyExampleConfig();
    const file = path.join(dir, 'destinations/referrals.yaml');
    editFile(file, 'endpoint: async-events ', 'endpoint: async-event ');
    editFile(file, 'source_platform: $lowercase(platform)', 'source_platform: $eval(platform)');
    const endpointLine = lineOf(file, 'endpoint: async-event ');
    const evalLine = lineOf(file, '$eval(platform)');

    const text = cli(['validate'], { cwd: dir });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`^destinations/referrals\\.yaml:${endpointLine}:\\d+ error `, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^destinations/referrals\\.yaml:${evalLine}:\\d+ error .*\\$eval`, 'm'));
    expect(text.stdout).toContain('✗ extole.config.yaml is invalid');

    const json = cli(['validate', '--format', 'json'], { cwd: dir });
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; diagnostics: { file: string; line: number; severity: string }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.diagnostics).toContainEqual(expect.objectContaining({ file: 'destinations/referrals.yaml', line: endpointLine, severity: 'error' }));

    const github = cli(['validate', '--format', 'github'], { cwd: dir, env: {} });
    expect(github.code).toBe(1);
    expect(github.stdout).toMatch(new RegExp(`^::error file=destinations/referrals\\.yaml,line=${endpointLine},col=\\d+,`, 'm'));
    expect(github.stdout).toMatch(/^::warning file=extole\.config\.yaml,line=\d+/m);
  });

  it('exits 2 without a config, and on an unknown format', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'extole-stream-empty-'));
    const r = cli(['validate'], { cwd: empty });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/extole-stream: .*config/i);
    expect(cli(['validate', '--config', path.join(empty, 'missing.yaml')]).code).toBe(2);
    expect(cli(['validate', '--format', 'xml']).code).toBe(2);
  });
});

describe('test', () => {
  it('passes every case of the example config', () => {
    const r = cli(['test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✓ a web purchase becomes an Extole conversion');
    expect(r.stdout).toContain('18 passed, 0 failed (18 tests in 3 destinations)');
    expect(r.stdout).not.toContain('✗');
  });

  it('shows a diff and exits 1 on a failing case', () => {
    const dir = copyExampleConfig();
    const file = path.join(dir, 'destinations/referrals.yaml');
    editFile(file, '            revenue: 42\n', '            revenue: 43\n');
    const caseLine = lineOf(file, '- name: a web purchase becomes an Extole conversion');
    const r = cli(['test', '--destination', 'referrals'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ a web purchase becomes an Extole conversion  destinations/referrals.yaml:${caseLine}:5`);
    expect(r.stdout).toContain('      body.data.revenue\n        - expected 43\n        + actual   42\n');
    expect(r.stdout).toContain('8 passed, 1 failed');

    const junit = cli(['test', '--reporter', 'junit'], { cwd: dir });
    expect(junit.code).toBe(1);
    const root = parseXml(junit.stdout);
    expect(root.attrs).toMatchObject({ tests: '18', failures: '1', errors: '0' });
    const failed = root.children.flatMap((s) => s.children).filter((c) => c.children.length > 0);
    expect(failed.map((c) => c.attrs.name)).toEqual(['a web purchase becomes an Extole conversion']);
    expect(failed[0]!.children[0]!.text).toContain('- expected 43');
  });

  it('writes JUnit XML and JSON reports for CI', () => {
    const junit = cli(['test', '--reporter', 'junit']);
    expect(junit.code).toBe(0);
    const root = parseXml(junit.stdout);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '18', failures: '0' });
    expect(root.children.map((s) => s.attrs.name)).toEqual(['loyalty-challenges', 'referrals', 'vip-surprise']);

    const json = cli(['test', '--reporter', 'json', '--destination', 'vip-surprise']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, passed: 1, failed: 0, destinations: ['vip-surprise'] });
  });

  it('refuses an invalid config (exit 1) and an unknown destination (exit 2)', () => {
    const dir = copyExampleConfig();
    editFile(path.join(dir, 'destinations/vip-surprise.yaml'), 'projects: [web-prod, ios-prod]', 'projects: [web-prod, android-prod]');
    const r = cli(['test'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/destinations\/vip-surprise\.yaml:\d+:\d+ error .*android-prod/);
    expect(cli(['test', '--destination', 'nope']).code).toBe(2);
  });
});

describe('transform', () => {
  it('reads both shapes from stdin (cat samples/*.jsonl | extole-stream transform)', () => {
    const r = cli(['transform'], { input: samples.web + samples.ios });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength((count(samples.web) + count(samples.ios)) * 3);
    expect(lines.slice(0, 3).map((l) => l.destination)).toEqual(['loyalty-challenges', 'referrals', 'vip-surprise']);
    for (const line of lines) {
      expect(line.project).toBe('web-prod');
      if (line.outcome === 'send') {
        expect(Object.keys(line)).toEqual(['destination', 'project', 'insert_id', 'outcome', 'request']);
        expect(Object.keys(line.request as object)).toEqual(['method', 'url', 'headers', 'body']);
        expect((line.request as { headers: Record<string, string> }).headers.authorization).toBe('Bearer ***');
      } else {
        expect(Object.keys(line).slice(0, 5)).toEqual(['destination', 'project', 'insert_id', 'outcome', 'reason']);
      }
    }
  });

  it('reads an Export file for a project and only the destination asked for', () => {
    const r = cli(['transform', '--project', 'ios-prod', '--destination', 'loyalty-challenges', 'samples/export.jsonl']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { destination: string; outcome: string; insert_id: string; request?: { url: string; body: { event_name: string; event_time: string } } });
    expect(lines).toHaveLength(count(samples.ios));
    expect(new Set(lines.map((l) => l.destination))).toEqual(new Set(['loyalty-challenges']));
    const first = JSON.parse(samples.ios.split('\n')[0]!) as { $insert_id: string };
    expect(lines[0]).toMatchObject({ insert_id: first.$insert_id, outcome: 'send' });
    expect(lines[0]!.request).toMatchObject({
      url: 'https://events.extole.io/v6/events',
      body: { event_name: 'challenge_app_installed', event_time: '2024-11-25T13:02:45.512Z' },
    });
  });

  it('reads an HTTP V2 file and a JSON array file', () => {
    const events = samples.web.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    const dir = mkdtempSync(path.join(tmpdir(), 'extole-stream-arr-'));
    writeFileSync(path.join(dir, 'events.json'), JSON.stringify(events, null, 2));
    const fromLines = cli(['transform', '--destination', 'referrals', 'samples/http-v2.jsonl']);
    const fromArray = cli(['transform', '--destination', 'referrals', path.join(dir, 'events.json')]);
    expect(fromLines.code).toBe(0);
    expect(fromArray.code).toBe(0);
    expect(fromArray.stdout).toBe(fromLines.stdout);
    expect(count(fromLines.stdout)).toBe(events.length);
    expect(fromLines.stdout).toContain('"reason":"mapping_error","message":"mapping.data.item_count: ');
  });

  it('reports bad input lines as FILE:LINE (exit 1) and transforms the rest', () => {
    const input = `${samples.web.split('\n')[0]}\n{"event_type": oops}\n${samples.web.split('\n')[1]}\n`;
    const r = cli(['transform', '--destination', 'referrals'], { input });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^<stdin>:2: invalid JSON: /);
    expect(count(r.stdout)).toBe(2);

    const dir = copyExampleConfig();
    writeFileSync(path.join(dir, 'samples/broken.jsonl'), `${input}{"event_type":"Sign Up"}\n`);
    const fromFile = cli(['transform', '--destination', 'referrals', 'samples/broken.jsonl'], { cwd: dir });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr.split('\n')).toEqual([
      expect.stringMatching(/^samples\/broken\.jsonl:2: invalid JSON: /),
      'samples/broken.jsonl:4: not a valid Amplitude event: missing user_id, device_id',
      '',
    ]);
    expect(count(fromFile.stdout)).toBe(2);
  });

  it('exits 2 on an unknown destination, project or file', () => {
    expect(cli(['transform', '--destination', 'nope']).code).toBe(2);
    expect(cli(['transform', '--project', 'android-prod']).code).toBe(2);
    const r = cli(['transform', 'samples/missing.jsonl']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read samples/missing.jsonl');
  });
});

describe('schema', () => {
  it('prints each schema', () => {
    for (const [name, file] of [['destination', 'destination'], ['config', 'extole-config'], ['event', 'amplitude-event']]) {
      const r = cli(['schema', name!]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(path.join(REPO_ROOT, `schemas/${file}.schema.json`), 'utf8')));
    }
    expect(cli(['schema', 'nope']).code).toBe(2);
  });
});

describe('secrets', () => {
  // Runs last: it checks the outputs of every command run in this file, all with the secrets set.
  it('never prints a secret value, whatever the command', () => {
    const dir = copyExampleConfig();
    // The token also shows up inside an event and a failing test, where redaction must catch it.
    editFile(path.join(dir, 'destinations/referrals.yaml'), '            revenue: 42\n', '            revenue: 43\n');
    const event = JSON.stringify({ event_type: 'Sign Up', user_id: 'ann@example.com', event_properties: { referral_code: SECRET } });
    expect(cli(['test', '--reporter', 'json'], { cwd: dir }).code).toBe(1);
    const transform = cli(['transform'], { cwd: dir, input: `${samples.web}${event}\n{"bad": ${SECRET}\n` });
    expect(transform.stdout).toContain('"referral_code":"***"');
    expect(transform.stderr).toContain('<stdin>:');
    for (const value of Object.values(SECRET_ENV)) {
      for (const text of outputs) expect(text.includes(value), `a secret value was printed:\n${text.slice(0, 500)}`).toBe(false);
    }
  });
});
