/**
 * Secret references per SPEC §2.3: env and file sources, unset → warning, newline → error,
 * literal and misplaced → errors, redact(), and secrets never printed in any format.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostics, loadConfig } from '../../src/config/index.js';
import type { LoadedConfig } from '../../src/config/index.js';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A config whose root has one project and whose destination's access_token is `token`. */
function setup(opts: { token: string; apiKey?: string; files?: Record<string, string>; extraRoot?: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'extole-secrets-'));
  temps.push(dir);
  mkdirSync(join(dir, 'destinations'));
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(join(dir, 'extole.config.yaml'),
    `version: 1\nprojects:\n  - key: web-prod\n    api_key: ${opts.apiKey ?? '${env:WEB_KEY}'}\n${opts.extraRoot ?? ''}`);
  writeFileSync(join(dir, 'destinations/d.yaml'),
    `projects: [web-prod]\nextole:\n  access_token: ${opts.token}\nevents:\n  - type: Order Completed\n`);
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content);
  return dir;
}

function summary(config: LoadedConfig): string[] {
  return config.diagnostics.map((d) => `${d.file.endsWith('d.yaml') ? 'd.yaml' : 'root'}:${d.line}:${d.col} ${d.severity} ${d.rule}`);
}

function allOutput(config: LoadedConfig, cwd: string): string {
  return (['text', 'json', 'github'] as const).map((format) => formatDiagnostics(config.diagnostics, format, { cwd })).join('\n');
}

