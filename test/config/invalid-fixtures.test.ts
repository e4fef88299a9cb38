/**
 * Every invalid fixture under test/fixtures/config/invalid/<case>/ must produce EXACTLY the
 * listed diagnostics: file:line:col, severity and rule (plus a message fragment where it matters).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { RuleId } from '../../src/config/index.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/invalid/', import.meta.url));
const ENV = { WEB_KEY: 'web-key-value', EXTOLE_TOKEN: 'extole-token-value' };

interface Case {
  /** Expected `file:line:col severity rule`, in the loader's order (root file first, then by line). */
  expected: string[];
  /** Fragments that must appear in the messages, in the same order as `expected` (optional). */
  messages?: (string | undefined)[];
  configPath?: string;
  ok?: boolean;
}

const CASES: Record<string, Case> = {
  'yaml-syntax': {
    expected: ['destinations/broken.yaml:2:1 error yaml-syntax'],
  },
  'duplicate-key': {
    expected: ['destinations/dup.yaml:7:1 error duplicate-key'],
    messages: ["duplicate key 'enabled'"],
  },
  'alias-limit': {
    expected: ['destinations/bomb.yaml:4:8 error alias-limit'],
    messages: ['too many aliases'],
  },
  'no-config': {
    configPath: 'package.json',
    expected: ['package.json:1:1 error no-config'],
    messages: ['package.json has no "extole" key'],
  },
  'no-destinations': {
    expected: ['extole.config.yaml:2:15 error no-destinations'],
    messages: ["no destination files match 'streams/*.yaml'"],
  },
  'schema-root': {
    expected: [
      'extole.config.yaml:1:10 error schema',
      'extole.config.yaml:3:10 error schema',
      'extole.config.yaml:5:5 error schema',
      'extole.config.yaml:7:9 error schema',
      'extole.config.yaml:8:14 error schema',
      'extole.config.yaml:10:20 error invalid-size',
      'extole.config.yaml:11:18 error invalid-size',
      'extole.config.yaml:13:3 error unknown-key',
      // The destination names web-prod, which the root (invalidly) spells Web_Prod.
      'destinations/ok.yaml:1:12 error unknown-project',
    ],
    messages: [
      'version: must be 1 (got 2)',
      'projects[0].key: must be kebab-case',
      "missing required key 'key' in 'projects[1]'",
      'server.port: expected an integer, got a string',
      'server.log_level: must be one of: fatal, error, warn, info, debug, trace, silent',
      "invalid size '1 MB'",
      'e.g. 1MB or 512KB',
      "unknown key 'drivr' in 'queue' (did you mean 'driver'?)",
      "unknown project 'web-prod'",
    ],
  },
  'schema-destination': {
    expected: [
      'destinations/shapes.yaml:1:1 error schema',
      'destinations/shapes.yaml:1:1 error schema',
      'destinations/shapes.yaml:2:1 error unknown-key',
      'destinations/shapes.yaml:5:12 error invalid-duration',
      'destinations/shapes.yaml:7:14 error invalid-duration',
      'destinations/shapes.yaml:8:19 error schema',
      'destinations/shapes.yaml:10:10 error schema',
      'destinations/shapes.yaml:11:16 error schema',
      'destinations/shapes.yaml:15:37 error unknown-key',
      'destinations/shapes.yaml:18:13 error schema',
    ],
    messages: [
      "missing required key 'extole'",
      "missing required key 'events'",
      "unknown key 'evnts' (did you mean 'events'?)",
      "delivery.timeout: invalid duration '10 seconds'",
      'e.g. 500ms, 10s, 1m or 4h',
      'delivery.retry.max_attempts: must be >= 1 (got 0)',
      // anyOf noise collapsed to one readable line
      'properties.event: expected "*" or a list of strings, got a string',
      'properties.user[1]: expected a string, got a number',
      "unknown key 'mesage' in 'tests[0].expect' (did you mean 'message'?)",
      "tests[1].expect: must have exactly one of: 'request'",
    ],
  },
  'unknown-project': {
    expected: [
      'destinations/projects.yaml:1:22 error unknown-project',
      'destinations/projects.yaml:8:14 error unknown-project',
    ],
    messages: ["unknown project 'web-prd'", "unknown project 'ios-prod' in test"],
  },
  'duplicate-destination': {
    expected: ['destinations/referrals.yaml:1:1 error duplicate-destination'],
    messages: ["destination name 'referrals' is already used by destinations/a.yaml"],
  },
  'jsonata-syntax': {
    // One error per scalar style, each at the offending token INSIDE the expression.
    expected: [
      'destinations/syntax.yaml:6:39 error jsonata-syntax', // plain
      'destinations/syntax.yaml:8:37 error jsonata-syntax', // single-quoted with '' escapes
      'destinations/syntax.yaml:10:36 error jsonata-syntax', // double-quoted with \" and \t escapes
      'destinations/syntax.yaml:14:14 error jsonata-syntax', // block literal |
      'destinations/syntax.yaml:18:9 error jsonata-syntax', // block folded >
      'destinations/syntax.yaml:21:7 error jsonata-syntax', // multi-line plain
    ],
    messages: ['events[0].where: JSONata syntax error: The symbol ")"', 'mapping.event_name:', 'mapping.data.double:', 'mapping.data.literal:', 'The symbol "]"', 'mapping.data.plain_multi:'],
  },
  'jsonata-eval': {
    expected: [
      'destinations/eval.yaml:6:12 error jsonata-eval',
      'destinations/eval.yaml:9:38 error jsonata-eval', // inside a lambda
    ],
    messages: ['$eval is not allowed', '$eval is not allowed'],
  },
  'jsonata-unsafe-regex': {
    // At the regex literal's opening slash INSIDE the expression, whatever the scalar style.
    expected: [
      'destinations/regex.yaml:6:31 error jsonata-unsafe-regex', // plain
      'destinations/regex.yaml:8:37 error jsonata-unsafe-regex', // single-quoted, with flags
      'destinations/regex.yaml:14:16 error jsonata-unsafe-regex', // block literal, in a block
    ],
    messages: [
      'events[0].where: regular expression /^(\\w+\\s?)*$/ is not allowed: a repeated group contains repetition',
      'mapping.event_name: regular expression /(a|b+)+x/ is not allowed',
      'mapping.data.nested: regular expression /((ab)*)+$/ is not allowed',
    ],
  },
  'secret-literal': {
    expected: ['destinations/literal.yaml:3:17 error secret-literal'],
    messages: ["'extole.access_token' holds a literal value"],
  },
  'secret-misplaced': {
    expected: [
      'extole.config.yaml:4:18 error secret-misplaced',
      'extole.config.yaml:7:9 error secret-misplaced',
      'destinations/misplaced.yaml:4:23 error secret-misplaced', // at the reference inside the text
      'destinations/misplaced.yaml:7:26 error secret-misplaced',
    ],
    messages: ["secret reference in 'projects[0].description'", "'server.host'", '${file:…} is allowed only in secret fields (access_token)', "'events[0].where'"],
  },
  'secret-invalid': {
    expected: [
      'extole.config.yaml:6:14 error secret-invalid',
      'extole.config.yaml:8:14 error secret-invalid',
      'destinations/invalid.yaml:3:17 error secret-invalid',
    ],
    messages: ["'IOS KEY' is not a valid environment variable name", 'is not a valid secret reference', 'is not a valid secret reference'],
  },
  'secret-unset': {
    ok: true,
    expected: [
      'extole.config.yaml:6:14 warning secret-unset',
      'extole.config.yaml:9:8 warning secret-unset',
      'destinations/unset.yaml:3:17 warning secret-unset',
    ],
    messages: ['file secrets/missing-ios-key does not exist', 'environment variable DATABASE_URL_NOT_SET is not set', 'EXTOLE_TOKEN_NOT_SET'],
  },
  'unknown-field-path': {
    ok: true,
    expected: [
      'destinations/paths.yaml:6:12 warning unknown-field-path',
      'destinations/paths.yaml:8:10 warning unknown-field-path',
      'destinations/paths.yaml:9:51 warning unknown-field-path', // backquoted name in a quoted scalar
      'destinations/paths.yaml:13:30 warning unknown-field-path',
    ],
    messages: ["'evnt_properties' is not a field of an Amplitude event (did you mean 'event_properties'?)", "(did you mean 'user_id'?)", "'user id'", "(did you mean 'country'?)"],
  },
  'data-key-overwritten': {
    ok: true,
    expected: [
      'destinations/data.yaml:11:5 warning data-key-overwritten',
      'destinations/data.yaml:12:5 warning data-key-overwritten',
      'destinations/data.yaml:13:5 warning data-key-overwritten',
      'destinations/data.yaml:14:5 warning data-key-overwritten',
    ],
    messages: ["data key 'email'", "data key 'extole_app_type'", "data key 'labels'", "data key 'partner_user_id'"],
  },
  'proto-keys': {
    expected: [
      'extole.config.yaml:5:5 error unknown-key',
      'destinations/proto.yaml:6:1 error unknown-key',
      'destinations/proto.yaml:8:1 error unknown-key',
    ],
    messages: ["unknown key '__proto__' in 'projects[0]'", "unknown key '__proto__'", "unknown key 'constructor'"],
  },
};

