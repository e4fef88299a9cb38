/**
 * loadConfig on a valid config: defaults applied, names, secrets resolved, positions, revision;
 * and finding the root file (cosmiconfig search, --config, package.json#extole).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigNotFoundError, loadConfig } from '../../src/config/index.js';

const VALID = fileURLToPath(new URL('../fixtures/config/valid/', import.meta.url)).replace(/\/$/, '');
const FULL_ENV = { AMPLITUDE_API_KEY_WEB: 'web-key-123', EXTOLE_ACCESS_TOKEN: 'extole-token-456', EXTOLE_STREAM_ADMIN_TOKEN: 'admin-789' };

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'extole-config-'));
  temps.push(dir);
  return dir;
}
function write(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

const MINIMAL_ROOT = 'version: 1\nprojects:\n  - key: web-prod\n    api_key: ${env:WEB_KEY}\n';
const MINIMAL_DEST = 'projects: [web-prod]\nextole:\n  access_token: ${env:TOKEN}\nevents:\n  - type: Order Completed\n';

describe('loadConfig: a valid config', () => {
  it('loads with no diagnostics when every secret is available', async () => {
    const config = await loadConfig({ cwd: VALID, env: FULL_ENV });
    expect(config.diagnostics).toEqual([]);
    expect(config.ok).toBe(true);
    expect(config.rootFile).toBe(join(VALID, 'extole.config.yaml'));
    expect(config.rootDir).toBe(VALID);
    expect(config.missingSecrets).toEqual([]);
  });

  it('applies schema defaults to the root config', async () => {
    const { root } = await loadConfig({ cwd: VALID, env: FULL_ENV });
    expect(root.destinations).toBe('destinations/*.yaml');
    expect(root.server).toEqual({
      admin_token: '${env:EXTOLE_STREAM_ADMIN_TOKEN}',
      host: '127.0.0.1', port: 8080, log_level: 'info', dedup_window: '7d', ingest_threads: 1,
      limits: { httpapi_bytes: '1MB', batch_bytes: '20MB', events_per_request: 2000 },
    });
    expect(root.queue).toEqual({ driver: 'sqlite', path: '.extole-stream/queue.db', schema: 'extole_stream', pool_size: 10, lease: '30s' });
  });

  it('applies schema defaults to destinations, sorted by file, named by name: or file name', async () => {
    const { destinations } = await loadConfig({ cwd: VALID, env: FULL_ENV });
    expect(destinations.map((d) => [d.name, d.file])).toEqual([
      ['referrals', join(VALID, 'destinations/referrals.yaml')],
      ['sign-ups', join(VALID, 'destinations/signups.yaml')],
    ]);
    const referrals = destinations[0]!.definition;
    expect(referrals.enabled).toBe(true);
    expect(referrals.extole).toEqual({
      access_token: '${env:EXTOLE_ACCESS_TOKEN}', labels: ['refer-a-friend'],
      base_url: 'https://events.extole.io', endpoint: 'async-events', app_type: 'extole-stream',
    });
    expect(referrals.identity).toEqual({ partner_user_id: 'user_properties.unique_id', email: 'user_id', require: 'any' });
    expect(referrals.properties).toEqual({ event: ['revenue', 'currency'], user: [], group: [], as_strings: false });
    expect(referrals.delivery).toEqual({
      concurrency: 16, timeout: '10s',
      retry: { max_attempts: 10, max_age: '4h', initial_backoff: '1s', max_backoff: '30s' },
    });
    // Defaults are filled in, nothing is invented: no default event_name mapping.
    expect(referrals.mapping).toEqual({ event_name: '$lowercase($replace(event_type, " ", "_"))', data: { partner_conversion_id: 'insert_id' } });
    const signUps = destinations[1]!.definition;
    expect(signUps.enabled).toBe(false);
    expect(signUps.extole.endpoint).toBe('events');
  });

  it('resolves secrets into the model while definitions keep the reference text', async () => {
    const config = await loadConfig({ cwd: VALID, env: FULL_ENV });
    expect(config.projects).toEqual([
      { key: 'web-prod', apiKey: 'web-key-123' },
      { key: 'ios-prod', apiKey: 'ios-key-from-file' }, // file ends with a newline: stripped
    ]);
    expect(config.adminToken).toBe('admin-789');
    expect(config.queueUrl).toBeUndefined();
    expect(config.destinations.map((d) => d.accessToken)).toEqual(['extole-token-456', 'extole-token-456']);
    expect(config.root.projects[0].api_key).toBe('${env:AMPLITUDE_API_KEY_WEB}');
    expect(JSON.stringify(config.root) + JSON.stringify(config.destinations.map((d) => d.definition))).not.toMatch(/web-key-123|extole-token-456|admin-789|ios-key-from-file/);
  });

  it('locates nodes of a destination file, falling back to the nearest parent', async () => {
    const [referrals] = (await loadConfig({ cwd: VALID, env: FULL_ENV })).destinations;
    const file = join(VALID, 'destinations/referrals.yaml');
    expect(referrals!.locate(['extole', 'access_token'])).toEqual({ file, line: 4, col: 17 });
    expect(referrals!.locate(['events', 1, 'type', 0])).toEqual({ file, line: 9, col: 12 });
    expect(referrals!.locate(['mapping', 'data', 'nope'])).toEqual({ file, line: 17, col: 5 });
  });

  it('reports an unset secret as a warning and names it in missingSecrets', async () => {
    const config = await loadConfig({ cwd: VALID, env: { AMPLITUDE_API_KEY_WEB: 'web-key-123' } });
    expect(config.ok).toBe(true);
    expect(config.missingSecrets).toEqual(['env:EXTOLE_STREAM_ADMIN_TOKEN', 'env:EXTOLE_ACCESS_TOKEN']);
    expect(config.diagnostics.map((d) => `${d.line}:${d.col} ${d.severity} ${d.rule}`)).toEqual([
      '10:16 warning secret-unset', '4:17 warning secret-unset', '5:17 warning secret-unset',
    ]);
    expect(config.destinations[0]!.accessToken).toBeUndefined();
  });

  it('computes a revision: git commit + content hash in a repository, stable, content-sensitive', async () => {
    const first = await loadConfig({ cwd: VALID, env: FULL_ENV });
    const second = await loadConfig({ cwd: VALID, env: FULL_ENV });
    expect(first.revision).toEqual(second.revision);
    expect(first.revision.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.revision.git).toMatch(/^[0-9a-f]{40}$/);
    expect(first.revision.label).toBe(`${first.revision.git!.slice(0, 12)}+${first.revision.hash.slice(0, 12)}`);

    const dir = tempDir();
    write(dir, { 'extole.config.yaml': MINIMAL_ROOT, 'destinations/a.yaml': MINIMAL_DEST });
    const outside = await loadConfig({ cwd: dir, env: {} });
    expect(outside.revision.git).toBeUndefined();
    expect(outside.revision.label).toBe(outside.revision.hash.slice(0, 12));
    write(dir, { 'destinations/a.yaml': `${MINIMAL_DEST}enabled: false\n` });
    expect((await loadConfig({ cwd: dir, env: {} })).revision.hash).not.toBe(outside.revision.hash);
  });

  it('expands a list of destination globs (negations too), never matching the root file', async () => {
    const dir = tempDir();
    write(dir, {
      'extole.config.yaml': `${MINIMAL_ROOT}destinations: ['*.yaml', 'more/**/*.yml', '!more/skip.yml']\n`,
      'b.yaml': MINIMAL_DEST, 'more/x/a.yml': MINIMAL_DEST, 'more/skip.yml': MINIMAL_DEST,
    });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k', TOKEN: 't' } });
    expect(config.diagnostics).toEqual([]);
    expect(config.destinations.map((d) => d.name)).toEqual(['b', 'a']);
    expect(config.destinations.map((d) => d.file)).toEqual([join(dir, 'b.yaml'), join(dir, 'more/x/a.yml')]);
  });
});

