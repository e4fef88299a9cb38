import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePropertyCopier } from '../../src/compile/property-copy.js';

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
