/**
 * Validate bodies against Extole's own published OpenAPI (../shared/reference, never copied into
 * the repo): `EventDispatcherRequest` for request bodies we build, `RestExceptionResponse` for
 * error bodies we answer with (sandbox).
 *
 * When ../shared is absent (a user's clone), the asserts do nothing and `openApiSkipReason`
 * says why (use it in `it.skipIf(!openApiAvailable)` names); with CI=true a missing file fails at
 * import instead.
 *
 * OpenAPI 3.0 schemas are not JSON Schema: `nullable: true` becomes a `"null"` type, OpenAPI-only
 * keywords (`example`, `discriminator`, `xml`, `externalDocs`) are removed, and
 * `#/components/schemas/...` refs resolve inside the loaded document.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** Absolute path of Extole's OpenAPI beside the checkout. */
export const extoleOpenApiPath = fileURLToPath(
  new URL('../../../shared/reference/extole-integration-server-to-extole.openapi.json', import.meta.url),
);

/** True when the OpenAPI file is there and the asserts really validate. */
export const openApiAvailable = existsSync(extoleOpenApiPath);

/** One line for skipped tests. */
export const openApiSkipReason = `skipped: Extole OpenAPI not found at ${extoleOpenApiPath} (../shared is absent)`;

if (!openApiAvailable && process.env.CI === 'true') {
  throw new Error(`CI=true but Extole's OpenAPI is missing at ${extoleOpenApiPath}`);
}

const OPENAPI_ONLY_KEYWORDS = new Set(['example', 'examples', 'discriminator', 'xml', 'externalDocs', 'nullable']);
const SCHEMA_ID = 'https://extole-stream.test/extole-openapi.json';

/** OpenAPI 3.0 schema node → JSON Schema draft-07 node (recursively). */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== 'object' || node === null) return node;
  const source = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (OPENAPI_ONLY_KEYWORDS.has(key)) continue;
    // `properties` maps names to schemas: names are not keywords, so recurse per value.
    if (key === 'properties' && typeof value === 'object' && value !== null) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toJsonSchema(sub)]));
      continue;
    }
    out[key] = toJsonSchema(value);
  }
  if (source.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.type) && !out.type.includes('null')) out.type = [...out.type, 'null'];
    else if (out.type === undefined && out.$ref !== undefined) {
      out.anyOf = [{ $ref: out.$ref }, { type: 'null' }];
      delete out.$ref;
    }
  }
  return out;
}

let validators: { request: ValidateFunction; exception: ValidateFunction } | undefined;

function load(): { request: ValidateFunction; exception: ValidateFunction } {
  if (validators !== undefined) return validators;
  const openapi = JSON.parse(readFileSync(extoleOpenApiPath, 'utf8')) as {
    components: { schemas: Record<string, unknown> };
  };
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  ajv.addSchema({ $id: SCHEMA_ID, components: { schemas: toJsonSchema(openapi.components.schemas) } });
  const get = (name: string): ValidateFunction => {
    const validate = ajv.getSchema(`${SCHEMA_ID}#/components/schemas/${name}`);
    if (validate === undefined) throw new Error(`Extole OpenAPI has no schema ${name}`);
    return validate;
  };
  validators = { request: get('EventDispatcherRequest'), exception: get('RestExceptionResponse') };
  return validators;
}

function check(validate: ValidateFunction, name: string, body: unknown): void {
  // Validate what goes over the wire: the JSON text parsed back (drops undefined, own __proto__
  // keys stay data).
  const wire: unknown = JSON.parse(JSON.stringify(body) ?? 'null');
  if (validate(wire)) return;
  const problems = (validate.errors ?? [])
    .map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`)
    .join('; ');
  throw new Error(`not a valid Extole ${name}: ${problems}\n${JSON.stringify(wire).slice(0, 500)}`);
}

/** Throw unless `body` is a valid Extole `EventDispatcherRequest` (no-op when ../shared is absent). */
export function assertValidExtoleRequestBody(body: unknown): void {
  if (!openApiAvailable) return;
  check(load().request, 'EventDispatcherRequest', body);
}

/** Throw unless `body` is a valid Extole `RestExceptionResponse` (no-op when ../shared is absent). */
export function assertValidRestException(body: unknown): void {
  if (!openApiAvailable) return;
  check(load().exception, 'RestExceptionResponse', body);
}