describe('loadConfig: finding the root file', () => {
  it.each(['extole.config.yaml', 'extole.config.yml', '.extolerc.yaml'])('finds %s in cwd', async (name) => {
    const dir = tempDir();
    write(dir, { [name]: MINIMAL_ROOT, 'destinations/a.yaml': MINIMAL_DEST });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.rootFile).toBe(join(dir, name));
    expect(config.destinations.map((d) => d.name)).toEqual(['a']);
  });

  it('searches parent folders up to the project root (the folder with package.json)', async () => {
    const dir = tempDir();
    write(dir, {
      'package.json': '{"name":"app"}', 'extole.config.yaml': MINIMAL_ROOT,
      'destinations/a.yaml': MINIMAL_DEST, 'src/deep/file.txt': '',
    });
    const config = await loadConfig({ cwd: join(dir, 'src/deep'), env: {} });
    expect(config.rootFile).toBe(join(dir, 'extole.config.yaml'));
    expect(config.rootDir).toBe(dir);
  });

  it('prefers extole.config.yaml over package.json#extole', async () => {
    const dir = tempDir();
    write(dir, { 'package.json': '{"name":"app","extole":{"version":1}}', 'extole.config.yaml': MINIMAL_ROOT, 'destinations/a.yaml': MINIMAL_DEST });
    expect((await loadConfig({ cwd: dir, env: {} })).rootFile).toBe(join(dir, 'extole.config.yaml'));
  });

  it('reads package.json#extole, with positions in package.json and paths relative to it', async () => {
    const dir = tempDir();
    write(dir, {
      'package.json': [
        '{',
        '  "name": "app",',
        '  "extole": {',
        '    "version": 1,',
        '    "destinations": "streams/*.yaml",',
        '    "projects": [{ "key": "web-prod", "api_key": "${env:WEB_KEY}", "colour": "red" }]',
        '  }',
        '}',
      ].join('\n'),
      'streams/a.yaml': MINIMAL_DEST,
    });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k', TOKEN: 't' } });
    expect(config.rootFile).toBe(join(dir, 'package.json'));
    expect(config.destinations.map((d) => d.name)).toEqual(['a']);
    expect(config.projects).toEqual([{ key: 'web-prod', apiKey: 'k' }]);
    expect(config.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.rule}`)).toEqual([`${join(dir, 'package.json')}:6:68 unknown-key`]);
  });

  it('uses --config PATH relative to cwd, or a folder to search in', async () => {
    const dir = tempDir();
    write(dir, { 'conf/custom-name.yaml': MINIMAL_ROOT, 'conf/destinations/a.yaml': MINIMAL_DEST, 'other/extole.config.yml': MINIMAL_ROOT, 'other/destinations/b.yaml': MINIMAL_DEST });
    const byFile = await loadConfig({ cwd: dir, configPath: 'conf/custom-name.yaml', env: {} });
    expect(byFile.rootFile).toBe(join(dir, 'conf/custom-name.yaml'));
    expect(byFile.destinations.map((d) => d.name)).toEqual(['a']);
    const byFolder = await loadConfig({ cwd: dir, configPath: 'other', env: {} });
    expect(byFolder.rootFile).toBe(join(dir, 'other/extole.config.yml'));
  });

  it('throws ConfigNotFoundError (ES_CONFIG_NOT_FOUND) when there is no root file', async () => {
    const dir = tempDir();
    write(dir, { 'package.json': '{"name":"no-config-here"}' });
    await expect(loadConfig({ cwd: dir, env: {} })).rejects.toMatchObject({ code: 'ES_CONFIG_NOT_FOUND', name: 'ConfigNotFoundError' });
    const missing = loadConfig({ cwd: dir, configPath: 'nope.yaml', env: {} });
    await expect(missing).rejects.toBeInstanceOf(ConfigNotFoundError);
    await expect(missing).rejects.toThrow('config file not found: nope.yaml');
  });

  it('does not throw for an empty root file: it is found and reported', async () => {
    const dir = tempDir();
    write(dir, { 'extole.config.yaml': '' });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.ok).toBe(false);
    expect(config.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule} ${d.message}`)).toEqual(['1:1 schema expected an object (key: value pairs), got nothing (null)']);
  });
});
