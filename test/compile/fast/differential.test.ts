/**
 * Differential tests: for generated Amplitude-like events, every expression compiled by the fast
 * path must give what `await jsonata(expr).evaluate(event)` gives — the same value, or an error
 * with the same code.
 */
import fc from 'fast-check';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { specializedPathReader } from '../../../src/compile/fast/compile.js';
import { compileToJs, type CompiledJs } from '../../../src/compile/fast/index.js';
import { clone, type Outcome, outcomeOf, outcomeOfAsync } from './helpers.js';

/** Realistic mapping expressions (and a few sharp edges) that the fast path must compile. */
const EXPRESSIONS = [
  // paths
  'event_type',
  'user_id',
  'user_properties.unique_id',
  'user_properties.plan',
  'event_properties.revenue',
  'event_properties.items',
  'event_properties.items.sku',
  'event_properties.items.price',
  'event_properties.items[].sku',
  'event_properties.items.tags',
  'event_properties.meta.source.name',
  'groups.company',
  '$.event_properties.currency',
  '$$.user_properties.plan',
  'event_properties.*',
  'event_properties.**.name',
  'missing.field.path',
  // string functions
  '$lowercase($replace(event_type, " ", "_"))',
  '$uppercase(event_type)',
  '$trim(event_type)',
  '$replace(event_type, "e", "E")',
  '$replace(event_type, " ", "_", 1)',
  '$substring(event_type, 0, 5)',
  '$substring(event_type, -3)',
  '$contains(event_type, "Order")',
  '$length(event_type)',
  '$join(event_properties.items.sku, ",")',
  '$join(event_properties.tags, "|")',
  '$substringBefore(user_id, "@")',
  '$substringAfter(user_id, "@")',
  '$split(event_type, " ")',
  '$pad($string(event_properties.qty), 6, "0")',
  // casts
  '$string(user_properties.unique_id)',
  '$string(event_properties.revenue)',
  '$string(event_properties)',
  '$string(event_properties.items)',
  '$number(event_properties.revenue)',
  '$number(user_properties.unique_id)',
  '$boolean(event_properties.coupon_code)',
  '$boolean(event_properties.items)',
  '$not(user_properties.plan)',
  '$exists(event_properties.coupon_code)',
  '$count(event_properties.items)',
  '$count(event_properties.items.sku)',
  '$type(event_properties.revenue)',
  '$keys(event_properties)',
  // comparisons and logic
  'event_properties.revenue > 0 and user_properties.plan = "pro"',
  'event_properties.revenue >= 100 or event_properties.coupon_code = "VIP"',
  'event_properties.revenue < 10',
  'event_properties.revenue <= event_properties.qty',
  'user_properties.plan != "free"',
  'event_type = "Order Completed"',
  'event_properties = user_properties',
  'event_properties.items = event_properties.items',
  'event_type in ["Order Completed", "Sign Up"]',
  'user_properties.plan in ["pro", "team"]',
  'event_properties.items.sku in ["A-1"]',
  // arithmetic and strings
  'event_properties.revenue * 100',
  'event_properties.revenue + event_properties.qty',
  'event_properties.revenue - 1',
  'event_properties.revenue / 4',
  'event_properties.revenue % 7',
  '-event_properties.revenue',
  '$sum(event_properties.items.price)',
  '$round(event_properties.revenue, 2)',
  '$floor(event_properties.revenue)',
  '$abs(event_properties.revenue)',
  'event_type & " by " & user_id',
  '"order-" & insert_id',
  'event_properties.revenue & ""',
  // conditionals
  'event_properties.revenue ? "paid" : "free"',
  'user_properties.plan = "pro" ? user_properties.unique_id : user_id',
  'event_properties.coupon_code ?: "none"',
  'user_id ?? device_id',
  // constructors
  '{ "a": event_type, "b": user_id }',
  '{ "plan": user_properties.plan, "id": $string(user_properties.unique_id), "n": $count(event_properties.items) }',
  '{ event_type: user_id }',
  '[event_type, user_id]',
  '[event_properties.items.sku]',
  '[event_properties.revenue][0]',
  '$merge([user_properties, event_properties])',
  '$merge([{ "source": "amplitude" }, { "type": event_type }])',
  'event_properties.items.{ "sku": sku, "total": price * qty }',
  'event_properties.items{ sku: price }',
  // filters
  'event_properties.items[price > 10].sku',
  'event_properties.items[0]',
  'event_properties.items[-1].sku',
  'event_properties.items[sku = "A-1"]',
  'event_properties.tags[$ != "b"]',
  '(event_properties.revenue; user_id)',
  // shapes the compiler specializes (direct built-in calls, literal comparisons, constant objects)
  '$lookup({"Order Completed": "conversion", "Sign Up": "registration", "42": 42, "n": null}, event_type)',
  '$lookup({"a": 1, "b": true}, user_properties.plan)',
  '{"b": 1, "a": "x", "10": false}',
  '{"a": 1}.a',
  '$not(event_properties.coupon_code = true)',
  '"Sign Up" = event_type',
  'event_properties.revenue != 0',
  'user_properties.unique_id = 42',
  'event_properties.tags = "a"',
  '"challenge_" & $lowercase($replace(event_type, " ", "_"))',
  'event_properties.revenue & user_id',
  '$exists(event_properties.qty) ? $pad("", event_properties.qty, "*")',
  '$substring(event_type, 1)',
  '$substring(event_properties.qty, 1)',
  '$number(event_properties.currency)',
  '$lowercase(user_properties.unique_id)',
  '$contains(user_id, "@") ? "mail" : "other"',
  '(user_id)',
  '(event_type = "Sign Up") ? event_properties.items : user_id',
  // `~>`: the left side becomes the call's first argument
  'event_type ~> $lowercase() ~> $replace(" ", "_")',
  'user_id ~> $substringBefore("@")',
  'event_properties.items.sku ~> $join(",")',
  'event_properties.revenue ~> $string()',
  'event_properties.items ~> $count()',
  'event_properties.qty ~> $pad(4, "0")',
  '$lowercase(event_type) ~> $contains("order")',
  'event_properties ~> $keys()',
  '(event_type ~> $uppercase()) & "!"',
  'event_properties.items[0] ~> $lookup("sku")',
  // `:=`: a block's own frame; at the top, the evaluation's
  '($x := event_type; $x & "!")',
  '($t := $lowercase(event_type); $contains($t, "order") ? $t : user_id)',
  'event_properties.items.($v := price; $v * 2)',
  '{ "k": ($p := user_properties.plan; $uppercase($p)) }',
  '($y := $x; $x := event_type; [$x, $y])',
  '($x := 1; ($x := 2); $x)',
  'event_properties.items[($q := qty; $q > 1)].sku',
  '$n := event_properties.revenue',
  '($s := event_properties.items.price; $sum($s) & "/" & $count($s))',
  // regular expressions: a matcher, as jsonata passes them
  '$replace(event_type, /\\s+/, "_")',
  '$replace(user_id, /(\\w+)@(\\w+)/, "$2 at $1 ($0) $$ $9")',
  '$replace(event_type, /o/i, "0", 1)',
  '$replace(event_type, /x*/, "-")',
  '$contains(event_type, /order/i)',
  '$contains(user_id, /^[^@]+@[^@]+$/)',
  '$split(event_type, /\\s/)',
  '$split(user_id, /@/, 1)',
  '$match(user_id, /[a-z]+/)',
  '$match(event_type, /(o)(r)?/i, 2)',
  'event_type ~> $replace(/ /, "-") ~> $lowercase()',
  '$match(event_type, /or/i)[0].index',
  '$replace(event_type, /e/, event_properties.missing)',
  // time stamps, without a picture
  '$fromMillis(time)',
  'time ~> $fromMillis() ~> $toMillis() = time',
  '$toMillis(event_type)',
  // with a picture: jsonata's own parser (jsonata-builtins.ts)
  '$toMillis($fromMillis(time, "[Y0001]-[M01]-[D01] [H01]:[m01]:[s01]"), "[Y0001]-[M01]-[D01] [H01]:[m01]:[s01]")',
  '$toMillis("21 October 2018", "[D1] [MNn] [Y0001]")',
  '$toMillis(event_type, "[Y0001]-[M01]-[D01]")',
  '$toMillis("2018-21", "[Y0001]-[D01]")',
  '$toMillis("2018", "[Q]")',
  '$toMillis(user_id, event_type)',
  // $spread and $zip
  '$spread(event_properties)',
  '$spread(event_properties.items)',
  '$spread([event_properties, user_properties, user_id])',
  '$spread({})',
  '$spread(user_id)',
  '$spread(event_properties).*',
  '$zip(event_properties.items, [1, 2, 3])',
  '$zip(user_id, event_type)',
  '$zip(event_properties.items.sku, event_properties.items.price, event_properties.missing)',
  '$zip([1, 2], [3])',
  // numbers and checks
  '$power(event_properties.qty, 2)',
  '$power(event_properties.revenue, 0.5)',
  '$sqrt(event_properties.revenue)',
  '$formatBase(event_properties.qty, 2)',
  '$formatBase(user_properties.unique_id, 36)',
  '$exists(user_id) ? user_id : $error("no user")',
  '$assert($exists(event_type), "needs a type")',
  '($assert(event_properties.revenue > 0); event_properties.revenue)',
  // encodings
  '"https://example.com/r?u=" & $encodeUrlComponent(user_id)',
  '$encodeUrl("https://example.com/" & event_type)',
  '$decodeUrlComponent(event_type)',
  '$decodeUrl(user_id)',
  '$base64encode(user_id)',
  '$base64decode($base64encode(event_type))',
  // number pictures
  '$formatNumber(event_properties.revenue, "#,##0.00")',
  '$formatNumber(event_properties.qty, "000")',
  '$formatNumber(event_properties.revenue, "#,##0.00;(#,##0.00)")',
  'event_properties.revenue ~> $formatNumber("0.0e0")',
  // lambdas given to higher-order built-ins
  '$map(event_properties.items, function($v) { $v.sku })',
  '$map(event_properties.items, function($v, $i) { $string($i) & ":" & $v.sku })',
  '$map(event_properties.items, function($v, $i, $a) { $count($a) - $i })',
  'event_properties.items ~> $map(function($v) { $uppercase($v.sku) })',
  '$map(event_properties.tags, function($t) { $t = "a" ? $uppercase($t) : ($x := $t & $t; $x) })',
  '$map(event_properties.items, function($v) { $v.tags })',
  '$map(event_properties.items, function($v) { $append($v.tags, []) })',
  '$map(event_properties.items, function($v) { $filter($v.tags, function($t) { $t != "a" }) })',
  '$map(event_properties.items, function($v) { $string() })',
  '$map(event_properties.items, function() { event_type })',
  '$filter(event_properties.items, function($v) { $v.price > 10 }).sku',
  '$filter(event_properties.items, function($v, $i) { $i > 0 })[0].name',
  '$reduce(event_properties.items.price, function($acc, $p) { $acc + $p })',
  '$reduce(event_properties.items, function($acc, $v, $i) { $acc & $i & $v.sku }, "")',
  '$reduce(event_properties.items.qty, function($acc) { $acc })',
  '$single(event_properties.items, function($v) { $v.sku = "A-1" }).price',
  '$sift(event_properties, function($v, $k) { $k != "extra" and $exists($v) })',
  '$each(user_properties, function($v, $k) { $k & "=" & $string($v) })',
  '$sum($map(event_properties.items, function($v) { $v.price * $v.qty }))',
  '($rate := 2; $map(event_properties.items.qty, function($q) { $q * $rate }))',
  '$sort(event_properties.items, function($l, $r) { $l.price > $r.price }).sku',
  '$sort(event_properties.items.qty)',
  '$sort(event_properties.tags)',
  '$single(event_properties.tags)',
  // functions the expression defines
  '($norm := function($s) { $lowercase($trim($s)) }; $norm(event_type) & "/" & $norm(user_properties.plan))',
  '($price := function($i) { $i.price * $i.qty }; $sum($map(event_properties.items, function($i) { $price($i) })))',
  '($tag := function($t, $n) { $t & ":" & $string($n) }; $label := function($t) { $tag($t, 1) }; event_type ~> $label())',
  '($f := function() { $ }; event_properties.items.$f().sku)',
  '($first := function($a) { $a[0] }; $first(event_properties.items).name)',
  '($f := function($x) { $x.tags }; $f(event_properties.items[0]))',
  '($f := function($x) { $append($x, []) }; $g := function($y) { $f($y) }; $g(event_properties.tags))',
  '{ "a": ($f := function($x) { $x.qty }; $f(event_properties)), "b": event_type }',
  '($sku := function($i) { $i.sku }; $map(event_properties.items, $sku))',
  '($cheap := function($i) { $i.price < 10 }; event_properties.items ~> $filter($cheap) ~> $count())',
  '($byPrice := function($l, $r) { $l.price > $r.price }; $sort(event_properties.items, $byPrice).name)',
  '($ctx := function($i) { $string() }; $map(event_properties.tags, $ctx))',
  '($norm := function($s) { $lowercase($s) }; event_type ~> $norm)',
  // pictures (jsonata's own date/time and integer formatting)
  '$fromMillis(time, "[Y0001]-[M01]-[D01]")',
  'time ~> $fromMillis("[H01]:[m01]", "+0100")',
  '$fromMillis(time, "[FNn], [D1o] [MNn] [Y]")',
  '$formatInteger(event_properties.qty, "w")',
  '$formatInteger(event_properties.qty, "I")',
  '$parseInteger($formatInteger(event_properties.qty, "w"), "w")',
  // sort steps
  'event_properties.items^(price).sku',
  'event_properties.items^(>price, name)[0].sku',
  'event_properties.items^(qty).qty',
  'event_properties.tags^(>$)',
  'event_properties.items^($string(sku))[-1]',
];

