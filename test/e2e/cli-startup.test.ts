/**
 * Start-up stays light: the built CLI registers every command (flags, help) eagerly but loads a
 * command's implementation only when it runs, so `--version`, `--help` and `schema` do not pull
 * in fastify, pg, undici, prom-client, jsonata or ajv, and `validate` loads no server stack.
 * (How fast that is goes in the report, not in an assertion.)
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale, REPO_ROOT } from '../support/cli.js';
import { MAX_DIFFS_DEFAULT } from '../../src/cli/commands/plan.js';
import { DEFAULT_MAX_DIFFS } from '../../src/plan/plan.js';

const MAIN = path.join(REPO_ROOT, 'dist/cli/main.js');
const HEAVY = ['fastify', 'pg', 'undici', 'prom-client', 'better-sqlite3', 'pino', 'jsonata', 'ajv', 'cosmiconfig'];
const SERVER_STACK = ['fastify', 'pg', 'undici', 'prom-client', 'better-sqlite3', 'pino'];

beforeAll(() => {
  // `npm test` builds first; when run alone, build if dist is missing or older than src.
  buildIfStale(MAIN);
}, 120_000);

/**
 * Run `main(args)` of the built CLI in a fresh process; return its exit code, output and the
 * packages it loaded. CommonJS packages imported from ESM still land in the CJS module cache,
 * which is what is read here.
 */
function runAndListPackages(args: string[]): { code: number; stdout: string; packages: string[] } {
  const script = `
    import { createRequire } from 'node:module';
    import { PassThrough, Writable } from 'node:stream';
    const { main } = await import(${JSON.stringify(new URL(`file://${MAIN}`).href)});
    let out = '';
    const sink = new Writable({ write(c, _e, cb) { out += c; cb(); } });
    const code = await main(${JSON.stringify(args)}, { stdout: sink, stderr: sink, stdin: new PassThrough(), cwd: ${JSON.stringify(REPO_ROOT)}, env: {} });
    const packages = new Set();
    for (const file of Object.keys(createRequire(import.meta.url).cache)) {
      const m = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file);
      if (m) packages.add(m[1]);
    }
    process.stdout.write(JSON.stringify({ code, stdout: out, packages: [...packages].sort() }));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`child failed (${String(run.status)}): ${run.stderr}`);
  return JSON.parse(run.stdout) as { code: number; stdout: string; packages: string[] };
}

describe('CLI start-up loads only what the command needs', () => {
  it('--version, --help and schema load none of the heavy packages', () => {
    const version = runAndListPackages(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect(version.packages.filter((p) => HEAVY.includes(p))).toEqual([]);

    const help = runAndListPackages(['serve', '--help']);
    expect(help.code).toBe(0);
    // Registration stays eager: every flag is in the help without loading the server.
    for (const flag of ['--port <n>', '--host <h>', '--sandbox', '--config <path>']) expect(help.stdout).toContain(flag);
    expect(help.packages.filter((p) => HEAVY.includes(p))).toEqual([]);

    const planHelp = runAndListPackages(['plan', '--help']);
    expect(planHelp.stdout).toContain('(default: "10")');
    expect(planHelp.packages.filter((p) => HEAVY.includes(p))).toEqual([]);

    const schema = runAndListPackages(['schema', 'config']);
    expect(schema.code).toBe(0);
    expect(JSON.parse(schema.stdout)).toHaveProperty('$schema');
    expect(schema.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
  });

  it('validate loads the config stack, not the server stack', () => {
    const validate = runAndListPackages(['validate']);
    expect(validate.stdout).toContain('is valid');
    expect(validate.code).toBe(0);
    expect(validate.packages).toContain('ajv');
    expect(validate.packages.filter((p) => SERVER_STACK.includes(p))).toEqual([]);
  });

  it('the plan command shows the library default for --max-diffs', () => {
    expect(MAX_DIFFS_DEFAULT).toBe(String(DEFAULT_MAX_DIFFS));
  });
});
