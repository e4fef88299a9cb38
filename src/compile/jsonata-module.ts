/**
 * The jsonata library, loaded with `require`. It is one CommonJS file of about 250 KB, and an
 * ESM `import` of a CommonJS module first scans the whole file for its export names
 * (cjs-module-lexer): 42 ms against 8 ms here, on every start of every command.
 */
import { createRequire } from 'node:module';
import type jsonataFunction from 'jsonata';

const require = createRequire(import.meta.url);

/** `jsonata(source, options)`, as `import jsonata from 'jsonata'` gives it. */
export const jsonata = require('jsonata') as typeof jsonataFunction;
