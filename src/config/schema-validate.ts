/**
 * JSON Schema validation with ajv, and the ONE place where ajv's errors become readable
 * diagnostics (unknown keys with did-you-mean, missing keys, types, enums, sizes, durations,
 * collapsed anyOf/oneOf noise).
 */
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { closest, distance } from 'fastest-levenshtein';
import { destination as validateDestination, extoleConfig as validateExtoleConfig } from '../generated/validators.js';
import type { RuleId } from './diagnostics.js';
import { loadSchema } from './schemas.js';
import type { JsonSchema } from './schemas.js';
import { isPlainObject, resolveRef } from './schema-walk.js';

/** A schema problem before it is given a file position. */
export interface SchemaProblem {
  /** Path of the offending value (or of the object, for a missing key). */
  path: (string | number)[];
  /** Locate the KEY of the last path segment (unknown keys) rather than its value. */
  atKey: boolean;
  rule: RuleId;
  message: string;
}

type SchemaName = 'extole-config' | 'destination';

/**
 * The validators, compiled from the schemas by `npm run gen:types` (ajv standalone code, with
 * the options in scripts/gen-types.mjs) rather than at every start; a test fails when they are
 * older than the schemas.
 */
const validators: Record<SchemaName, ValidateFunction> = {
  'extole-config': validateExtoleConfig as ValidateFunction,
  destination: validateDestination as ValidateFunction,
};

/**
 * Validates `data` IN PLACE against a shipped schema (defaults are written into it, so pass a
 * copy) and returns every problem, translated.
 */
export function validateAgainstSchema(name: SchemaName, data: unknown): SchemaProblem[] {
  const validate = validators[name];
  if (validate(data)) return [];
  return translateErrors([...(validate.errors ?? [])], data, loadSchema(name));
}

/** Turns ajv errors into problems, collapsing anyOf/oneOf branch noise. */
export function translateErrors(errors: ErrorObject[], data: unknown, rootSchema: JsonSchema): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  let remaining = errors;
  // Handle combinators outermost first; each takes its branch errors out of the list.
  for (;;) {
    const combinators = remaining.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
    if (combinators.length === 0) break;
    const outer = combinators.reduce((a, b) => (b.schemaPath.length < a.schemaPath.length ? b : a));
    const isBranchError = (e: ErrorObject): boolean =>
      e !== outer && e.schemaPath.startsWith(`${outer.schemaPath}/`) && isPathPrefix(outer.instancePath, e.instancePath);
    const branchErrors = remaining.filter(isBranchError);
    remaining = remaining.filter((e) => e !== outer && !isBranchError(e));
    problems.push(...collapseCombinator(outer, branchErrors, data, rootSchema));
  }
  for (const error of remaining) {
    const problem = translateOne(error, data, rootSchema);
    if (problem) problems.push(problem);
  }
  return dedupe(problems);
}

function collapseCombinator(error: ErrorObject, branchErrors: ErrorObject[], data: unknown, rootSchema: JsonSchema): SchemaProblem[] {
  const path = pointerToPath(error.instancePath);
  const value = valueAt(data, path);
  const branches = Array.isArray(error.schema) ? (error.schema as JsonSchema[]) : [];
  const label = pathLabel(path);

  // Object alternatives told apart by `required` (e.g. expect: request | dropped).
  if (branches.length > 0 && branches.every((b) => Array.isArray(b.required)) && isPlainObject(value)) {
    const alternatives = branches.map((b) => {
      const required = (b.required as string[]).map((k) => `'${k}'`).join(' and ');
      const forbidden = forbiddenKeys(b);
      return forbidden.length ? `${required} (without ${forbidden.map((k) => `'${k}'`).join(', ')})` : required;
    });
    const how = error.keyword === 'oneOf' ? 'exactly one of' : 'one of';
    return [{ path, atKey: false, rule: 'schema', message: `${prefix(label)}must have ${how}: ${alternatives.join(' or ')}` }];
  }

  // A branch whose type fits the value: report what is wrong inside it.
  const byBranch = new Map<number, ErrorObject[]>();
  for (const e of branchErrors) {
    const index = Number(e.schemaPath.slice(error.schemaPath.length + 1).split('/')[0]);
    if (!byBranch.has(index)) byBranch.set(index, []);
    byBranch.get(index)!.push(e);
  }
  const shapeKeywords = new Set(['type', 'const', 'enum']);
  const fitting = [...byBranch.entries()].filter(([, errs]) =>
    !errs.some((e) => shapeKeywords.has(e.keyword) && e.instancePath === error.instancePath));
  if (fitting.length > 0) {
    const [, best] = fitting.reduce((a, b) => (b[1].length < a[1].length ? b : a));
    return translateErrors(best, data, rootSchema);
  }

  // No branch fits: one message listing the alternatives.
  const expected = branches.map((b) => describeSchema(b, rootSchema)).filter(Boolean);
  const message = expected.length
    ? `${prefix(label)}expected ${unique(expected).join(' or ')}, got ${describeValue(value)}`
    : `${prefix(label)}does not match any allowed form`;
  return [{ path, atKey: false, rule: 'schema', message }];
}

