import { describe, expect, it } from 'vitest';
import { compileExpression, DEFAULT_GUARDRAILS, mappingErrorMessage, MAX_RESULT_NESTING } from '../../src/compile/expression.js';
import { MappingError } from '../../src/compile/errors.js';
import { nestedRepetition } from '../../src/compile/regex-safety.js';

const event = {
  event_type: 'Order Completed',
  user_id: 'ann@example.com',
  time: 1732700000000,
  event_properties: { revenue: 42, items: [{ sku: 'a' }, { sku: 'b' }], coupon: null },
};

/** Evaluate and return the error (a MappingError) the evaluation fails with. */
async function failure(source: string, input: unknown = event, guardrails = {}): Promise<MappingError> {
  const expr = compileExpression(source, guardrails);
  try {
    await expr.evaluate(input);
  } catch (err) {
    expect(err).toBeInstanceOf(MappingError);
    return err as MappingError;
  }
  throw new Error(`expected ${source} to fail`);
}

function deeplyNested(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 0; i < levels; i++) {
    const child: Record<string, unknown> = {};
    node.d = child;
    node = child;
  }
  return root;
}

describe('compileExpression', () => {
  it('evaluates JSONata on an event and keeps its source', async () => {
    const expr = compileExpression('$lowercase($replace(event_type, " ", "_"))');
    expect(expr.source).toBe('$lowercase($replace(event_type, " ", "_"))');
    expect(typeof expr.sync).toBe('boolean');
    expect(await expr.evaluate(event)).toBe('order_completed');
    expect(await compileExpression('event_properties.revenue > 0').evaluate(event)).toBe(true);
    expect(await compileExpression('event_properties.missing').evaluate(event)).toBeUndefined();
    expect(await compileExpression('event_properties.coupon').evaluate(event)).toBeNull();
  });

  it('returns plain JSON: no sequence flags on arrays, fresh objects', async () => {
    const items = (await compileExpression('event_properties.items.sku').evaluate(event)) as string[];
    expect(items).toEqual(['a', 'b']);
    expect(Object.keys(items)).toEqual(['0', '1']);
    expect(Object.hasOwn(items, 'sequence')).toBe(false);
    const obj = (await compileExpression('event_properties').evaluate(event)) as Record<string, unknown>;
    expect(obj).toEqual(event.event_properties);
    expect(obj).not.toBe(event.event_properties);
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
  });

  it('turns a function result into a MappingError', async () => {
    const err = await failure('function($x){$x}');
    expect(err.code).toBe('ES_MAPPING');
    expect(err.message).toMatch(/function/);
    expect((await failure('{"f": $uppercase}')).message).toMatch(/function/);
  });

  it('reports a syntax error at compile time with jsonata’s code and position', () => {
    let caught: unknown;
    try {
      compileExpression('event_properties.revenue >');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MappingError);
    const err = caught as MappingError;
    expect(err.code).toBe('ES_MAPPING');
    expect(err.jsonataCode).toMatch(/^S0/);
    expect(typeof err.position).toBe('number');
  });

  it('reports a runtime error with jsonata’s code and message', async () => {
    const err = await failure('"a" + 1');
    expect(err.jsonataCode).toBe('T2001');
    expect(err.message).toMatch(/^T2001: The left side of the "\+" operator must evaluate to a number/);
  });

  it('refuses $eval however it is reached', () => {
    for (const source of ['$eval("1+1")', '($e := $eval; $e("1"))', 'event_properties.($eval(code))']) {
      expect(() => compileExpression(source)).toThrow(/\$eval is not allowed/);
    }
  });

  it('exposes the default guardrails', () => {
    expect(DEFAULT_GUARDRAILS).toEqual({ maxDepth: 200, timeoutMs: 100, maxSequenceLength: 100_000 });
  });
});

