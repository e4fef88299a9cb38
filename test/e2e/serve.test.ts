/**
 * `serve` as users run it: the built CLI, the repository's own example config, sandbox.env
 * (the `npm start` path), the banner's curl line, SIGHUP, SIGTERM, and refusing to start
 * without secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, readEnvFile, runCli, spawnServe, type ServeProcess } from '../server/cli-helpers.js';

function copyExampleConfig(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'es-serve-e2e-'));
  cpSync(path.join(REPO_ROOT, 'extole.config.yaml'), path.join(dir, 'extole.config.yaml'));
  cpSync(path.join(REPO_ROOT, 'destinations'), path.join(dir, 'destinations'), { recursive: true });
  cpSync(path.join(REPO_ROOT, 'samples'), path.join(dir, 'samples'), { recursive: true });
  return dir;
}

describe('serve --sandbox with the example config and sandbox.env (npm start)', () => {
  let dir: string;
  let env: Record<string, string>;
  let serve: ServeProcess;

  beforeAll(async () => {
    dir = copyExampleConfig();
    env = readEnvFile(path.join(REPO_ROOT, 'sandbox.env'));
    serve = await spawnServe(['--sandbox', '--port', '0'], { cwd: dir, env });
  });
  afterAll(async () => {
    if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a banner with the revision, destinations, sandbox and a curl line', () => {
    const banner = serve.stderr();
    expect(banner).toMatch(/revision [0-9a-f+]+/);
    expect(banner).toMatch(/sandbox\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(banner).toContain('referrals');
    expect(banner).toMatch(/curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/2\/httpapi/);
    // The JSON logs go to stdout and never carry the placeholder secrets' values.
    for (const value of Object.values(env)) expect(serve.stdout()).not.toContain(value);
  });

  it('the curl line works as printed and the event reaches the sandbox', async () => {
    const line = /^\s*(curl -sS .*)$/m.exec(serve.stderr())![1]!;
    const sandboxUrl = /sandbox\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(serve.stderr())![1]!;
    let answer: string;
    if (spawnSync('curl', ['--version']).status === 0) {
      const run = spawnSync('sh', ['-c', line], { encoding: 'utf8' });
      answer = run.stdout;
    } else {
      // No curl here: send exactly the body the line carries.
      const body = /-d '(.*)'$/.exec(line)![1]!.replace(/'\\''/g, "'");
      const url = /POST (\S+)/.exec(line)![1]!;
      answer = await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
    }
    expect(JSON.parse(answer)).toMatchObject({ code: 200, events_ingested: 1 });
    const deadline = Date.now() + 15_000;
    let received: Array<{ status: number; headers: Record<string, string> }> = [];
    while (Date.now() < deadline) {
      received = (await (await fetch(`${sandboxUrl}/-/received`)).json()) as typeof received;
      if (received.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]!.status).toBe(200);
  });

  it('serves /status to the admin token, reloads on SIGHUP, stops on SIGTERM with exit 0', async () => {
    const status = await fetch(`${serve.url}/status`, { headers: { authorization: `Bearer ${env.EXTOLE_STREAM_ADMIN_TOKEN}` } });
    expect(status.status).toBe(200);
    const text = await status.text();
    expect(JSON.parse(text)).toMatchObject({ code: 200, sandbox: expect.stringMatching(/^http:/) });
    for (const value of Object.values(env)) expect(text).not.toContain(value);

    serve.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!serve.stderr().includes('config reloaded') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(serve.stderr()).toContain('config reloaded');

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).toMatch(/stopped after \d+ ms/);
  });
});

describe('serve without its secrets', () => {
  it('refuses to start and names each missing variable, never a value', async () => {
    const dir = copyExampleConfig();
    try {
      const env = readEnvFile(path.join(REPO_ROOT, 'sandbox.env'));
      delete env.EXTOLE_ACCESS_TOKEN;
      delete env.AMPLITUDE_API_KEY_IOS;
      const result = await runCli(['serve', '--port', '0'], { cwd: dir, env });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('EXTOLE_ACCESS_TOKEN');
      expect(result.stderr).toContain('AMPLITUDE_API_KEY_IOS');
      expect(result.stderr).not.toContain('AMPLITUDE_API_KEY_WEB');
      for (const value of Object.values(env)) expect(result.stderr + result.stdout).not.toContain(value);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
