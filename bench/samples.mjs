/**
 * The benchmark's inputs: the repository's own config (extole.config.yaml + destinations/) and
 * its recorded samples (samples/*.jsonl), loaded through the built program (dist/).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/config/load.js';
import { normalizeEvent } from '../dist/events/normalize.js';

/** Repository root (bench/ sits in it). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Fixed "now" for events without a time, so every variant builds the same event_time. */
export const FIXED_NOW = 1_732_800_000_000;

/** Load the example config; throws when it does not validate (a benchmark of a broken config means nothing). */
export async function loadExampleConfig() {
  const config = await loadConfig({ cwd: REPO_ROOT, env: {} });
  if (!config.ok) {
    const errors = config.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
    throw new Error(`the example config does not validate: ${errors.join('; ')}`);
  }
  return config;
}

/** Sample files in a stable order. */
export function sampleFiles() {
  return ['samples/http-v2.jsonl', 'samples/export.jsonl'].map((f) => path.join(REPO_ROOT, f));
}

/** Raw sample events (as recorded), in file order. */
export function readRawSamples() {
  const raws = [];
  for (const file of sampleFiles()) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() !== '') raws.push(JSON.parse(line));
    }
  }
  return raws;
}

/**
 * Normalized samples with the project each comes from: an Export event's `app` is matched to a
 * project's `amplitude_project_id`; anything else comes from the first project (as `transform` does).
 */
export function loadSamples(config) {
  const byAppId = new Map();
  for (const p of config.root.projects) {
    if (p.amplitude_project_id !== undefined) byAppId.set(p.amplitude_project_id, p.key);
  }
  const firstProject = config.root.projects[0].key;
  return readRawSamples().map((raw) => ({
    raw,
    project: byAppId.get(raw.app) ?? firstProject,
    event: normalizeEvent(raw, { now: FIXED_NOW }),
  }));
}

/** Destinations sorted by name (the order `transform` prints them in). */
export function sortedDestinations(config) {
  return [...config.destinations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
