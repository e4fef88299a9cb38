import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The three schemas this project owns (Extole's request schema mirrors Extole's own, open maps included). */
const OWN = ['extole-config', 'destination', 'amplitude-event'] as const;

type Node = Record<string, unknown>;
const load = (name: string): Node =>
  JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as Node;

/** Visit every sub-schema with its JSON-pointer-ish path. */
function walk(node: unknown, path: string, visit: (n: Node, path: string) => void): void {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return;
  const n = node as Node;
  visit(n, path);
  for (const [k, v] of Object.entries((n.properties as Node | undefined) ?? {})) walk(v, `${path}/properties/${k}`, visit);
  for (const [k, v] of Object.entries((n.$defs as Node | undefined) ?? {})) walk(v, `#/$defs/${k}`, visit);
  for (const key of ['items', 'additionalProperties', 'not', 'propertyNames']) walk(n[key], `${path}/${key}`, visit);
  for (const key of ['anyOf', 'oneOf', 'allOf']) ((n[key] as unknown[] | undefined) ?? []).forEach((s, i) => walk(s, `${path}/${key}/${i}`, visit));
}

describe('schemas/', () => {
  for (const name of OWN) {
    const schema = load(name);

    it(`${name}: JSON Schema 2020-12 with a title and an $id`, () => {
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(typeof schema.title).toBe('string');
      expect(String(schema.$id)).toMatch(new RegExp(`/${name}\\.schema\\.json$`));
    });

    it(`${name}: every field has a description`, () => {
      const missing: string[] = [];
      walk(schema, '', (n, path) => {
        for (const [k, v] of Object.entries((n.properties as Record<string, Node> | undefined) ?? {})) {
          if (typeof v.description !== 'string' || v.description.length === 0) missing.push(`${path}/properties/${k}`);
        }
      });
      expect(missing).toEqual([]);
    });

    it(`${name}: every object with declared fields refuses unknown keys`, () => {
      const open: string[] = [];
      walk(schema, '', (n, path) => {
        if (n.properties && n.additionalProperties !== false) open.push(path || '/');
      });
      expect(open).toEqual([]);
    });
  }

  it('marks exactly the secret fields of SPEC §2.3 with x-secret', () => {
    const secrets: string[] = [];
    for (const name of OWN) {
      walk(load(name), name, (n, path) => {
        if (n['x-secret'] === true) secrets.push(path);
      });
    }
    expect(secrets.sort()).toEqual(
      [
        '#/$defs/extole/properties/access_token',
        '#/$defs/project/properties/api_key',
        '#/$defs/queue/properties/url',
        '#/$defs/server/properties/admin_token',
      ].sort(),
    );
  });
});
