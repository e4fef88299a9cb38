/**
 * Hostile config input: YAML alias bombs, huge files, prototype keys, absurd nesting. Each is a
 * diagnostic, never a crash, a hang or a polluted prototype. (No timing assertions: speed is
 * shown by the test finishing; measured numbers go in the report.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { parseSource } from '../../src/config/yaml-source.js';

const ROOT = 'version: 1\nprojects:\n  - key: web-prod\n    api_key: ${env:WEB_KEY}\n';
const DEST = 'projects: [web-prod]\nextole:\n  access_token: ${env:TOKEN}\nevents:\n  - type: Order Completed\n';

const temps: string[] = [];
function setup(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'extole-hostile-'));
  temps.push(dir);
  mkdirSync(join(dir, 'destinations'));
  for (const [name, content] of Object.entries({ 'extole.config.yaml': ROOT, ...files })) writeFileSync(join(dir, name), content);
  return dir;
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  // Nothing may have leaked onto Object.prototype.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
});

/** The classic billion laughs: 10 levels of 10 aliases = 10^10 strings if expanded. */
function billionLaughs(): string {
  const lines = ['lol0: &lol0 "lol"'];
  for (let level = 1; level <= 10; level++) {
    lines.push(`lol${level}: &lol${level} [${Array.from({ length: 10 }, () => `*lol${level - 1}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

describe('hostile config input', () => {
  it('a billion-laughs alias bomb is an alias-limit error, found without expanding it', async () => {
    const dir = setup({ 'destinations/bomb.yaml': billionLaughs() });
    const config = await loadConfig({ cwd: dir, env: {} });
    const bomb = config.diagnostics.filter((d) => d.file.endsWith('bomb.yaml'));
    // Line 3 (lol2): its 9th *lol1 is the 101st alias reference (each *lol1 holds 10 more).
    expect(bomb.map((d) => `${d.line}:${d.col} ${d.severity} ${d.rule}`)).toEqual(['3:70 error alias-limit']);
    expect(config.ok).toBe(false);
  });

  it('an alias bomb in the root file stops there, with one diagnostic', async () => {
    const dir = setup({ 'extole.config.yaml': `${ROOT}x:\n${billionLaughs().replace(/^/gm, '  ').trimEnd()}\n` });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule}`)).toEqual(['8:72 alias-limit']);
    expect(config.destinations).toEqual([]);
  });

  it('a few ordinary aliases are fine', async () => {
    const dir = setup({ 'destinations/a.yaml': `${DEST}tests:\n  - name: one\n    event: &ev { event_type: Order Completed, user_id: a@b.c }\n    expect: { dropped: no_identity }\n  - name: two\n    event: *ev\n    expect: { dropped: no_identity }\n` });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k', TOKEN: 't' } });
    expect(config.diagnostics).toEqual([]);
    const tests = config.destinations[0]!.definition.tests!;
    expect(tests[1]!.event).toEqual(tests[0]!.event);
    expect(tests[1]!.event).not.toBe(tests[0]!.event); // copies, not shared objects
  });

  it('duplicate keys are found in linear time: 20,000 keys, one duplicate', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`);
    keys.push('k7: again');
    const source = parseSource('/x.yaml', `${keys.join('\n')}\n`);
    expect(source.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule} ${d.message}`)).toEqual([
      "20001:1 duplicate-key duplicate key 'k7' (first at line 8): keys must be unique",
    ]);
    expect((source.value as Record<string, unknown>).k7).toBe('again');
  });

  it('a self-referencing alias is an error, not infinite recursion', () => {
    const source = parseSource('/x.yaml', 'a: &a\n  b: *a\n');
    expect(source.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule}`)).toEqual(['2:6 alias-limit']);
  });

  it('a 10 MB destination file is a file-read error at 1:1, refused before reading', async () => {
    const dir = setup({ 'destinations/big.yaml': `${DEST}description: "${'x'.repeat(10_000_000)}"\n` });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k', TOKEN: 't' } });
    expect(config.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.severity} ${d.rule}`)).toEqual([`${join(dir, 'destinations/big.yaml')}:1:1 error file-read`]);
    expect(config.diagnostics[0]!.message).toBe('file is 10.0 MB; config files may be at most 1 MB');
    expect(config.destinations).toEqual([]);
  });

  it('a 10 MB root file is a file-read error too (not a throw)', async () => {
    const dir = setup({ 'extole.config.yaml': `${ROOT}# ${'x'.repeat(10_000_000)}\n` });
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule}`)).toEqual(['1:1 file-read']);
    expect(config.ok).toBe(false);
  });

  it('__proto__ and constructor keys stay plain data: errors where unknown, own properties where free-form', async () => {
    const cwd = fileURLToPath(new URL('../fixtures/config/invalid/proto-keys/', import.meta.url));
    const config = await loadConfig({ cwd, env: { WEB_KEY: 'k', EXTOLE_TOKEN: 't' } });
    expect(config.diagnostics.map((d) => d.rule)).toEqual(['unknown-key', 'unknown-key', 'unknown-key']);
    const definition = config.destinations[0]!.definition as unknown as Record<string, unknown>;
    expect(Object.getPrototypeOf(definition)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(definition, '__proto__')).toBe(true);
    expect((definition as { polluted?: unknown }).polluted).toBeUndefined();
    const event = config.destinations[0]!.definition.tests![0]!.event as Record<string, unknown>;
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(event, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getOwnPropertyDescriptor(event, 'constructor')?.value).toEqual({ prototype: { polluted: true } });
    const project = config.root.projects[0] as unknown as Record<string, unknown>;
    expect(Object.getPrototypeOf(project)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(project, '__proto__')?.value).toEqual({ polluted: 'yes' });
  });

  it('absurdly deep nesting is a diagnostic, not a stack overflow', async () => {
    const dir = setup({ 'destinations/deep.yaml': `${DEST}tests:\n  - name: deep\n    event: ${'['.repeat(5000)}${']'.repeat(5000)}\n    expect: { dropped: no_identity }\n` });
    const config = await loadConfig({ cwd: dir, env: { WEB_KEY: 'k', TOKEN: 't' } });
    expect(config.ok).toBe(false);
    expect(config.diagnostics.map((d) => d.rule)).toEqual(['yaml-syntax']);
  });
});
