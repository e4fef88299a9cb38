/**
 * `validate` and `serve` agree on regular expressions: what compileExpression refuses (nested
 * repetition, SPEC §2.3 guardrails) validation reports as `jsonata-unsafe-regex`, located at the
 * regex literal inside the expression, and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { checkExpression } from '../../src/config/jsonata-check.js';
import { compileExpression } from '../../src/compile/expression.js';

const EXPRESSIONS: Array<[string, boolean]> = [
  ['$match(user_id, /(a+)+b/)', true],
  ['$replace(event_type, /(x|y*)*z/i, "_")', true],
  ['user_id ~> /^((ab){2,})+$/', true],
  ['$contains(user_id, /[a-z]+@example\\.com/)', false],
  ['$split(user_id, /\\s*,\\s*/)', false],
  ['$match(user_id, /(ab)?c+/)', false],
  ['$string(insert_id)', false],
];

function compileRefuses(source: string): boolean {
  try {
    compileExpression(source);
    return false;
  } catch (err) {
    return (err as { jsonataCode?: string }).jsonataCode === 'ES_REGEX';
  }
}

describe('checkExpression: unsafe regular expressions', () => {
  it.each(EXPRESSIONS)('%s → refused: %s (the same verdict as compileExpression)', (source, unsafe) => {
    const problems = checkExpression(source).filter((p) => p.rule === 'jsonata-unsafe-regex');
    expect(problems.length > 0).toBe(unsafe);
    expect(compileRefuses(source)).toBe(unsafe);
    for (const p of problems) {
      expect(p.severity).toBe('error');
      // Points at the literal's opening slash.
      expect(source[p.offset]).toBe('/');
      expect(source.slice(p.offset)).toMatch(/^\/.*\/[a-z]*/);
      expect(p.message).toMatch(/^regular expression \/.+\/ is not allowed: a repeated group contains repetition/);
    }
  });

  it('finds each unsafe regex of an expression, in order', () => {
    const source = '$match(a, /(a*)*/) & $match(b, /ok/) & $match(c, /(b+)+/)';
    const offsets = checkExpression(source).filter((p) => p.rule === 'jsonata-unsafe-regex').map((p) => p.offset);
    expect(offsets).toEqual([source.indexOf('/(a*)'), source.indexOf('/(b+)')]);
  });
});
