#!/usr/bin/env node
// Generates src/generated/*.ts from schemas/*.schema.json: types with json-schema-to-typescript,
// and the config validators as ajv standalone code.
// `--check` exits 1 when a generated file differs from what is committed (stale types).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { compile } from 'json-schema-to-typescript';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import addFormatsModule from 'ajv-formats';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TARGETS = [
  ['extole-config.schema.json', 'extole-config.ts'],
  ['destination.schema.json', 'destination.ts'],
  ['amplitude-event.schema.json', 'amplitude-event.ts'],
];

/** The schemas config validation checks, and the name each validator is exported under. */
export const VALIDATED = [
  ['extole-config.schema.json', 'extoleConfig'],
  ['destination.schema.json', 'destination'],
];

/**
 * The ajv options of config validation (src/config/schema-validate.ts uses what this makes).
 * They live here only: the validators are compiled now, not at every start.
 */
export const AJV_OPTIONS = {
  allErrors: true,
  verbose: true, // parentSchema on errors: did-you-mean candidates, pattern kinds
  useDefaults: true,
  $data: false, // never: schema values must not come from data
  strict: true,
  strictTypes: false, // `required` inside oneOf branches without `type` is intended
  strictRequired: false,
  logger: false,
};

/**
 * src/generated/validators.ts: the config validators as plain code (ajv "standalone"), so a
 * command does not compile the schemas on every start (about 50 ms of a 270 ms `transform`).
 */
export function generateValidators() {
  const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true, esm: true, lines: false } });
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-jsonata', schemaType: 'boolean' });
  (addFormatsModule.default ?? addFormatsModule)(ajv);
  const exportsByName = {};
  for (const [schemaFile, exportName] of VALIDATED) {
    const schema = JSON.parse(readFileSync(join(root, 'schemas', schemaFile), 'utf8'));
    ajv.addSchema(schema, schemaFile);
    exportsByName[exportName] = schemaFile;
  }
  const code = (standaloneCodeModule.default ?? standaloneCodeModule)(ajv, exportsByName).replace(/^"use strict";/, '');
  const content = [
    `/* Generated from ${VALIDATED.map(([f]) => `schemas/${f}`).join(' and ')} by \`npm run gen:types\` (ajv standalone code). Do not edit by hand. */`,
    '// @ts-nocheck',
    "import { createRequire } from 'node:module';",
    '',
    '// ajv\'s standalone code loads its runtime helpers and format checks with require().',
    'const require = createRequire(import.meta.url);',
    code,
    '',
  ].join('\n');
  return { file: join(root, 'src', 'generated', 'validators.ts'), content };
}

/** Returns [{file, content}] for every generated file: the types, then the validators. */
export async function generateTypes() {
  const out = [];
  for (const [schemaFile, tsFile] of TARGETS) {
    const schema = JSON.parse(readFileSync(join(root, 'schemas', schemaFile), 'utf8'));
    const ts = await compile(schema, schema.title, {
      bannerComment: `/* Generated from schemas/${schemaFile} by \`npm run gen:types\`. Do not edit by hand. */`,
      additionalProperties: false,
      unreachableDefinitions: false,
      style: { singleQuote: true },
      cwd: join(root, 'schemas'),
    });
    out.push({ file: join(root, 'src', 'generated', tsFile), content: ts });
  }
  out.push(generateValidators());
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const files = await generateTypes();
  let stale = 0;
  for (const { file, content } of files) {
    if (check) {
      let current = '';
      try { current = readFileSync(file, 'utf8'); } catch { /* missing counts as stale */ }
      if (current !== content) { stale++; console.error(`stale: ${file} (run npm run gen:types)`); }
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      console.log(`wrote ${file}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
