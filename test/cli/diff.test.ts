import { describe, expect, it } from 'vitest';
import { diffValues, formatDifferences, joinPath, showValue } from '../../src/testing/diff.js';

describe('diffValues', () => {
  it('finds nothing in equal values, whatever the key order', () => {
    expect(diffValues({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
  });

  it('names changed, missing and unexpected fields by path', () => {
    const diffs = diffValues(
      { event_name: 'conversion', data: { revenue: 42, email: 'ann@example.com' } },
      { event_name: 'conversion', data: { revenue: '42', coupon_code: 'X' } },
      'body',
    );
    expect(diffs).toEqual([
      { path: 'body.data.revenue', kind: 'changed', expected: 42, actual: '42' },
      { path: 'body.data.email', kind: 'missing', expected: 'ann@example.com' },
      { path: 'body.data.coupon_code', kind: 'unexpected', actual: 'X' },
    ]);
  });

  it('walks arrays index by index and quotes keys that are not identifiers', () => {
    const diffs = diffValues({ 'coupon code': [1, 2, 3] }, { 'coupon code': [1, 5] });
    expect(diffs.map((d) => [d.path, d.kind])).toEqual([
      ['["coupon code"][1]', 'changed'],
      ['["coupon code"][2]', 'missing'],
    ]);
  });

  it('treats objects with a null prototype like plain objects', () => {
    const actual = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(diffValues({ a: 1 }, actual)).toEqual([]);
    expect(diffValues({ a: 2 }, actual)).toHaveLength(1);
  });

  it('reports a kind mismatch (object vs array vs scalar) once, at its path', () => {
    expect(diffValues({ data: [] }, { data: {} })).toEqual([{ path: 'data', kind: 'changed', expected: [], actual: {} }]);
    expect(diffValues(1, 2)).toEqual([{ path: '(value)', kind: 'changed', expected: 1, actual: 2 }]);
  });
});

describe('formatting', () => {
  it('prints - expected / + actual lines per difference', () => {
    const lines = formatDifferences([
      { path: 'body.data.revenue', kind: 'changed', expected: 42, actual: '42' },
      { path: 'body.data.email', kind: 'missing', expected: 'a@b.c' },
      { path: 'body.data.x', kind: 'unexpected', actual: true },
    ]);
    expect(lines).toEqual([
      'body.data.revenue',
      '  - expected 42',
      '  + actual   "42"',
      'body.data.email (missing)',
      '  - expected "a@b.c"',
      'body.data.x (unexpected)',
      '  + actual   true',
    ]);
  });

  it('shortens huge values', () => {
    const shown = showValue('x'.repeat(10_000), 50);
    expect(shown.length).toBeLessThan(100);
    expect(shown).toContain('10002 characters');
  });

  it('joins paths', () => {
    expect(joinPath('', 'a')).toBe('a');
    expect(joinPath('a', 0)).toBe('a[0]');
    expect(joinPath('headers', 'content-type')).toBe('headers.content-type');
    expect(joinPath('data', '1st')).toBe('data["1st"]');
  });
});