function translateOne(error: ErrorObject, data: unknown, rootSchema: JsonSchema): SchemaProblem | undefined {
  const path = pointerToPath(error.instancePath);
  const label = pathLabel(path);
  const value = valueAt(data, path);
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as JsonSchema;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = isPlainObject(parent.properties) ? Object.keys(parent.properties) : [];
      const suggestion = suggest(key, known);
      const where = label ? ` in '${label}'` : '';
      return {
        path: [...path, key], atKey: true, rule: 'unknown-key',
        message: `unknown key '${key}'${where}${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
      };
    }
    case 'required': {
      const key = String(params.missingProperty);
      return { path, atKey: false, rule: 'schema', message: `missing required key '${key}'${label ? ` in '${label}'` : ''}` };
    }
    case 'type':
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}expected ${describeTypes(params.type)}, got ${describeValue(value)}` };
    case 'enum':
      return {
        path, atKey: false, rule: 'schema',
        message: `${prefix(label)}must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')} (got ${describeValue(value, true)})`,
      };
    case 'const':
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}must be ${JSON.stringify(params.allowedValue)} (got ${describeValue(value, true)})` };
    case 'pattern':
      return patternProblem(error, path, label, value, rootSchema);
    case 'minItems':
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'minLength':
      return {
        path, atKey: false, rule: 'schema',
        message: params.limit === 1 ? `${prefix(label)}must not be empty` : `${prefix(label)}must be at least ${String(params.limit)} characters long`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}must be ${String(params.comparison)} ${String(params.limit)} (got ${describeValue(value, true)})` };
    case 'uniqueItems': {
      const later = Math.max(Number(params.i), Number(params.j));
      const earlier = Math.min(Number(params.i), Number(params.j));
      const item = Array.isArray(value) ? value[later] : undefined;
      return { path: [...path, later], atKey: false, rule: 'schema', message: `${prefix(label)}duplicate item ${describeValue(item, true)} (also item ${earlier + 1})` };
    }
    case 'format':
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}must be a valid ${String(params.format).toUpperCase()} (got ${describeValue(value, true)})` };
    case 'propertyNames':
      return { path: [...path, String(params.propertyName)], atKey: true, rule: 'schema', message: `${prefix(label)}key ${JSON.stringify(params.propertyName)} is not allowed (keys must not be empty)` };
    case 'not':
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}is not allowed in this form` };
    case 'if':
    case 'false schema':
      return undefined;
    default:
      return { path, atKey: false, rule: 'schema', message: `${prefix(label)}${error.message ?? 'is invalid'}` };
  }
}