describe('secrets', () => {
  it('resolves ${env:NAME} from the given env (not process.env)', async () => {
    const dir = setup({ token: '${env:EXTOLE_TOKEN}' });
    process.env.EXTOLE_TOKEN = 'from-process-env';
    try {
      const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'web-secret', EXTOLE_TOKEN: 'token-secret' } });
      expect(config.diagnostics).toEqual([]);
      expect(config.destinations[0]!.accessToken).toBe('token-secret');
      expect(config.projects[0]!.apiKey).toBe('web-secret');
    } finally {
      delete process.env.EXTOLE_TOKEN;
    }
  });

  it('an unset or empty variable is a warning, listed in missingSecrets; the config stays ok', async () => {
    const dir = setup({ token: '${env:EXTOLE_TOKEN}' });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: '' } });
    expect(config.ok).toBe(true);
    expect(summary(config)).toEqual(['root:4:14 warning secret-unset', 'd.yaml:3:17 warning secret-unset']);
    expect(config.diagnostics[0]!.message).toContain('WEB_KEY is empty');
    expect(config.diagnostics[1]!.message).toContain('EXTOLE_TOKEN is not set');
    expect(config.missingSecrets).toEqual(['env:WEB_KEY', 'env:EXTOLE_TOKEN']);
    expect(config.projects[0]!.apiKey).toBeUndefined();
    expect(config.destinations[0]!.accessToken).toBeUndefined();
  });

  it('does not take inherited properties as variables', async () => {
    const dir = setup({ token: '${env:toString}' });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k' } });
    expect(config.missingSecrets).toEqual(['env:toString']);
  });

  it('reads ${file:PATH} relative to the root folder, stripping one trailing newline (LF or CRLF)', async () => {
    const dir = setup({ token: '${file:secrets/token}', apiKey: '${file:secrets/api-key}', files: { 'secrets/token': 'file-token\n', 'secrets/api-key': 'file-api-key\r\n' } });
    const config = await loadConfig({ cwd: join(dir, 'destinations'), configPath: '../extole.config.yaml', env: {} });
    expect(config.diagnostics).toEqual([]);
    expect(config.destinations[0]!.accessToken).toBe('file-token');
    expect(config.projects[0]!.apiKey).toBe('file-api-key');
    expect(config.destinations[0]!.definition.extole.access_token).toBe('${file:secrets/token}');
  });

  it('a missing file is a warning; a value with a line break is an error, from a file or a variable', async () => {
    const missing = await loadConfig({ cwd: setup({ token: '${file:secrets/none}' }), env: { WEB_KEY: 'k' } });
    expect(summary(missing)).toEqual(['d.yaml:3:17 warning secret-unset']);
    expect(missing.missingSecrets).toEqual(['file:secrets/none']);

    const twoLines = await loadConfig({ cwd: setup({ token: '${file:secrets/token}', files: { 'secrets/token': 'line-one\nline-two\n' } }), env: { WEB_KEY: 'k\nk' } });
    expect(summary(twoLines)).toEqual(['root:4:14 error secret-invalid', 'd.yaml:3:17 error secret-invalid']);
    expect(twoLines.diagnostics.map((d) => d.message)).toEqual([
      "'projects[0].api_key': the value of environment variable WEB_KEY contains a line break",
      "'extole.access_token': the value of file secrets/token contains a line break",
    ]);
    expect(twoLines.ok).toBe(false);
    expect(allOutput(twoLines, '/')).not.toMatch(/line-one|line-two/);
  });

  it('a literal value in a secret field is an error that never prints the value', async () => {
    const dir = setup({ token: 'sk_live_0123456789abcdef', apiKey: 'amp-literal-key' });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(summary(config)).toEqual(['root:4:14 error secret-literal', 'd.yaml:3:17 error secret-literal']);
    const printed = allOutput(config, dir);
    expect(printed).toContain('secret-literal');
    expect(printed).not.toContain('sk_live_0123456789abcdef');
    expect(printed).not.toContain('amp-literal-key');
  });

  it('malformed references are secret-invalid, and do not echo their text', async () => {
    for (const token of ['${env:}', '${env:A-B}', '${secret:X}', 'prefix-${env:X}', '${env:X', '${file:}']) {
      const config = await loadConfig({ cwd: setup({ token: JSON.stringify(token) }), env: { WEB_KEY: 'k', X: 'x' } });
      expect(summary(config), token).toEqual(['d.yaml:3:17 error secret-invalid']);
    }
  });

  it('references outside secret fields are secret-misplaced errors (root and destination)', async () => {
    const dir = setup({ token: '${env:T}', extraRoot: 'queue:\n  path: ${env:QUEUE_PATH}\n' });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k', T: 't', QUEUE_PATH: '/x' } });
    expect(summary(config)).toEqual(['root:6:9 error secret-misplaced']);
    expect(config.diagnostics[0]!.message).toBe("secret reference in 'queue.path': ${env:…} is allowed only in secret fields (api_key, admin_token, url)");
  });

  it('resolves server.admin_token and queue.url, and redact() hides every resolved value', async () => {
    const dir = setup({
      token: '${env:T}',
      extraRoot: 'server:\n  admin_token: ${file:secrets/admin}\nqueue:\n  driver: postgres\n  url: ${env:DATABASE_URL}\n',
      files: { 'secrets/admin': 'admin-secret' },
    });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'web-secret', T: 'token-secret', DATABASE_URL: 'postgres://u:pw-secret@db/x' } });
    expect(config.diagnostics).toEqual([]);
    expect(config.adminToken).toBe('admin-secret');
    expect(config.queueUrl).toBe('postgres://u:pw-secret@db/x');
    const text = 'Bearer token-secret; key web-secret; admin admin-secret; db postgres://u:pw-secret@db/x; fine';
    expect(config.redact(text)).toBe('Bearer ***; key ***; admin ***; db ***; fine');
    expect(config.redact('nothing secret here')).toBe('nothing secret here');
  });

  it('redact() also hides a secret as it reads inside JSON (quotes, backslashes escaped)', async () => {
    const token = 'tok"en\\with\tescapes';
    const config = await loadConfig({ cwd: setup({ token: '${env:T}' }), env: { WEB_KEY: 'web-secret', T: token } });
    expect(config.diagnostics).toEqual([]);
    const logLine = JSON.stringify({ msg: 'request failed', authorization: `Bearer ${token}` });
    expect(logLine).not.toContain(token); // escaped in JSON: the raw value does not match
    expect(config.redact(logLine)).toBe('{"msg":"request failed","authorization":"Bearer ***"}');
    expect(config.redact(`raw ${token}`)).toBe('raw ***');
  });
});
