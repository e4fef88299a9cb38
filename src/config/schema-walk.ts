/**
 * Walks a value together with its JSON Schema to find the fields the schema marks with our
 * extension keywords (`x-secret: true`, `x-jsonata: true`), so no field name is hard-coded.
 */
import type { JsonSchema } from './schemas.js';

/** A value met during the walk, with the extension markers of the schemas that apply to it. */
export interface WalkedValue {
  path: (string | number)[];
  value: unknown;
  secret: boolean;
  jsonata: boolean;
}

/** Calls `visit` for every value in `value` (depth first, document order). */
export function walkWithSchema(value: unknown, schema: JsonSchema, visit: (node: WalkedValue) => void): void {
  walk(value, [schema], schema, [], visit);
}

function walk(value: unknown, schemas: JsonSchema[], root: JsonSchema, path: (string | number)[], visit: (node: WalkedValue) => void): void {
  const applicable = schemas.flatMap((s) => applicableSchemas(s, value, root, 0));
  visit({
    path,
    value,
    secret: applicable.some((s) => s['x-secret'] === true),
    jsonata: applicable.some((s) => s['x-jsonata'] === true),
  });
  if (Array.isArray(value)) {
    const itemSchemas = applicable.map((s) => s.items).filter(isSchema);
    value.forEach((item, index) => walk(item, itemSchemas, root, [...path, index], visit));
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      const childSchemas: JsonSchema[] = [];
      for (const s of applicable) {
        const properties = isSchema(s.properties) ? s.properties : undefined;
        if (properties && Object.prototype.hasOwnProperty.call(properties, key)) {
          const child = properties[key];
          if (isSchema(child)) childSchemas.push(child);
        } else if (isSchema(s.additionalProperties)) {
          childSchemas.push(s.additionalProperties);
        }
      }
      walk(value[key], childSchemas, root, [...path, key], visit);
    }
  }
}

/** The schema itself, its `$ref` target, `allOf` parts, and the `anyOf`/`oneOf` branches whose type fits. */
function applicableSchemas(schema: JsonSchema, value: unknown, root: JsonSchema, depth: number): JsonSchema[] {
  if (depth > 32) return [];
  const out: JsonSchema[] = [schema];
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(root, schema.$ref);
    if (target) out.push(...applicableSchemas(target, value, root, depth + 1));
  }
  for (const part of asSchemaList(schema.allOf)) out.push(...applicableSchemas(part, value, root, depth + 1));
  for (const branch of [...asSchemaList(schema.anyOf), ...asSchemaList(schema.oneOf)]) {
    if (typeFits(branch, value)) out.push(...applicableSchemas(branch, value, root, depth + 1));
  }
  return out;
}

/** Resolves a local `#/…` JSON pointer. */
export function resolveRef(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isSchema(node) || !Object.prototype.hasOwnProperty.call(node, part)) return undefined;
    node = node[part];
  }
  return isSchema(node) ? node : undefined;
}

function typeFits(schema: JsonSchema, value: unknown): boolean {
  const type = schema.type;
  if (type === undefined) return true;
  const types = Array.isArray(type) ? type : [type];
  return types.some((t) => {
    switch (t) {
      case 'string': return typeof value === 'string';
      case 'number': return typeof value === 'number';
      case 'integer': return Number.isInteger(value);
      case 'boolean': return typeof value === 'boolean';
      case 'null': return value === null;
      case 'array': return Array.isArray(value);
      case 'object': return isPlainObject(value);
      default: return false;
    }
  });
}

function asSchemaList(list: unknown): JsonSchema[] {
  return Array.isArray(list) ? list.filter(isSchema) : [];
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * ajv's `useDefaults` fills defaults only inside objects that exist. So that consumers can read
 * e.g. `definition.delivery.retry.max_attempts` without knowing the defaults, this adds an empty
 * object for each absent optional object property (no `required` keys) whose schema has defaults
 * inside; ajv then fills them in. Works on the copy that ajv validates, never on the raw data.
 */
export function addDefaultObjects(value: unknown, schema: JsonSchema, root: JsonSchema = schema, depth = 0): void {
  if (!isPlainObject(value) || depth > 32) return;
  const applicable = applicableSchemas(schema, value, root, 0);
  for (const s of applicable) {
    if (!isPlainObject(s.properties)) continue;
    for (const [key, childSchema] of Object.entries(s.properties)) {
      if (!isSchema(childSchema)) continue;
      if (!Object.prototype.hasOwnProperty.call(value, key)) {
        const resolved = applicableSchemas(childSchema, {}, root, 0);
        const isObject = resolved.some((r) => r.type === 'object');
        const hasRequired = resolved.some((r) => Array.isArray(r.required) && r.required.length > 0);
        const hasDefault = resolved.some((r) => 'default' in r);
        if (isObject && !hasRequired && !hasDefault && hasDefaultsInside(resolved, root, 0)) {
          Object.defineProperty(value, key, { value: {}, enumerable: true, writable: true, configurable: true });
        }
      }
      if (Object.prototype.hasOwnProperty.call(value, key)) addDefaultObjects(value[key], childSchema, root, depth + 1);
    }
  }
}

function hasDefaultsInside(schemas: JsonSchema[], root: JsonSchema, depth: number): boolean {
  if (depth > 16) return false;
  return schemas.some((s) => isPlainObject(s.properties) && Object.values(s.properties).some((child) => {
    if (!isSchema(child)) return false;
    const resolved = applicableSchemas(child, {}, root, 0);
    return resolved.some((r) => 'default' in r) || hasDefaultsInside(resolved.filter((r) => r.type === 'object'), root, depth + 1);
  }));
}
