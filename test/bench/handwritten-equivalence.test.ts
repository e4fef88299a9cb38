/**
 * Keeps the benchmark honest: the hand-written JavaScript version of the example destinations
 * (bench/handwritten.mjs) and the Segment mapping-kit version (bench/mapping-kit.mjs) must give
 * exactly the compiled transformer's outcome — same drop reason and message, same request, same
 * body bytes and key order — for every recorded sample and every destination. If a destination
 * or a sample changes, this fails until the benchmark's versions are updated too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/model.js';
import { compileDestination } from '../../src/compile/transformer.js';
import type { Transformer } from '../../src/compile/types.js';
import type { AmplitudeEvent } from '../../src/generated/amplitude-event.js';
import { normalizeEvent } from '../../src/events/normalize.js';
import { VERSION } from '../../src/version.js';
import { createHandwrittenTransformers } from '../../bench/handwritten.mjs';
import { createMappingKitTransformers } from '../../bench/mapping-kit.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The same fixed "now" bench/samples.mjs uses, so events without a time agree. */
const FIXED_NOW = 1_732_800_000_000;

interface Sample {
  file: string;
  line: number;
  project: string;
  event: AmplitudeEvent;
}

let config: LoadedConfig;
let samples: Sample[];
let compiled: Transformer[];

beforeAll(async () => {
  config = await loadConfig({ cwd: repoRoot, env: {} });
  expect(config.ok, JSON.stringify(config.diagnostics.filter((d) => d.severity === 'error'))).toBe(true);
  const byAppId = new Map(config.root.projects.filter((p) => p.amplitude_project_id !== undefined).map((p) => [p.amplitude_project_id, p.key]));
  samples = [];
  for (const file of ['samples/http-v2.jsonl', 'samples/export.jsonl']) {
    readFileSync(path.join(repoRoot, file), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (text.trim() === '') return;
        const raw = JSON.parse(text) as Record<string, unknown>;
        samples.push({
          file,
          line: i + 1,
          project: byAppId.get(raw.app as number) ?? config.root.projects[0].key,
          event: normalizeEvent(raw, { now: FIXED_NOW }),
        });
      });
  }
  compiled = [...config.destinations]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((d) => compileDestination({ name: d.name, definition: d.definition }));
});

/** Every (sample, destination) pair whose outcome differs, as readable strings. */
async function differences(variant: Transformer[]): Promise<string[]> {
  expect(variant.map((t) => t.name)).toEqual(compiled.map((t) => t.name));
  const out: string[] = [];
  for (const s of samples) {
    for (let d = 0; d < compiled.length; d++) {
      const want = JSON.stringify(await compiled[d].transform(s.event, s.project));
      const got = JSON.stringify(await variant[d].transform(s.event, s.project));
      if (want !== got) out.push(`${s.file}:${s.line} → ${compiled[d].name}\n  transformer: ${want}\n  variant:     ${got}`);
    }
  }
  return out;
}

describe('benchmark variants equal the compiled transformer on every sample', () => {
  it('covers sends and several drop reasons (the comparison is not vacuous)', async () => {
    const kinds = new Set<string>();
    for (const s of samples) {
      for (const t of compiled) {
        const o = await t.transform(s.event, s.project);
        kinds.add(o.outcome === 'send' ? 'send' : o.reason);
      }
    }
    expect(samples.length).toBeGreaterThan(50);
    expect([...kinds].sort()).toEqual(
      expect.arrayContaining(['send', 'event_not_selected', 'no_identity', 'mapping_error', 'project_not_enabled', 'destination_disabled']),
    );
  });

  it('hand-written JavaScript (bench/handwritten.mjs)', async () => {
    expect(await differences(createHandwrittenTransformers({ version: VERSION }))).toEqual([]);
  });

  it('Segment mapping-kit + JavaScript (bench/mapping-kit.mjs)', async () => {
    expect(await differences(createMappingKitTransformers({ version: VERSION }))).toEqual([]);
  });
});