const text = fc.oneof(
  fc.constantFrom('Order Completed', 'Sign Up', 'page view', '  Spaced   Out  ', 'Ünïcødé 🎉 order', '', 'A-1', 'pro', 'free', 'e', '42', '-3.5', '0x1F'),
  fc.string({ maxLength: 12 }),
);
const number = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.constantFrom(0, -0, 0.1, 1e21, 1.7976931348623157e308, 123.456789012345678),
);
const scalar = fc.oneof(text, number, fc.boolean(), fc.constant(null));
const anything = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'name', 'sku'), scalar, { maxKeys: 2 }));
const item = fc.record(
  {
    sku: fc.oneof(fc.constantFrom('A-1', 'B-2', 'C-3'), scalar),
    price: fc.oneof(number, scalar),
    qty: fc.oneof(fc.integer({ min: 0, max: 5 }), scalar),
    tags: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
    name: text,
  },
  { requiredKeys: [] },
);
const event = fc.record(
  {
    event_type: fc.oneof(text, scalar),
    user_id: fc.oneof(fc.constantFrom('ann@example.com', 'bob@', '@x', 'no-at'), scalar),
    device_id: fc.oneof(text, fc.constant(null)),
    insert_id: fc.oneof(text, number),
    time: fc.integer({ min: 0, max: 2_000_000_000_000 }),
    event_properties: fc.record(
      {
        revenue: fc.oneof(number, scalar),
        qty: fc.oneof(fc.integer({ min: -2, max: 20 }), scalar),
        currency: fc.oneof(fc.constantFrom('USD', 'EUR'), scalar),
        coupon_code: fc.oneof(fc.constantFrom('VIP', ''), scalar),
        items: fc.oneof(fc.array(item, { maxLength: 4 }), item, scalar),
        tags: fc.oneof(fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }), anything),
        meta: fc.record({ source: fc.oneof(fc.record({ name: text }, { requiredKeys: [] }), anything) }, { requiredKeys: [] }),
        extra: anything,
      },
      { requiredKeys: [] },
    ),
    user_properties: fc.record(
      {
        plan: fc.oneof(fc.constantFrom('pro', 'free', 'team'), scalar),
        unique_id: fc.oneof(fc.integer({ min: 0, max: 100000 }), text, number, scalar),
        email: text,
      },
      { requiredKeys: [] },
    ),
    groups: fc.record({ company: fc.oneof(text, fc.array(text, { maxLength: 2 })) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

interface Compiled {
  expr: string;
  reference: jsonata.Expression;
  fast: CompiledJs;
}

function compileAll(): Compiled[] {
  return EXPRESSIONS.map((expr) => {
    const reference = jsonata(expr);
    const fast = compileToJs(reference.ast());
    if (fast === undefined) throw new Error(`fast path refused ${expr}`);
    return { expr, reference, fast };
  });
}

function describeOutcome(outcome: Outcome): unknown {
  return outcome.ok ? { value: outcome.value } : { code: outcome.code };
}

async function assertSame(compiled: Compiled, input: unknown): Promise<void> {
  const expected = await outcomeOfAsync(() => compiled.reference.evaluate(clone(input)));
  const actual = outcomeOf(() => compiled.fast(clone(input)));
  expect({ expr: compiled.expr, ...(describeOutcome(actual) as object) }).toEqual({
    expr: compiled.expr,
    ...(describeOutcome(expected) as object),
  });
}

/** What `run` throws (an empty object when it throws nothing). */
function thrownBy(run: () => unknown): Record<string, unknown> {
  try {
    run();
  } catch (e) {
    return e as Record<string, unknown>;
  }
  return {};
}

describe('fast path: differential against jsonata', () => {
  const compiled = compileAll();

  it('compiles every expression of the table (at least 60)', () => {
    expect(compiled.length).toBeGreaterThanOrEqual(60);
  });

  it('gives jsonata’s result or error code for generated events', async () => {
    await fc.assert(
      fc.asyncProperty(event, async (input) => {
        for (const c of compiled) await assertSame(c, input);
      }),
      { numRuns: 150 },
    );
  });

  it('agrees on fixed edge-case inputs (arrays, scalars, nothing)', async () => {
    const inputs: unknown[] = [
      undefined,
      null,
      'Order Completed',
      42,
      [],
      [{ event_type: 'A b' }, { event_type: 'C d' }],
      { event_properties: { items: [[{ sku: 'A-1' }], { sku: ['B-2', 'C-3'] }] } },
      { event_properties: { revenue: 1e308 * 10 === Infinity ? 1e308 : 0, qty: 1e308 } },
      { event_type: 'x', user_properties: { plan: 'pro', unique_id: 1.1 + 2.2 }, event_properties: { revenue: 0.1 + 0.2 } },
    ];
    for (const input of inputs) {
      for (const c of compiled) await assertSame(c, input);
    }
  });

  it('reports errors with jsonata’s code, message, position and token', async () => {
    const expr = '"a" + 1';
    const reference = jsonata(expr);
    const fast = compileToJs(reference.ast()) as CompiledJs;
    const expected = (await reference.evaluate({}).catch((e: unknown) => e)) as Record<string, unknown>;
    const actual = thrownBy(() => fast({}));
    expect(actual.code).toBe('T2001');
    expect({ code: actual.code, message: actual.message, position: actual.position, token: actual.token }).toEqual({
      code: expected.code,
      message: expected.message,
      position: expected.position,
      token: expected.token,
    });
  });

  it('reports errors of directly called built-ins with jsonata’s code, message, position and token', async () => {
    const cases: Array<[string, unknown]> = [
      ['$number(event_properties.item_count)', { event_properties: { item_count: '2 items' } }],
      ['$replace(event_type, "", "_")', { event_type: 'Sign Up' }],
      ['$replace(event_type, " ", "_", -1)', { event_type: 'Sign Up' }],
      ['$lowercase(event_properties)', { event_properties: { a: 1 } }],
      ['"x" & $string(1/0)', {}],
      ['event_properties.qty ~> $substring(1)', { event_properties: { qty: 3 } }],
      ['event_type ~> $replace("", "_")', { event_type: 'Sign Up' }],
      ['($string := event_type; $string(1))', { event_type: 'Sign Up' }],
      ['$replace(event_type, /x*/, "-")', { event_type: 'Sign Up' }],
      ['$split(event_type, /b*/)', { event_type: 'abc' }],
      ['$match(event_type, /a/, -1)', { event_type: 'Sign Up' }],
      ['$error("bad " & event_type)', { event_type: 'Sign Up' }],
      ['$error()', {}],
      ['$assert(event_type = "x", "wrong type: " & event_type)', { event_type: 'Sign Up' }],
      ['$power(10, event_properties.qty)', { event_properties: { qty: 400 } }],
      ['$sqrt(event_properties.revenue)', { event_properties: { revenue: -4 } }],
      ['$formatBase(event_properties.qty, 40)', { event_properties: { qty: 5 } }],
      ['$decodeUrlComponent(event_type)', { event_type: '%E0%A4%A' }],
      ['$encodeUrl(event_type)', { event_type: '\uD800' }],
      ['$map(event_properties.items, function($v) { $v.price + 1 })', { event_properties: { items: [{ price: 'x' }] } }],
      ['$map(event_properties.items, function($v) { $uppercase($v.price) })', { event_properties: { items: [{ price: 1 }] } }],
      ['$map(event_properties.items, function($v) { $uppercase() })', { event_properties: { items: [{ price: 1 }] } }],
      ['$map(event_properties.items, function($v) { $filter($v, function($w) { $w.price + 1 }) })', { event_properties: { items: [{ price: 'x' }] } }],
      ['$reduce(event_properties.items, function($a) { $a })', { event_properties: { items: [1, 2] } }],
      ['$single(event_properties.items, function($v) { $v > 0 })', { event_properties: { items: [1, 2] } }],
      ['$single(event_properties.items, function($v) { $v > 5 })', { event_properties: { items: [1, 2] } }],
      ['$sift(event_type, function($v) { $v })', { event_type: 'Sign Up' }],
      ['$sort(event_properties.items)', { event_properties: { items: [1, 'a'] } }],
      ['$fromMillis(time, "[Y0001]-[M01")', { time: 0 }],
      ['$fromMillis(time, "[Q]")', { time: 0 }],
      ['$formatInteger(event_properties.qty, "①")', { event_properties: { qty: 3 } }],
      ['event_properties.items^(price).sku', { event_properties: { items: [{ price: 1 }, { price: 'x' }] } }],
      ['($f := function($x) { $x + "a" }; $f(event_properties.qty))', { event_properties: { qty: 1 } }],
      ['($f := function($x) { $x + "a" }; $g := function() { $f(1) }; $g())', {}],
      ['($h := function() { 1 + "a" }; $f := function() { $h() }; $g := function() { $f() + 1 }; $g())', {}],
      ['($h := function() { $uppercase(1) }; $g := function() { $h() }; $map([1], function($v) { $g() }))', {}],
      ['($g := function() { $f() + 1 }; $x := $g(); $f := function() { 1 }; $x)', {}],
      ['($x := $map(event_properties.items, $f); $f := function($v) { $v }; $x)', { event_properties: { items: [1] } }],
      ['($x := $sort(event_properties.items, $f); $f := function($l, $r) { $l > $r }; $x)', { event_properties: { items: [1] } }],
      ['event_properties.items^(>price).sku', { event_properties: { items: [{ price: 1 }, { price: [2] }] } }],
      ['$sort(event_properties.items, function($l, $r) { $l.price > $r.price + 1 })', { event_properties: { items: [{ price: 1 }, { price: 'x' }] } }],
    ];
    for (const [expr, input] of cases) {
      const reference = jsonata(expr);
      const fast = compileToJs(reference.ast()) as CompiledJs;
      expect(fast, expr).toBeDefined();
      const expected = (await reference.evaluate(clone(input)).catch((e: unknown) => e)) as Record<string, unknown>;
      const actual = thrownBy(() => fast(clone(input)));
      const fields = (e: Record<string, unknown>) => ({ code: e.code, message: e.message, position: e.position, token: e.token });
      expect(typeof expected.code, expr).toBe('string');
      expect({ expr, ...fields(actual) }).toEqual({ expr, ...fields(expected) });
    }
  });

  it('fails a tail call of a function not bound yet as jsonata does (a TypeError from its trampoline)', async () => {
    const expr = '($g := function() { $f() }; $x := $g(); $f := function() { 1 }; $x)';
    const reference = jsonata(expr);
    const fast = compileToJs(reference.ast()) as CompiledJs;
    expect(fast).toBeDefined();
    const expected = (await reference.evaluate({}).catch((e: unknown) => e)) as Record<string, unknown>;
    const actual = thrownBy(() => fast({}));
    const fields = (e: Record<string, unknown>) => ({ name: e.name, message: e.message, position: e.position, token: e.token });
    expect(expected.name).toBe('TypeError');
    expect(fields(actual)).toEqual(fields(expected));
  });

  it('gives jsonata’s results and errors (code, message, position, token) for generated programs of functions', async () => {
    // Functions $f0…$f4, each body built from one template over the function before it (no
    // recursion), called in one of several ways: tail and non-tail calls, conditions and blocks
    // around them, lambdas and function references given to higher-order built-ins, a function
    // called in its own argument. The leaves fail in several ways or return sequences, so where
    // an error is raised, which calls it leaves, and how results are unwrapped are exercised.
    // A local helper is named for its level ($q1, $q2…): the recursion check goes by name, so the
    // same name bound in two functions reads as a possible cycle and the program falls back.
    const leaf = fc.constantFrom(
      '$x + "a"', '$uppercase($x)', '$x', '$string($x)', '$x * 2', '$substring($x, 1)', '$string()', '$append($x, [])',
      '$filter([$x], function($w) { false })', '[$x]', '$keys({"a": $x})', '$sort([$x, $x])', '$count($x)', '$x.a',
      '$exists($x) ? [$x, $x] : $x', '$lookup({"a": [1, 2]}, "a")', '$number($x)', '$each({"a": $x}, function($v, $k) { $v })',
      '$sift({"a": $x, "b": 0}, function($v) { $v })',
    );
    const body = (k: number) => {
      const f = `$f${k - 1}`;
      return k === 0
        ? leaf
        : fc.oneof(
            leaf,
            fc.constantFrom(
              `${f}($x)`, `${f}($x) & ""`, `($y := $x; ${f}($y))`, `$map([$x], function($v) { ${f}($v) })`, `$map([$x], ${f})`,
              `$filter([$x, 1], ${f})`, `$sort([$x, 2, 1], function($l, $r) { ${f}($l) > 0 })`, `$uppercase(${f}($x))`,
              `$string(${f}($x))`, `[${f}($x)]`, `($z := ${f}($x); $z)`, `$reduce([$x, $x], function($a, $b) { ${f}($b) })`,
              `${f}($x)[0]`, `{ "o": ${f}($x) }`, `$x ~> ${f}()`, `${f}(${f}($x))`, `$each({"a": $x}, function($v) { ${f}($v) })`,
              `$single([$x], function($v) { ${f}($v) })`, `($q${k} := function($u) { ${f}($u) }; $q${k}($x))`, `$x ~> ${f}`,
              `$string($x ~> ${f})`,
            ),
            leaf.map((l) => `$x > 0 ? ${f}($x) : ${l}`),
            leaf.map((l) => `$x > 0 ? ${l} : ${f}($x)`),
            leaf.map((l) => `(${l}; ${f}($x))`),
          );
    };
    const program = fc.integer({ min: 1, max: 5 }).chain((n) =>
      fc.tuple(
        fc.tuple(...Array.from({ length: n }, (_, k) => body(k))),
        fc.constantFrom(
          'FN(ARG)', '$map([ARG], FN)', '[ARG] ~> $map(function($v) { FN($v) })', '{ "k": FN(ARG) }', 'FN(ARG) & "!"',
          '$count($filter([ARG], FN))', '($r := FN(ARG); $r)', 'ARG ~> FN()', '$map([ARG, ARG], FN)', 'FN(ARG)[1]', '$sort($map([ARG, 2], FN))',
          'ARG ~> FN', '($r := ARG ~> FN; $r)',
        ),
        fc.constantFrom('1', '-1', '"s"', '[1, 2]', '{"a": 1}', 'a', 'nothing', '[]'),
      ).map(([bodies, call, arg]) => {
        const defs = bodies.map((b, k) => `$f${k} := function($x) { ${b} }`).join('; ');
        return `(${defs}; ${call.replaceAll('FN', `$f${bodies.length - 1}`).replaceAll('ARG', arg)})`;
      }),
    );
    const fields = (o: Outcome) =>
      o.ok
        ? { value: o.value }
        : (({ code, message, position, token, name }: Record<string, unknown>) => ({ code, message, position, token, name: code === undefined ? name : undefined }))(o.error as Record<string, unknown>);
    await fc.assert(
      fc.asyncProperty(program, async (expr) => {
        const reference = jsonata(expr);
        const fast = compileToJs(reference.ast());
        expect(fast, expr).toBeDefined();
        const expected = await outcomeOfAsync(() => reference.evaluate({ a: 1 }));
        const actual = outcomeOf(() => fast!({ a: 1 }));
        expect({ expr, ...fields(actual) }).toEqual({ expr, ...fields(expected) });
      }),
      { numRuns: Number(process.env.FAST_CHECK_RUNS ?? 300) },
    );
  });

  it('formats numbers from a kept picture analysis as jsonata does, whatever options come with the same picture', async () => {
    const reference = jsonata('$formatNumber($v, $p, $o)');
    const fast = compileToJs(reference.ast()) as CompiledJs;
    const calls: Array<[number, string, unknown]> = [
      [1234.5, '#,##0.00', undefined],
      [1234.5, '#,##0.00', { 'decimal-separator': ',', 'grouping-separator': '.' }],
      [1234.5, '#,##0.00', { 'zero-digit': '٠' }],
      [-1234.5, '#,##0.00', undefined],
      [1234.5, '#,##0.00;(#)', undefined],
      [1, '#;#;#', undefined],
      [1, '#;#;#', undefined],
      [1234.5, '#,##0.00', { 'decimal-separator': ',', 'grouping-separator': '.' }],
      [1234.5, '#,##0.00', { 'zero-digit': 5 }],
      [1234.5, '#,##0.00', undefined],
    ];
    for (const [v, p, o] of calls) {
      const expected = await outcomeOfAsync(() => reference.evaluate({}, { v, p, o }));
      const actual = outcomeOf(() => fast({}, { v, p, o }));
      expect({ v, p, o, ...(describeOutcome(actual) as object) }).toEqual({ v, p, o, ...(describeOutcome(expected) as object) });
    }
  });

  it('passes bindings through as $variables', async () => {
    const reference = jsonata('$prefix & event_type');
    const fast = compileToJs(reference.ast()) as CompiledJs;
    const input = { event_type: 'Sign Up' };
    expect(fast(input, { prefix: 'amp:' })).toBe(await reference.evaluate(input, { prefix: 'amp:' }));
    expect(fast(input)).toBe('Sign Up');
  });

  it('writes and reads ISO 8601 time stamps as jsonata does, inside and outside the years 0–9999', async () => {
    const from = jsonata('$fromMillis($v)');
    const to = jsonata('$toMillis($s)');
    const fastFrom = compileToJs(from.ast()) as CompiledJs;
    const fastTo = compileToJs(to.ast()) as CompiledJs;
    const millis = fc.oneof(
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      fc.double({ min: -1e16, max: 1e16, noNaN: true }),
      fc.constantFrom(0, -1, 253402300799999, 253402300800000, -62167219200001, 8.64e15 + 1, 1e20),
    );
    const stamp = fc.oneof(
      millis.filter((v) => Math.abs(v) <= 8.64e15).map((v) => new Date(v).toISOString()),
      fc.stringMatching(/^\d{4}(-[01]\d)?(-[0-3]\d)?(T[0-2]\d:[0-5]\d:[0-5]\d)?(\.\d{1,4})?([+-][0-2]\d:?[0-5]\d|Z)?$/),
      fc.string({ maxLength: 12 }),
    );
    await fc.assert(
      fc.asyncProperty(millis, stamp, async (v, s) => {
        expect({ v, ...(describeOutcome(outcomeOf(() => fastFrom({}, { v }))) as object) }).toEqual({
          v,
          ...(describeOutcome(await outcomeOfAsync(() => from.evaluate({}, { v }))) as object),
        });
        expect({ s, ...(describeOutcome(outcomeOf(() => fastTo({}, { s }))) as object) }).toEqual({
          s,
          ...(describeOutcome(await outcomeOfAsync(() => to.evaluate({}, { s }))) as object),
        });
      }),
      { numRuns: 400 },
    );
  });

  it('formats numbers with pictures as jsonata does, errors and locale options included', async () => {
    const reference = jsonata('$formatNumber($v, $p, $o)');
    const fast = compileToJs(reference.ast()) as CompiledJs;
    const number = fc.oneof(
      fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }),
      fc.integer({ min: -1e6, max: 1e6 }),
      fc.constantFrom(0, -0, 0.5, 1.5, 2.5, 1e21, 1e-7, 123456789.987654321),
    );
    const picture = fc.constantFrom(
      '#,##0.00', '000', '#0.0#', '#,##0.00;(#,##0.00)', '0.0e0', '00.000e00', '#%', '#‰', '#,###,##0', '0.##########',
      '9,999.99', '#0,,0', '0.0.0', '#;#;#', '##0#', '%%0', '0e', 'abc', '',
    );
    const options = fc.oneof(fc.constant(undefined), fc.constant({ 'decimal-separator': ',', 'grouping-separator': '.' }), fc.constant({ 'zero-digit': '٠' }));
    await fc.assert(
      fc.asyncProperty(number, picture, options, async (v, p, o) => {
        const bindings = { v, p, o };
        expect({ v, p, o, ...(describeOutcome(outcomeOf(() => fast({}, bindings))) as object) }).toEqual({
          v,
          p,
          o,
          ...(describeOutcome(await outcomeOfAsync(() => reference.evaluate({}, bindings))) as object),
        });
      }),
      { numRuns: 500 },
    );
  });

  it('reads the clock once per evaluation for $now() and $millis(), as jsonata does', async () => {
    // Both read the same instant however often they are called within one evaluation.
    // A $toMillis picture without a date takes it from the same instant.
    for (const expr of [
      '$now() = $now()',
      '$millis() = $millis()',
      '$fromMillis($millis()) = $now()',
      '$toMillis($now()) = $millis()',
      '$fromMillis($toMillis("10:30", "[H01]:[m01]"), "[Y0001]-[M01]-[D01]") = $substring($now(), 0, 10)',
    ]) {
      const fast = compileToJs(jsonata(expr).ast()) as CompiledJs;
      expect(fast, expr).toBeDefined();
      expect(fast({}), expr).toBe(await jsonata(expr).evaluate({}));
      expect(fast({}), expr).toBe(true);
    }
    const millis = compileToJs(jsonata('$millis()').ast()) as CompiledJs;
    const now = compileToJs(jsonata('$now()').ast()) as CompiledJs;
    const before = Date.now();
    const first = millis({}) as number;
    const stamp = now({}) as string;
    const after = Date.now();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(after);
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(before);
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // Each evaluation reads the clock afresh.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(millis({}) as number).toBeGreaterThan(first);
  });

  it('binds `:=` in the evaluation, never in the caller’s bindings, and forgets it by the next call', async () => {
    for (const expr of ['($prefix := "x:"; $prefix & event_type)', '$prefix := event_type', '[$prefix, ($prefix := "y"), $prefix]']) {
      const reference = jsonata(expr);
      const fast = compileToJs(reference.ast()) as CompiledJs;
      expect(fast, expr).toBeDefined();
      const input = { event_type: 'Sign Up' };
      const bindings = { prefix: 'amp:' };
      const expected = await reference.evaluate(input, { prefix: 'amp:' });
      expect(fast(input, bindings)).toEqual(expected);
      expect(bindings).toEqual({ prefix: 'amp:' });
      // Again: nothing bound by the first call is left over.
      expect(fast(input, bindings)).toEqual(expected);
      expect(fast(input)).toEqual(await reference.evaluate(input));
    }
  });

  it('reads fields with any name, as jsonata does (one- and two-step paths are generated code)', async () => {
    // Names that would break generated code if they were spliced in unquoted or badly escaped.
    // (JSONata's backtick names cannot hold a backtick.)
    const names = ['a"b', "it's", 'back\\slash', 'new\nline', 'line\u2028sep', '${x}', '__proto__', 'constructor', 'toString', 'é ü'];
    for (const name of names) {
      const quoted = '`' + name + '`';
      const input = JSON.parse(JSON.stringify({ [name]: { [name]: 'deep' }, plain: { [name]: 7 } })) as unknown;
      for (const expr of [quoted, `${quoted}.${quoted}`, `plain.${quoted}`, `missing.${quoted}`]) {
        const reference = jsonata(expr);
        const fast = compileToJs(reference.ast());
        expect(fast, expr).toBeDefined();
        await assertSame({ expr, reference, fast: fast! }, input);
        await assertSame({ expr, reference, fast: fast! }, {});
        await assertSame({ expr, reference, fast: fast! }, [input, input]);
      }
    }
    // Each of those names gets generated code (not the closure fallback, which would hide a quoting bug).
    const notUsed = () => {
      throw new Error('fallback');
    };
    for (const name of names) {
      const one = specializedPathReader([name], notUsed);
      const two = specializedPathReader(['plain', name], notUsed);
      expect(one, name).toBeTypeOf('function');
      expect(one!({ [name]: 1 } as never, { root: undefined, bindings: undefined } as never), name).toBe(1);
      expect(two!({ plain: { [name]: 2 } } as never, { root: undefined, bindings: undefined } as never), name).toBe(2);
    }
    // The value itself, not a copy or a prototype's: a generated reader must not see inherited names.
    const proto = compileToJs(jsonata('`toString`').ast()) as CompiledJs;
    expect(proto({})).toBeUndefined();
    expect(proto({ toString: 'own' })).toBe('own');
  });

  it('treats objects carrying jsonata’s function markers as jsonata does, own or inherited, on every path length', async () => {
    // jsonata's lookup skips an object that `isFunction` calls a function (`_jsonata_function` or
    // `_jsonata_lambda` true); the one- and two-step readers write that test out inline.
    const exprs = ['a', 'a.b', 'a.b.c', 'x.a', 'x.a.b'];
    const marked = [
      { _jsonata_function: true },
      { _jsonata_lambda: true },
      { _jsonata_function: false },
      { _jsonata_lambda: 'true' },
    ];
    for (const marker of marked) {
      const leaf = { c: 3, ...marker };
      const mid = { b: leaf, ...marker };
      const json = [{ a: mid, ...marker }, { a: mid }, { a: { b: leaf } }, { x: { a: mid, ...marker } }, { x: { a: { b: 1 } }, ...marker }];
      for (const expr of exprs) {
        const reference = jsonata(expr);
        const fast = compileToJs(reference.ast())!;
        for (const input of json) await assertSame({ expr, reference, fast }, input);
        // Inherited markers do not survive the JSON clone of assertSame: compared without it.
        const inherited = Object.create(marker) as Record<string, unknown>;
        inherited.a = { b: { c: 3 } };
        const nested = { a: Object.assign(Object.create(marker) as object, { b: { c: 3 } }) };
        for (const input of [inherited, nested]) {
          const expected = await outcomeOfAsync(() => reference.evaluate(input));
          const actual = outcomeOf(() => fast(input));
          expect({ expr, marker, ...(describeOutcome(actual) as object) }).toEqual({ expr, marker, ...(describeOutcome(expected) as object) });
        }
      }
    }
  });

  it('builds objects without touching Object.prototype for "__proto__" keys', () => {
    const fast = compileToJs(jsonata('{ k: v }').ast()) as CompiledJs;
    const result = fast(JSON.parse('{"k":"__proto__","v":{"polluted":true}}')) as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(result, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('fast path: constructs outside the subset fall back', () => {
  const OUTSIDE = [
    'function($x) { $x * 2 }',
    '$map(items, $uppercase)',
    '$map(items, function($v)<n:n> { $v })',
    '$map(items, function($v) { function($w) { $w } })',
    '$map(items, function($v) { $f($v) })',
    '$map(items, function($v) { $now() })',
    '$map(items, function($v) { ($uppercase($v))[0] })',
    '$map(items)',
    '($f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(5))',
    '($even := function($n) { $n = 0 ? true : $odd($n - 1) }; $odd := function($n) { $n = 0 ? false : $even($n - 1) }; $even(4))',
    '($f := function($x) { $x }; $f)',
    '($f := function($x) { $x }; $g := function($h) { $h(1) }; $g($f))',
    '($f := function($x) { $map($x, $f) }; $f(items))',
    '($f := function($x) { $x }; $g := $f; $g(1))',
    '($f := function($x) { $x }; $g := function($x) { $x }; ($f ~> $g)(1))',
    '($f := function($x) { $x }; $f := 1; $f)',
    '($string := function($x) { $x }; $string(1))',
    '($f := function($x) { $x })',
    'function($x) { $x }(1)',
    '$sift(function($v) { $v })',
    '$sort(items, $f)',
    '/ord/i',
    '$uppercase(/a/)',
    '$join(event_properties.tags, /,/)',
    '$eval("1 + 1")',
    'event_type ~> $uppercase',
    'event_type ~> $uppercase()[0]',
    'event_type ~> $f()',
    'event_type ~> function($s) { $s }',
    'items@$i^(price).sku',
    'Account.Order.Product.%.OrderID',
    '{ "k": $x := event_type }',
    'items{ sku: $x := price }',
    '($$ := 1; $$)',
    '[1..5]',
    '$now("[Y0001]")',
    '$millis(1)',
    'event_type ~> $now()',
    '$string',
    'items@$i.sku',
    'items#$i.sku',
    '$ ~> | items | { "seen": true } |',
    '$lowercase ~> $uppercase',
    '$f(1)',
    '$substring(?, 1)',
  ];
  for (const expr of OUTSIDE) {
    it(`refuses ${expr}`, () => {
      expect(compileToJs(jsonata(expr).ast())).toBeUndefined();
    });
  }

  it('refuses values that are not JSONata ASTs', () => {
    expect(compileToJs(undefined)).toBeUndefined();
    expect(compileToJs({ type: 'mystery' })).toBeUndefined();
    expect(compileToJs({ type: 'path', steps: [{ type: 'name', value: 'a', tuple: true }] })).toBeUndefined();
  });
});
