// Fast path vs jsonata: ops/s of `compileToJs(ast)(event)` and of `await jsonata(expr).evaluate(event)`
// for representative mapping expressions, side by side. Run after `npm run build`:
//   node bench/jsonata-fast.mjs [--ms 400]
// Each expression is checked to give the same result on both sides before it is timed.
import { isDeepStrictEqual } from 'node:util';
import jsonata from 'jsonata';
import { compileToJs } from '../dist/compile/fast/index.js';

const msIndex = process.argv.indexOf('--ms');
const budgetMs = msIndex > 0 ? Number(process.argv[msIndex + 1]) : 400;

const event = {
  event_type: 'Order Completed',
  user_id: 'ann@example.com',
  device_id: 'device-1',
  insert_id: 'o-1',
  time: 1732700000000,
  event_properties: {
    revenue: 42.5,
    currency: 'USD',
    coupon_code: 'VIP',
    items: [
      { sku: 'A-1', price: 10, qty: 2 },
      { sku: 'B-2', price: 22.5, qty: 1 },
    ],
  },
  user_properties: { plan: 'pro', unique_id: 1001 },
};

const EXPRESSIONS = [
  'user_properties.unique_id',
  '$lowercase($replace(event_type, " ", "_"))',
  'event_properties.revenue > 0 and user_properties.plan = "pro"',
  '$string(user_properties.unique_id)',
  'event_properties.items.sku',
  '{ "plan": user_properties.plan, "skus": $join(event_properties.items.sku, ","), "total": $sum(event_properties.items.(price * qty)) }',
];

/** JSON-like copy (sequence flags and null prototypes dropped) for the equality check. */
const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function timeSync(fn) {
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

async function timeAsync(fn) {
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 100; i++) await fn();
    ops += 100;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

const rows = [];
for (const expr of EXPRESSIONS) {
  const reference = jsonata(expr);
  const fast = compileToJs(reference.ast());
  if (fast === undefined) throw new Error(`fast path refused ${expr}`);
  const expected = await reference.evaluate(event);
  if (!isDeepStrictEqual(plain(fast(event)), plain(expected))) throw new Error(`results differ for ${expr}`);
  // warm up both sides before timing
  timeSync(() => fast(event));
  await timeAsync(() => reference.evaluate(event));
  const fastOps = timeSync(() => fast(event));
  const jsonataOps = await timeAsync(() => reference.evaluate(event));
  rows.push({ ratio: fastOps / jsonataOps, fastOps, jsonataOps, expr });
}

const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(`jsonata fast path vs jsonata ${'2.x'} (${budgetMs} ms per side, Node ${process.version})`);
console.log(`${'ratio'.padStart(8)} ${'fast ops/s'.padStart(12)} ${'jsonata ops/s'.padStart(14)}  expression`);
for (const row of rows) {
  console.log(`${(row.ratio.toFixed(1) + 'x').padStart(8)} ${fmt(row.fastOps)} ${fmt(row.jsonataOps).padStart(14)}  ${row.expr}`);
}
const geoMean = Math.exp(rows.reduce((sum, row) => sum + Math.log(row.ratio), 0) / rows.length);
console.log(`geometric mean speed-up: ${geoMean.toFixed(1)}x`);
