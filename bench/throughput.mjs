/**
 * Part 1: in-process transform throughput of the example config's destinations over the
 * recorded samples, for four implementations of the same destinations:
 *   compiled   — compileDestination as shipped (fast path where H3's compiler takes the expression)
 *   jsonata    — compileDestination({ fastPath: false }): every expression on the jsonata evaluator
 *   hand-written — bench/handwritten.mjs
 *   mapping-kit  — Segment's mapping-kit transform + the selection logic in JS (bench/mapping-kit.mjs)
 * Every variant is first checked to give the transformer's exact outcomes on every sample.
 */
import { compileDestination } from '../dist/compile/transformer.js';
import { compileExpression } from '../dist/compile/expression.js';
import { VERSION } from '../dist/version.js';
import { createHandwrittenTransformers } from './handwritten.mjs';
import { createMappingKitTransformers } from './mapping-kit.mjs';
import { assertNoMismatch, compareOutcomes } from './equivalence.mjs';
import { loadSamples, sortedDestinations } from './samples.mjs';

/** Every JSONata expression of a destination with its field label (defaults included). */
export function destinationExpressions(definition) {
  const out = [];
  definition.events.forEach((row, i) => {
    if (row.where !== undefined) out.push([`events[${i}].where`, row.where]);
  });
  out.push(['identity.email', definition.identity?.email ?? 'user_id']);
  if (definition.identity?.partner_user_id !== undefined) out.push(['identity.partner_user_id', definition.identity.partner_user_id]);
  const mapping = definition.mapping ?? {};
  if (mapping.event_name !== undefined) out.push(['mapping.event_name', mapping.event_name]);
  if (mapping.event_time !== undefined) out.push(['mapping.event_time', mapping.event_time]);
  for (const key of Object.keys(mapping.data ?? {})) out.push([`mapping.data.${key}`, mapping.data[key]]);
  return out;
}

/** Which path each expression takes today: 'fast' (compiled to JS) or 'jsonata'. */
export function expressionPaths(config) {
  return sortedDestinations(config).map((d) => ({
    destination: d.name,
    expressions: destinationExpressions(d.definition).map(([label, source]) => ({
      label,
      source,
      path: compileExpression(source).sync ? 'fast' : 'jsonata',
    })),
  }));
}

/**
 * Evaluate every sample × transformer, cycled until `evaluations` pairs are done.
 * A sync outcome is used as is; a Promise is awaited (the jsonata path), as the CLI and server do.
 * @returns seconds taken
 */
async function timeRun(transformers, samples, evaluations) {
  const perRound = samples.length * transformers.length;
  const rounds = Math.max(1, Math.round(evaluations / perRound));
  let sink = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      for (let d = 0; d < transformers.length; d++) {
        let outcome = transformers[d].transform(s.event, s.project);
        if (outcome instanceof Promise) outcome = await outcome;
        sink += outcome.outcome === 'send' ? outcome.bodyJson.length : 1;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  if (sink === 0) throw new Error('nothing was transformed');
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, evaluations: rounds * perRound, events: rounds * samples.length };
}

/**
 * The headline ratio, measured for steadiness on a shared machine: many short runs of the two
 * variants in alternating order, CPU time of this process (user + system, so time the scheduler
 * gives to other processes does not count; GC threads do), the median of the per-pair ratios.
 */
async function pairedCpuRatio(numerator, denominator, samples, evaluations, pairs) {
  const ratios = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? [numerator, denominator] : [denominator, numerator];
    const [first, second] = [await timeRun(order[0], samples, evaluations), await timeRun(order[1], samples, evaluations)];
    const [n, d] = i % 2 === 0 ? [first, second] : [second, first];
    ratios.push(n.cpuSeconds / d.cpuSeconds);
  }
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), pairs };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * @param config the loaded example config
 * @param opts `{ evaluations, repeats, log }`
 */
export async function runThroughput(config, { evaluations = 200_000, repeats = 3, log = () => {} } = {}) {
  const samples = loadSamples(config);
  const destinations = sortedDestinations(config);
  const compiled = destinations.map((d) => compileDestination(d));
  const variants = [
    { key: 'compiled', label: 'compiled transformer (as shipped)', transformers: compiled },
    { key: 'jsonata', label: 'compiled, forced onto jsonata', transformers: destinations.map((d) => compileDestination(d, { fastPath: false })) },
    { key: 'handwritten', label: 'hand-written JavaScript', transformers: createHandwrittenTransformers({ version: VERSION }) },
    { key: 'mappingKit', label: "Segment mapping-kit + JS selection", transformers: createMappingKitTransformers({ version: VERSION }) },
  ];
  for (const v of variants.slice(1)) {
    assertNoMismatch(v.label, await compareOutcomes(samples, compiled, v.transformers));
  }
  log(`  outcomes equal on all ${samples.length} samples × ${destinations.length} destinations for every variant`);

  // Warm up (JIT), then interleave the variants so drift in machine load hits all of them alike.
  for (const v of variants) await timeRun(v.transformers, samples, Math.min(evaluations, 50_000));
  const times = Object.fromEntries(variants.map((v) => [v.key, []]));
  let shape;
  for (let r = 0; r < repeats; r++) {
    for (const v of variants) {
      const run = await timeRun(v.transformers, samples, evaluations);
      times[v.key].push(run.seconds);
      shape = run;
    }
  }
  const pairedHandwritten = await pairedCpuRatio(
    variants[0].transformers,
    variants[2].transformers,
    samples,
    Math.max(20_000, Math.round(evaluations / 2)),
    repeats >= 3 ? 31 : 11,
  );
  // Per destination (one repeat, fewer evaluations): shows where the time goes, e.g. a
  // destination left on jsonata because the fast path does not take one of its expressions yet.
  const perDestination = [];
  for (let d = 0; d < destinations.length; d++) {
    const row = { destination: destinations[d].name, sync: compiled[d].sync };
    for (const v of variants) {
      const run = await timeRun([v.transformers[d]], samples, Math.round(evaluations / 3));
      row[v.key] = run.evaluations / run.seconds;
    }
    perDestination.push(row);
  }

  const results = {};
  for (const v of variants) {
    const seconds = median(times[v.key]);
    results[v.key] = {
      label: v.label,
      seconds,
      evaluationsPerSecond: shape.evaluations / seconds,
      eventsPerSecond: shape.events / seconds,
      sync: v.transformers.map((t) => `${t.name}:${t.sync ? 'sync' : 'async'}`).join(' '),
    };
  }
  return {
    samples: samples.length,
    destinations: destinations.length,
    evaluations: shape.evaluations,
    events: shape.events,
    repeats,
    results,
    perDestination,
    pairedHandwritten,
    ratios: {
      compiledVsHandwritten: pairedHandwritten.median,
      compiledVsHandwrittenWall: results.compiled.seconds / results.handwritten.seconds,
      jsonataVsCompiled: results.jsonata.seconds / results.compiled.seconds,
      mappingKitVsCompiled: results.mappingKit.seconds / results.compiled.seconds,
    },
  };
}
