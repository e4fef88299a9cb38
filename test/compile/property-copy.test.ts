import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileDataMapper, compilePropertyCopier, type DataMapping } from '../../src/compile/property-copy.js';

/** The rule the copier compiles: allowed own keys in list order, null/undefined left out, as_strings. */
function reference(keys: readonly string[], asStrings: boolean, props: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const key of keys) {
    if (!Object.hasOwn(props, key)) continue;
    let value = props[key];
    if (value === null || value === undefined) continue;
    if (asStrings) {
      if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
      else if (typeof value !== 'string') continue;
    }
    Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return data;
}

const KEYS = ['a', 'b', 'rating', 'has "quotes"', 'line\nbreak', '0', '__proto__', 'constructor', 'toString', 'ünï'];
const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constant({ x: 1 }), fc.constant([1]));

describe('compilePropertyCopier', () => {
  it('copies exactly what the allow-list rule copies, in list order, for any keys and values', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 6 }),
        fc.array(fc.tuple(fc.constantFrom(...KEYS), value), { maxLength: 8 }),
        fc.boolean(),
        (keys, pairs, asStrings) => {
          const props: Record<string, unknown> = {};
          for (const [k, v] of pairs) Object.defineProperty(props, k, { value: v, enumerable: true, writable: true, configurable: true });
          const data: Record<string, unknown> = {};
          compilePropertyCopier(keys, asStrings)(data, props);
          const want = reference(keys, asStrings, props);
          expect(Object.keys(data)).toEqual(Object.keys(want));
          expect(data).toEqual(want);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('stores __proto__ as data, never as the prototype, and ignores inherited keys', () => {
    const copy = compilePropertyCopier(['__proto__', 'toString', 'plan'], false);
    const data: Record<string, unknown> = {};
    copy(data, JSON.parse('{"__proto__":{"polluted":true},"plan":"pro"}') as Record<string, unknown>);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.keys(data)).toEqual(['__proto__', 'plan']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('compileDataMapper', () => {
  /** The loop it replaces (transformer's fallback): store non-null results in order, stop at the first throw. */
  function reference(mappings: DataMapping[], data: Record<string, unknown>, event: unknown): { label: string; err: unknown } | undefined {
    for (const m of mappings) {
      let value: unknown;
      try {
        value = m.run(event);
      } catch (err) {
        return { label: m.label, err };
      }
      if (value !== undefined && value !== null) Object.defineProperty(data, m.key, { value, enumerable: true, writable: true, configurable: true });
    }
    return undefined;
  }

  const result = fc.oneof(value, fc.constant('throw'));

  it('stores what the loop stores, in order, and stops at the same failing expression', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...KEYS), result), { maxLength: 6 }), (specs) => {
        const mappings: DataMapping[] = specs.map(([key, r], i) => ({
          key,
          label: `mapping.data.${key}#${i}`,
          run: () => {
            if (r === 'throw') throw new Error(`failed ${i}`);
            return r;
          },
        }));
        const mapper = compileDataMapper(mappings)!;
        const got: Record<string, unknown> = { first: 1 };
        const want: Record<string, unknown> = { first: 1 };
        const gotFailure = mapper(got, {});
        const wantFailure = reference(mappings, want, {});
        expect(gotFailure?.label).toBe(wantFailure?.label);
        expect((gotFailure?.err as Error | undefined)?.message).toBe((wantFailure?.err as Error | undefined)?.message);
        expect(Object.keys(got)).toEqual(Object.keys(want));
        expect(got).toEqual(want);
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      }),
      { numRuns: 1000 },
    );
  });

  it('passes the event to each expression and never writes a key into the generated source as code', () => {
    const seen: unknown[] = [];
    const event = { id: 7 };
    const mapper = compileDataMapper([
      { key: '"]; throw new Error("injected"); //', label: 'a', run: (e) => (seen.push(e), 'x') },
      { key: '__proto__', label: 'b', run: () => ({ polluted: true }) },
    ])!;
    const data: Record<string, unknown> = {};
    expect(mapper(data, event)).toBeUndefined();
    expect(seen).toEqual([event]);
    expect(Object.keys(data)).toEqual(['"]; throw new Error("injected"); //', '__proto__']);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