/** Known patterns get a human explanation; sizes and durations get their own rules. */
function patternProblem(error: ErrorObject, path: (string | number)[], label: string, value: unknown, rootSchema: JsonSchema): SchemaProblem {
  const shown = describeValue(value, true);
  if (isDef(error.schemaPath, 'size', rootSchema, error.schema)) {
    return { path, atKey: false, rule: 'invalid-size', message: `${prefix(label)}invalid size ${shown}: write a number and a unit (B, KB, MB, GB) with no space, e.g. 1MB or 512KB` };
  }
  if (isDef(error.schemaPath, 'duration', rootSchema, error.schema)) {
    return { path, atKey: false, rule: 'invalid-duration', message: `${prefix(label)}invalid duration ${shown}: write a whole number and a unit (ms, s, m, h, d) with no space, e.g. 500ms, 10s, 1m or 4h` };
  }
  const pattern = String(error.schema);
  const explained: Record<string, string> = {
    '^[a-z0-9]+(-[a-z0-9]+)*$': 'must be kebab-case (lowercase letters and digits joined by single dashes), e.g. web-prod',
    '^[0-9]+/[0-9]*(ms|s|m|h)$': 'must be a rate: requests/window, e.g. 100/1m or 10/s',
    '^https?://': 'must start with http:// or https://',
    '^[a-z_][a-z0-9_]*$': 'must be a lowercase identifier (letters, digits, _), e.g. extole_stream',
  };
  return { path, atKey: false, rule: 'schema', message: `${prefix(label)}${explained[pattern] ?? `must match the pattern ${pattern}`} (got ${shown})` };
}

/** Whether the failing pattern is the one of `$defs/<name>` (reached through a `$ref` or inline). */
function isDef(schemaPath: string, name: string, rootSchema: JsonSchema, pattern: unknown): boolean {
  if (schemaPath.includes(`/$defs/${name}/`)) return true;
  const def = resolveRef(rootSchema, `#/$defs/${name}`);
  return def !== undefined && def.pattern === pattern;
}

function forbiddenKeys(branch: JsonSchema): string[] {
  const not = branch.not;
  if (!isPlainObject(not)) return [];
  if (Array.isArray(not.required)) return not.required.map(String);
  if (Array.isArray(not.anyOf)) return not.anyOf.flatMap((s) => (isPlainObject(s) && Array.isArray(s.required) ? s.required.map(String) : []));
  return [];
}

/** "a string", "a list", `"*"` … for one alternative of an anyOf. */
function describeSchema(schema: JsonSchema, rootSchema: JsonSchema): string {
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(rootSchema, schema.$ref);
    return target ? describeSchema(target, rootSchema) : '';
  }
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map(String).join(', ')}`;
  if (schema.type === 'array') {
    const items = isPlainObject(schema.items) ? describeTypes(schema.items.type) : '';
    return items && items !== 'a value' ? `a list of ${plural(items)}` : 'a list';
  }
  return schema.type !== undefined ? describeTypes(schema.type) : '';
}

function plural(typeText: string): string {
  return typeText.replace(/^an? /, '') + 's';
}

function describeTypes(type: unknown): string {
  const names: Record<string, string> = {
    string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean (true or false)',
    null: 'null', array: 'a list', object: 'an object (key: value pairs)',
  };
  const list = (Array.isArray(type) ? type : [type]).map((t) => names[String(t)] ?? String(t));
  return list.length ? list.join(' or ') : 'a value';
}

/** Describes a value for messages; `withValue` shows short scalars (never used for secret fields). */
function describeValue(value: unknown, withValue = false): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (withValue && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
    const text = typeof value === 'string' ? `'${value.length > 40 ? `${value.slice(0, 37)}...` : value}'` : String(value);
    return text.replace(/[\r\n]/g, ' ');
  }
  if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : 'a decimal number';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/** Closest known name within a small edit distance. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, candidates as string[]);
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return distance(word.toLowerCase(), best.toLowerCase()) <= limit ? best : undefined;
}

function prefix(label: string): string {
  return label ? `${label}: ` : '';
}

/** `projects[0].api_key`, `mapping.data.coupon`. */
export function pathLabel(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

/** JSON pointer → path; array indexes become numbers. */
function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((raw) => {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part;
  });
}

function valueAt(data: unknown, path: (string | number)[]): unknown {
  let node = data;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isPlainObject(node) && Object.prototype.hasOwnProperty.call(node, String(segment))) node = node[String(segment)];
    else return undefined;
  }
  return node;
}

function isPathPrefix(parent: string, child: string): boolean {
  return child === parent || child.startsWith(`${parent}/`);
}

function unique<T>(list: T[]): T[] {
  return [...new Set(list)];
}

function dedupe(problems: SchemaProblem[]): SchemaProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path.join('\u0000')}|${p.rule}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