describe('compileExpression guardrails (hostile expressions fail fast, never hang or crash)', () => {
  it('stops non-terminating recursion by the stack limit (D1011)', async () => {
    const err = await failure('($inf := function($n){$n + $inf($n - 1)}; $inf(5))');
    expect(err.jsonataCode).toBe('D1011');
    expect(err.message).toMatch(/Stack overflow/);
  });

  it('stops a tail-recursive infinite loop by the time limit (D1012)', async () => {
    const err = await failure('($inf := function(){$inf()}; $inf())');
    expect(err.jsonataCode).toBe('D1012');
    expect(err.message).toMatch(/timeout after 100 milliseconds/);
  });

  it('stops nested lambda loops on the fast path by the time limit (D1012)', async () => {
    // Quadratic in the event's array: 3,000 items make 9 million lambda calls, seconds of work.
    const source = '$map(event_properties.items, function($i) { $count($filter(event_properties.items, function($j) { $j.sku = $i.sku })) })';
    const items = Array.from({ length: 3000 }, (_, i) => ({ sku: `s${i}` }));
    const input = { ...event, event_properties: { items } };
    expect(compileExpression(source).sync).toBe(true);
    // D1012 comes only from the guard: the loop itself would finish, with a result.
    const err = await failure(source, input, { timeoutMs: 20 });
    expect(err.jsonataCode).toBe('D1012');
    expect(err.message).toMatch(/timeout after 20 milliseconds/);
    // The same expression on a small array answers as jsonata does.
    expect(await compileExpression(source, { timeoutMs: 20 }).evaluate(event)).toEqual([1, 1]);
  });

  it('rejects the unparenthesized form as a syntax error at compile time', () => {
    expect(() => compileExpression('$inf := function(){$inf()}; $inf()')).toThrow(MappingError);
  });

  it('refuses a huge range (D2014) and sequences over the limit (D2015)', async () => {
    expect((await failure('[1..100000000]')).jsonataCode).toBe('D2014');
    expect((await failure('[1..1000000]')).jsonataCode).toBe('D2015');
    expect((await failure('$count([1..20])', event, { maxSequenceLength: 10 })).jsonataCode).toBe('D2015');
    expect(await compileExpression('$count([1..20])', { maxSequenceLength: 20 }).evaluate(event)).toBe(20);
  });

  it('honours a smaller depth limit', async () => {
    const source = '($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(30))';
    expect(await compileExpression(source).evaluate(event)).toBeGreaterThan(1e32);
    expect((await failure(source, event, { maxDepth: 20 })).jsonataCode).toBe('D1011');
  });

  it('refuses regular expressions that backtrack exponentially, at compile time', () => {
    expect(() => compileExpression('$match(user_id, /(a+)+b/)')).toThrow(/regular expression .* is not allowed/);
    expect(() => compileExpression('$replace(user_id, /(\\w+\\s?)*$/, "")')).toThrow(MappingError);
    expect(compileExpression('$contains(user_id, /^[a-z.]+@example\\.com$/)').source).toBeTruthy();
  });

  it('fails cleanly on deeply nested input (JS stack overflow inside built-ins)', async () => {
    const deep = { event_properties: deeplyNested(100_000) };
    expect((await failure('$string(event_properties)', deep)).message).toMatch(/call stack/i);
    expect((await failure('**.x', deep)).message).toMatch(/call stack/i);
    expect((await failure('event_properties', deep)).message).toMatch(`more than ${MAX_RESULT_NESTING} levels`);
  });

  it('keeps __proto__ keys built by an expression as data, polluting nothing', async () => {
    const result = (await compileExpression('{"__proto__": {"polluted": true}, "constructor": 1}').evaluate(event)) as Record<
      string,
      unknown
    >;
    expect(Object.hasOwn(result, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(JSON.stringify(result)).toBe('{"__proto__":{"polluted":true},"constructor":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps __proto__ keys of input data as data when copying results', async () => {
    const input = JSON.parse('{"event_properties":{"__proto__":{"polluted":true},"a":1}}') as unknown;
    const result = (await compileExpression('event_properties').evaluate(input)) as Record<string, unknown>;
    expect(Object.hasOwn(result, '__proto__')).toBe(true);
    expect(result.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('CompiledExpression.run (the transformer\'s hot path)', () => {
  it('returns what evaluate returns, and throws errors whose mappingErrorMessage is evaluate\'s message', async () => {
    const inputs = [event, { event_properties: { item_count: '2 items', n: '7' } }, [event, event], null];
    const sources = ['event_properties.revenue', '$number(event_properties.item_count)', '$number(event_properties.n)', 'event_properties', '"a" + 1', 'event_properties.items.sku', '1/0'];
    let failures = 0;
    for (const source of sources) {
      const expr = compileExpression(source);
      expect(expr.sync, source).toBe(true);
      for (const input of inputs) {
        let viaEvaluate: unknown;
        let viaRun: unknown;
        try {
          viaEvaluate = { value: expr.evaluate(input) };
        } catch (err) {
          viaEvaluate = { message: (err as MappingError).message };
        }
        try {
          viaRun = { value: expr.run!(input) };
        } catch (err) {
          failures++;
          viaRun = { message: mappingErrorMessage(err) };
        }
        expect(viaRun, `${source} on ${JSON.stringify(input)}`).toEqual(viaEvaluate);
      }
    }
    expect(failures).toBeGreaterThan(3);
    expect(() => compileExpression('$number(x)').run!({ x: '2 items' })).toThrow();
    expect(await failure('$number(x)', { x: '2 items' })).toMatchObject({
      message: 'D3030: Unable to cast value to a number: "2 items" (at character 8)',
    });
  });
});

describe('nestedRepetition (regex safety heuristic)', () => {
  it.each(['(a+)+b', '(a*)*', '((ab)*)+', '(\\w+\\s?)*$', '(a{2,})+', '([a-z]+)*x', '(?:a+)+', '(a+){2,5}'])(
    'flags /%s/',
    (pattern) => {
      expect(nestedRepetition(pattern)).toMatch(/exponential/);
    },
  );

  it.each(['^[a-z]+@[a-z.]+$', '(\\d{3})-(\\d{4})', '(ab)+', 'a+b+', '[(+*)]+', '(a|b)?c*', '\\(a+\\)+', '(a{1})+', 'x{2,3}'])(
    'allows /%s/',
    (pattern) => {
      expect(nestedRepetition(pattern)).toBeUndefined();
    },
  );
});
