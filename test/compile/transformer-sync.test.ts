/**
 * The synchronous path: when the fast compiler (H3's compileToJs) takes every expression, the
 * transformer is `sync` and `transform` returns a plain Outcome, never a Promise. compileToJs is
 * replaced here by a tiny compiler for plain field paths and string literals, so this test does
 * not depend on how much of JSONata the real fast path covers.
 */
import { describe, expect, it, vi } from 'vitest';

vi.mock('../../src/compile/fast/index.js', () => ({
  compileToJs: miniCompileToJs,
  // What compileExpression uses: the same compiler, results made plain as the real one does.
  compileToJsPlain(ast: MiniAst, toPlain: (value: unknown, maxLength: number) => unknown, maxLength: number) {
    const compiled = miniCompileToJs(ast);
    if (compiled === undefined) return undefined;
    return (input: unknown) => {
      const result = compiled(input);
      return typeof result === 'string' || typeof result === 'boolean' || result === undefined ? result : toPlain(result, maxLength);
    };
  },
  populateMessage() {},
}));

type MiniAst = { type: string; value?: unknown; steps?: Array<{ type: string; value: string; predicate?: unknown; stages?: unknown }> };

/** A tiny fast compiler: plain field paths and string literals; `boom…` throws jsonata-shaped. */
function miniCompileToJs(ast: MiniAst): ((input: unknown) => unknown) | undefined {
  if (ast.type === 'string') return () => ast.value;
  if (ast.type !== 'path' || !ast.steps?.every((s) => s.type === 'name' && !s.predicate && !s.stages)) return undefined;
  const names = ast.steps.map((s) => s.value);
  if (names[0] === 'boom') {
    return () => {
      throw { code: 'T9999', message: 'fast failure', position: 4 };
    };
  }
  return (input: unknown) => {
    let value: unknown = input;
    for (const name of names) {
      if (typeof value !== 'object' || value === null || !Object.hasOwn(value, name)) return undefined;
      value = (value as Record<string, unknown>)[name];
    }
    return value;
  };
}

const { compileDestination } = await import('../../src/compile/transformer.js');
const { compileExpression } = await import('../../src/compile/expression.js');
const { assertValidExtoleRequestBody } = await import('../support/extole-openapi.js');

const EVENT = {
  event_type: 'Order Completed',
  user_id: 'ann@example.com',
  time: 1732700000000,
  insert_id: 'o-1',
  event_properties: { revenue: 42 },
  user_properties: { unique_id: 1001 },
};

describe('sync transformers', () => {
  it('compileExpression marks fast-compiled expressions sync and returns plain values', () => {
    const expr = compileExpression('event_properties.revenue');
    expect(expr.sync).toBe(true);
    expect(expr.evaluate(EVENT)).toBe(42);
    expect(compileExpression('$uppercase(event_type)').sync).toBe(false);
  });

  it('is sync when every expression is, and transform returns a plain object', () => {
    const t = compileDestination({
      name: 'fast',
      definition: {
        projects: ['web-prod'],
        extole: { access_token: 'x' },
        events: [{ type: 'Order Completed', where: 'event_properties.revenue' }],
        identity: { email: 'user_id', partner_user_id: 'user_properties.unique_id' },
        mapping: { event_name: '"purchase"', data: { partner_conversion_id: 'insert_id' } },
      },
    });
    expect(t.sync).toBe(true);
    const outcome = t.transform(EVENT, 'web-prod');
    expect(outcome).not.toBeInstanceOf(Promise);
    if (outcome instanceof Promise || outcome.outcome !== 'send') throw new Error('expected a request');
    assertValidExtoleRequestBody(outcome.request.body);
    expect(outcome.request.body).toEqual({
      event_name: 'purchase',
      event_time: '2024-11-27T09:33:20.000Z',
      data: { partner_conversion_id: 'o-1', extole_app_type: 'extole-stream', email: 'ann@example.com', partner_user_id: '1001' },
    });
    // Drops are plain too.
    expect(t.transform({ ...EVENT, event_type: 'Other' }, 'web-prod')).toEqual({ outcome: 'drop', reason: 'event_not_selected' });
    expect(t.transform({ ...EVENT, event_properties: { revenue: 0 } }, 'web-prod')).toEqual({
      outcome: 'drop',
      reason: 'event_not_selected',
    });
  });

  it('is not sync when one expression needs the jsonata evaluator', async () => {
    const t = compileDestination({
      name: 'slow',
      definition: {
        projects: ['web-prod'],
        extole: { access_token: 'x' },
        events: [{ type: '*' }],
        mapping: { data: { upper: '$uppercase(event_type)' } },
      },
    });
    expect(t.sync).toBe(false);
    const result = t.transform(EVENT, 'web-prod');
    expect(result).toBeInstanceOf(Promise);
    const outcome = await result;
    expect(outcome.outcome === 'send' && outcome.request.body.data.upper).toBe('ORDER COMPLETED');
  });

  it('turns errors thrown by fast code (jsonata-shaped) and unusable results into mapping_error drops', () => {
    const t = (mapping: Record<string, unknown>) =>
      compileDestination({
        name: 'fast',
        definition: { projects: ['web-prod'], extole: { access_token: 'x' }, events: [{ type: '*' }], mapping },
      });
    const throwing = t({ data: { x: 'boom' } });
    expect(throwing.sync).toBe(true);
    expect(throwing.transform(EVENT, 'web-prod')).toEqual({
      outcome: 'drop',
      reason: 'mapping_error',
      message: 'mapping.data.x: T9999: fast failure (at character 4)',
    });
    expect(t({ event_name: 'event_properties' }).transform(EVENT, 'web-prod')).toMatchObject({
      outcome: 'drop',
      reason: 'mapping_error',
    });
  });
});
