/**
 * The events a plan runs: recorded samples, `--events` files and the `tests:` events of both
 * sides, each tagged with the project it is run for and where it came from.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PlanEventsError } from './errors.js';

/** One raw event read from a file, with its 1-based line (JSON lines) or 0-based index (array). */
export interface RawFileEvent {
  raw: Record<string, unknown>;
  /** `file:line` for JSON lines, `file[index]` for a JSON array; the file relative to `relativeTo`. */
  origin: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Read Amplitude events from a file: JSON lines, or one JSON array (the same rule as
 * `transform`); `.gz` files are decompressed. Blank lines are skipped.
 * @throws PlanEventsError naming `file:line` for JSON that does not parse or is not an object.
 */
export async function readEventFile(file: string, relativeTo: string): Promise<RawFileEvent[]> {
  const label = path.relative(relativeTo, file) || file;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new PlanEventsError(`cannot read events file ${label}: ${(err as Error).message}`, { cause: err });
  }
  const text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8').replace(/^\uFEFF/, '');
  const events: RawFileEvent[] = [];
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new PlanEventsError(`${label}: not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    (parsed as unknown[]).forEach((raw, index) => {
      if (!isPlainObject(raw)) throw new PlanEventsError(`${label}[${index}]: an event must be a JSON object`);
      events.push({ raw, origin: `${label}[${index}]` });
    });
    return events;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new PlanEventsError(`${label}:${index + 1}: not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (!isPlainObject(raw)) throw new PlanEventsError(`${label}:${index + 1}: an event must be a JSON object`);
    events.push({ raw, origin: `${label}:${index + 1}` });
  });
  return events;
}

/** A project as far as sample assignment is concerned. */
export interface ProjectRef {
  key: string;
  amplitudeProjectId?: number;
}

/**
 * Which projects a recorded event is run for. Amplitude events do not name their project, so:
 * 1. an Export-shape event's `app` (Amplitude's project id) matching a project's
 *    `amplitude_project_id` → that project;
 * 2. else a file or folder name on the event file's path equal to a project key
 *    (`samples/web-prod.jsonl`, `samples/web-prod/2024-11.jsonl`) → that project (deepest wins);
 * 3. else every project (the plan then shows what each project's traffic would do).
 */
export function projectsForEvent(raw: Record<string, unknown>, relFile: string, projects: ProjectRef[]): string[] {
  const app = raw.app;
  if (typeof app === 'number' || typeof app === 'string') {
    const byId = projects.find((p) => p.amplitudeProjectId !== undefined && String(p.amplitudeProjectId) === String(app));
    if (byId) return [byId.key];
  }
  const segments = relFile.split(/[\\/]/).filter(Boolean);
  if (segments.length > 0) {
    segments[segments.length - 1] = segments[segments.length - 1].replace(/(\.(jsonl?|ndjson|gz))+$/i, '');
  }
  for (let i = segments.length - 1; i >= 0; i--) {
    const byName = projects.find((p) => p.key === segments[i]);
    if (byName) return [byName.key];
  }
  return projects.map((p) => p.key);
}