describe('invalid config fixtures', () => {
  it('has a table entry for every fixture folder (and a folder for every entry)', () => {
    expect(readdirSync(FIXTURES).sort()).toEqual(Object.keys(CASES).sort());
  });

  it.each(Object.entries(CASES))('%s', async (name, testCase) => {
    const cwd = `${FIXTURES}${name}`;
    const config = await loadConfig({ cwd, configPath: testCase.configPath, env: { ...ENV } });
    const actual = config.diagnostics.map((d) => `${relative(cwd, d.file)}:${d.line}:${d.col} ${d.severity} ${d.rule}`);
    expect(actual).toEqual(testCase.expected);
    testCase.messages?.forEach((fragment, index) => {
      if (fragment !== undefined) expect(config.diagnostics[index]!.message).toContain(fragment);
    });
    expect(config.ok).toBe(testCase.ok ?? false);
  });

  it('covers every rule id of src/config/diagnostics.ts across the fixtures and the hostile-input tests', async () => {
    const source = await import('node:fs/promises').then((fs) => fs.readFile(new URL('../../src/config/diagnostics.ts', import.meta.url), 'utf8'));
    const ruleType = /export type RuleId =([^;]+);/.exec(source)?.[1] ?? '';
    const declared = [...ruleType.matchAll(/'([a-z-]+)'/g)].map((m) => m[1] as RuleId);
    expect(declared.length).toBeGreaterThan(15);
    const covered = new Set(Object.values(CASES).flatMap((c) => c.expected.map((e) => e.split(' ')[2])));
    covered.add('file-read'); // asserted in hostile-input.test.ts (a 10 MB file must not live in git)
    expect(declared.filter((rule) => !covered.has(rule))).toEqual([]);
  });
});
