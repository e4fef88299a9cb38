#!/usr/bin/env node
// Generates src/generated/*.ts from schemas/*.schema.json with json-schema-to-typescript.
// `--check` exits 1 when a generated file differs from what is committed (stale types).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TARGETS = [
  ['extole-config.schema.json', 'extole-config.ts'],
  ['destination.schema.json', 'destination.ts'],
  ['amplitude-event.schema.json', 'amplitude-event.ts'],
];

/** Returns [{file, content}] for every generated file. */
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
